import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { type IntrospectedTable, queryExamples, queryRuns } from "../src/db/schema";
import { MAX_TABLES_IN_PROMPT, relevantTables } from "../src/modules/data/query/schema-context";
import { askDatabase } from "../src/modules/data/query/service";
import { getBalance } from "../src/modules/money/credits/ledger";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { expectProblem, fakeOpenAI, setCreditBalance, testCtx } from "./harness/helpers";

// The fake keys scripts and recorded requests by model: every test uses its own model name.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);
const readerUrl = inject("chinookReaderUrl");
const ownerUrl = inject("chinookOwnerUrl");

interface ChatResult {
  id: string;
  conversation_id: string;
  sql: string;
  executed: boolean;
  repaired: boolean;
  columns: { name: string }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  usage: { prompt_tokens: number; completion_tokens: number; credits: number };
}

const answer = (sql: string, explanation = "Does what was asked.") => ({ tool_calls: [{ name: "answer_with_sql", arguments: { sql, explanation } }] });

async function linkChinook(owner: SignedUp, url = readerUrl): Promise<string> {
  const linked = await expectJson<{ id: string }>(await call("/v1/databases", { token: owner.access_token, body: { name: "Chinook", url } }), 201);
  return linked.id;
}

function ask(owner: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/query/chat", { token: owner.access_token, orgId: owner.orgId, body });
}

/** The text of every message the fake model received in its `n`th request. */
async function sentToModel(model: string, n: number): Promise<string> {
  const requests = await fakeOpenAI.requests(model);
  return JSON.stringify(requests[n]?.body.messages ?? []);
}

describe("asking a linked database", () => {
  it("turns a question into SQL, runs it, records it, and charges credits once", async () => {
    const owner = await signUp("query-basic");
    const database_id = await linkChinook(owner);
    const model = `sql-basic-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT name FROM artist ORDER BY artist_id LIMIT 3", "The first three artists.")]);
    const before = await getBalance(testCtx(), owner.orgId);

    const result = await expectJson<ChatResult>(await ask(owner, { database_id, prompt: "Name the first three artists", model }), 200);
    expect(result).toMatchObject({ executed: true, repaired: false, row_count: 3, truncated: false, rows: [["AC/DC"], ["Accept"], ["Aerosmith"]] });
    expect(result.columns.map((c) => c.name)).toEqual(["name"]);
    expect(result.usage.credits).toBeGreaterThan(0);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - result.usage.credits);

    // The model saw the schema and the question, and answered through the tool.
    const sent = await sentToModel(model, 0);
    expect(sent).toContain("CREATE TABLE public.invoice_line");
    expect(sent).toContain("Name the first three artists");
    const history = await expectJson<{ data: { id: string; status: string; sql: string; row_count: number; user_id: string }[] }>(
      await call(`/v1/query/history?database_id=${database_id}`, { token: owner.access_token }),
      200,
    );
    expect(history.data).toEqual([expect.objectContaining({ id: result.id, status: "succeeded", row_count: 3, user_id: owner.user.id })]);
  });

  it("repairs a failing first SQL once with the database's error", async () => {
    const owner = await signUp("query-repair");
    const database_id = await linkChinook(owner);
    const model = `sql-repair-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT nme FROM artist LIMIT 1"), answer("SELECT name FROM artist ORDER BY artist_id LIMIT 1")]);
    const result = await expectJson<ChatResult>(await ask(owner, { database_id, prompt: "One artist", model }), 200);
    expect(result).toMatchObject({ repaired: true, sql: "SELECT name FROM artist ORDER BY artist_id LIMIT 1", rows: [["AC/DC"]] });
    expect(await sentToModel(model, 1)).toContain('column \\"nme\\" does not exist');
    expect(await fakeOpenAI.requests(model)).toHaveLength(2);
  });

  it("gives up after one repair with a 422 naming the database's error", async () => {
    const owner = await signUp("query-fail");
    const database_id = await linkChinook(owner);
    const model = `sql-fail-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT nme FROM artist"), answer("SELECT nam FROM artist")]);
    const problem = await expectProblem(await ask(owner, { database_id, prompt: "Artists", model }), 422);
    expect(problem.detail).toContain('column "nam" does not exist');
    const [run] = await testCtx().db.select().from(queryRuns).where(eq(queryRuns.orgId, owner.orgId));
    expect(run).toMatchObject({ status: "failed", sql: "SELECT nam FROM artist" });
  });

  it("refuses a model's DROP TABLE: nothing runs, the refusal says why, credits are charged once", async () => {
    const owner = await signUp("query-drop");
    // Linked as the owning role on purpose: only the guard stands between the model and the table.
    const database_id = await linkChinook(owner, ownerUrl);
    const model = `sql-drop-${tag}`;
    await fakeOpenAI.script(model, [answer("DROP TABLE invoice_line")]);
    const before = await getBalance(testCtx(), owner.orgId);
    const response = await ask(owner, { database_id, prompt: "Clean up the invoice lines", model });
    const problem = (await expectProblem(response, 422)) as { type: string; errors?: { message: string }[]; usage?: { credits: number } };
    expect(problem.type).toContain("sql-refused");
    expect(problem.errors?.[0]?.message).toMatch(/DROP|read/i);
    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
    const charged = before - (await getBalance(testCtx(), owner.orgId));
    expect(charged).toBeGreaterThan(0);
    expect(problem.usage?.credits).toBe(charged);

    const still = await expectJson<ChatResult>(
      await (async () => {
        await fakeOpenAI.script(model, [answer("SELECT count(*)::int AS n FROM invoice_line")]);
        return ask(owner, { database_id, prompt: "How many invoice lines?", model });
      })(),
      200,
    );
    expect(still.rows).toEqual([[2240]]);
    const [run] = await testCtx().db.select().from(queryRuns).where(eq(queryRuns.sql, "DROP TABLE invoice_line"));
    expect(run?.status).toBe("refused");
  });

  it("answers 402 before any model call when the organisation is out of credits", async () => {
    const owner = await signUp("query-broke");
    const database_id = await linkChinook(owner);
    const model = `sql-broke-${tag}`;
    await setCreditBalance(owner.orgId, 0);
    await expectProblem(await ask(owner, { database_id, prompt: "Anything", model }), 402);
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await testCtx().db.select().from(queryRuns).where(eq(queryRuns.orgId, owner.orgId))).toEqual([]);
  });

  it("gives the model the conversation so far, and only writes SQL when execute is false", async () => {
    const owner = await signUp("query-conversation");
    const database_id = await linkChinook(owner);
    const model = `sql-conv-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT count(*) FROM customer"), answer("SELECT count(*) FROM customer WHERE country = 'Brazil'")]);
    const first = await expectJson<ChatResult>(await ask(owner, { database_id, prompt: "How many customers?", model }), 200);
    const second = await expectJson<ChatResult>(
      await ask(owner, { database_id, prompt: "And in Brazil?", model, conversation_id: first.conversation_id, execute: false }),
      200,
    );
    expect(second).toMatchObject({ conversation_id: first.conversation_id, executed: false, rows: [], row_count: 0 });
    const sent = await sentToModel(model, 1);
    expect(sent).toContain("How many customers?");
    expect(sent).toContain("SELECT count(*) FROM customer");

    const stranger = await signUp("query-conversation-stranger");
    const theirs = await linkChinook(stranger);
    await expectProblem(await ask(stranger, { database_id: theirs, prompt: "And?", model, conversation_id: first.conversation_id }), 404);
    await expectProblem(await ask(stranger, { database_id, prompt: "Yours?", model }), 422);
  });

  it("turns confirmed and corrected answers into few-shot examples, and refuses a correction the guard refuses", async () => {
    const owner = await signUp("query-feedback");
    const database_id = await linkChinook(owner);
    const model = `sql-feedback-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT title FROM album LIMIT 1"), answer("SELECT 1")]);
    const first = await expectJson<ChatResult>(await ask(owner, { database_id, prompt: "An album title", model }), 200);
    const feedback = (body: Record<string, unknown>) => call(`/v1/query/${first.id}/feedback`, { token: owner.access_token, body });

    await expectProblem(await feedback({ correct: false, corrected_sql: "DELETE FROM album" }), 422);
    await expectJson(await feedback({ correct: false, corrected_sql: "SELECT title FROM album ORDER BY album_id LIMIT 1" }), 200);
    const examples = await testCtx().db.select().from(queryExamples).where(eq(queryExamples.orgId, owner.orgId));
    expect(examples).toEqual([expect.objectContaining({ question: "An album title", sql: "SELECT title FROM album ORDER BY album_id LIMIT 1" })]);

    await expectJson(await ask(owner, { database_id, prompt: "Another question", model }), 200);
    expect(await sentToModel(model, 1)).toContain("SELECT title FROM album ORDER BY album_id LIMIT 1");
    await expectProblem(
      await call(`/v1/query/${first.id}/feedback`, { token: (await signUp("query-feedback-other")).access_token, body: { correct: true } }),
      404,
    );
  });

  it("is callable as a service, without HTTP", async () => {
    const owner = await signUp("query-service");
    const database_id = await linkChinook(owner);
    const model = `sql-service-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT count(*)::int FROM genre")]);
    const ctx = {
      ...testCtx(),
      actor: {
        kind: "user" as const,
        userId: owner.user.id,
        apiKeyId: null,
        sessionId: null,
        orgId: owner.orgId,
        role: "owner",
        isSuperAdmin: false,
        can: () => true,
      },
    };
    const result = await askDatabase(ctx, { database_id, prompt: "How many genres?", model });
    expect(result.rows).toEqual([[25]]);
  });
});

describe("choosing the schema the model sees", () => {
  const table = (name: string, columns: string[], references: string[] = []): IntrospectedTable => ({
    schema: "public",
    name,
    kind: "table",
    comment: null,
    row_estimate: 10,
    columns: columns.map((c) => ({ name: c, type: "integer", nullable: true, comment: null })),
    primary_key: ["id"],
    foreign_keys: references.map((target) => ({ columns: [`${target}_id`], references: { schema: "public", table: target, columns: ["id"] } })),
  });

  it("shows every table of a small schema", () => {
    const small = [table("artist", ["id"]), table("album", ["id", "artist_id"], ["artist"])];
    expect(relevantTables(small, "anything").map((t) => t.name)).toEqual(["artist", "album"]);
  });

  it("shows a large schema's tables that match the question, and the tables they join to", () => {
    const filler = Array.from({ length: 40 }, (_, i) => table(`audit_${i}`, ["id", "payload"]));
    const tables = [...filler, table("customer", ["id", "country"]), table("invoice", ["id", "customer_id", "total"], ["customer"]), table("employee", ["id"])];
    const chosen = relevantTables(tables, "Total of invoices per country").map((t) => t.name);
    expect(chosen).toContain("invoice");
    expect(chosen).toContain("customer");
    expect(chosen.length).toBeLessThanOrEqual(MAX_TABLES_IN_PROMPT);
    expect(chosen.indexOf("invoice")).toBeLessThan(chosen.indexOf("customer"));
  });
});
