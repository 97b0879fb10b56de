/**
 * The sentence a voice question is answered with: the model writes one or two spoken sentences
 * from the rows, and an answer quoting a number that is not in the rows is not trusted — a plain
 * sentence built from the rows themselves replaces it.
 */
import type { MeteredChat } from "../content/ai/metered-chat";

const ROWS_SHOWN = 20;
const MAX_ROWS_JSON = 6000;
export const ANSWER_MAX_TOKENS = 160;

export interface RowsResult {
  columns: { name: string }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
}

const SYSTEM = [
  "You answer a spoken question from the result of a database query, for a voice assistant to say aloud.",
  "Answer in one or two short sentences. Use only values that appear in the rows; never guess or add numbers.",
  "Read numbers, dates and money naturally (say 1,204 as twelve hundred and four only if that is how the row shows it; keep digits).",
  "If there are no rows, say that nothing matched. No markdown, no lists, no SQL.",
].join(" ");

/** The rows as JSON the model sees, cut to a size that keeps the prompt small. */
function rowsForPrompt(result: RowsResult): string {
  const json = JSON.stringify({ columns: result.columns, rows: result.rows.slice(0, ROWS_SHOWN), row_count: result.row_count, truncated: result.truncated });
  return json.length > MAX_ROWS_JSON ? `${json.slice(0, MAX_ROWS_JSON)}…` : json;
}

export function answerPromptTokens(question: string): number {
  return Math.ceil((SYSTEM.length + question.length + MAX_ROWS_JSON + 200) / 3);
}

/** The model's spoken answer, or the plain one when the model's quotes a number the rows do not hold. */
export async function spokenAnswer(llm: MeteredChat, question: string, sql: string, result: RowsResult): Promise<string> {
  const reply = await llm.chat({
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: `Question: ${question}\nSQL: ${sql}\nResult: ${rowsForPrompt(result)}` },
    ],
    max_tokens: ANSWER_MAX_TOKENS,
    temperature: 0,
  });
  const text = (reply.content ?? "").replace(/\s+/g, " ").trim();
  return text && numbersGrounded(text, result) ? text : plainAnswer(result);
}

function numericValue(text: string): number | null {
  const value = Number(text.replace(/[,\s]/g, ""));
  return Number.isFinite(value) ? value : null;
}

/** Every number in `text` is a value of the rows (or their count), allowing thousands separators and rounding to 2 places. */
export function numbersGrounded(text: string, result: RowsResult): boolean {
  const known = new Set<string>([String(result.row_count)]);
  const cells = result.rows.flat();
  for (const cell of cells) {
    for (const match of String(cell).match(/-?\d[\d,]*(?:\.\d+)?/g) ?? []) {
      const value = numericValue(match);
      if (value === null) continue;
      known.add(String(value));
      known.add(value.toFixed(2));
      known.add(String(Math.round(value)));
    }
  }
  for (const match of text.match(/-?\d[\d,]*(?:\.\d+)?/g) ?? []) {
    const value = numericValue(match);
    if (value === null) continue;
    if (!known.has(String(value)) && !known.has(value.toFixed(2))) return false;
  }
  return true;
}

/** A sentence from the rows alone: the count, and the first row's values by column. */
export function plainAnswer(result: RowsResult): string {
  if (result.row_count === 0) return "Nothing matched that question.";
  const values = result.rows[0] ?? [];
  const parts = result.columns.slice(0, 4).map((column, i) => `${column.name.replaceAll("_", " ")} ${String(values[i] ?? "none")}`);
  if (result.row_count === 1) return `The answer is ${parts.join(", ")}.`;
  return `I found ${result.row_count}${result.truncated ? " or more" : ""} rows; the first has ${parts.join(", ")}.`;
}
