import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { BadGateway } from "../../../lib/errors";
import type { MeteredChat } from "../../content/ai/metered-chat";

export type ChatMessage = ChatCompletionMessageParam;

export interface SqlDraft {
  sql: string;
  explanation: string;
}

/** The model answers through this tool, so the SQL arrives as a field rather than prose to dig out. */
const ANSWER_TOOL: ChatCompletionTool = {
  type: "function",
  function: {
    name: "answer_with_sql",
    description: "Answer the question with one read-only PostgreSQL query.",
    parameters: {
      type: "object",
      properties: {
        sql: { type: "string", description: "One PostgreSQL SELECT statement, no trailing semicolon" },
        explanation: { type: "string", description: "One or two sentences on what the query returns" },
      },
      required: ["sql", "explanation"],
    },
  },
};

export function systemPrompt(schema: string, extraRules: string[] = []): string {
  return [
    "You write PostgreSQL queries that answer questions about the database below.",
    "Rules: exactly one read-only SELECT (WITH ... SELECT is fine); never modify data; use only the tables and columns shown;",
    "qualify ambiguous columns; add ORDER BY when order matters and LIMIT when the question asks for a top N.",
    ...extraRules,
    "Always answer by calling answer_with_sql.",
    "",
    "Database schema:",
    schema,
  ].join("\n");
}

/** A SQL block in prose, for models that answer in text despite the tool. */
function sqlFromText(text: string): string | null {
  const fenced = /```(?:sql)?\s*([\s\S]*?)```/i.exec(text);
  if (fenced?.[1]?.trim()) return fenced[1].trim();
  return /^\s*(select|with|values|explain)\b/i.test(text) ? text.trim() : null;
}

/** Asks the model for SQL; a reply without any is a 502 (the provider did not do its job). */
export async function draftSql(llm: MeteredChat, messages: ChatMessage[]): Promise<SqlDraft> {
  const result = await llm.chat({
    messages,
    tools: [ANSWER_TOOL],
    tool_choice: { type: "function", function: { name: "answer_with_sql" } },
    temperature: 0,
  });
  const call = result.toolCalls.find((c) => c.name === "answer_with_sql");
  const sql = typeof call?.arguments?.sql === "string" ? call.arguments.sql : sqlFromText(result.content ?? "");
  if (!sql?.trim()) throw new BadGateway("The model did not answer with SQL");
  const explanation = typeof call?.arguments?.explanation === "string" ? call.arguments.explanation : "";
  return { sql: sql.trim().replace(/;\s*$/, ""), explanation };
}

/** About 3 characters a token, which overestimates English so the credit hold rarely falls short. */
export function estimateTokens(messages: ChatMessage[]): number {
  return Math.ceil(JSON.stringify(messages).length / 3);
}
