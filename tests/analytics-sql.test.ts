import { count, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type Transaction, withTransaction } from "../src/db/client";
import { customers } from "../src/db/schema";
import { ANALYTICS_TABLES } from "../src/modules/data/analytics-sql/catalog";
import { AnalyticsStatementError, runAsAnalyst } from "../src/modules/data/analytics-sql/execute";
import { getBalance } from "../src/modules/money/credits/ledger";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, fakeOpenAI, fetchWithEnv, setCreditBalance, testCtx } from "./harness/helpers";

// The fake keys scripts and recorded requests by model: every test uses its own model name.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);

interface Rows {
  columns: { name: string; type_oid: number }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  duration_ms: number;
}

interface Refusal {
  errors: { path: string; message: string }[];
  reasons: { code: string; message: string }[];
  sql: string;
}

const answer = (sql: string, explanation = "Does what was asked.") => ({ tool_calls: [{ name: "answer_with_sql", arguments: { sql, explanation } }] });

function execute(who: SignedUp, sqlText: string, orgId = who.orgId): Promise<Response> {
  return call("/v1/ai/sql/execute", { token: who.access_token, orgId, body: { sql: sqlText } });
}

async function rowsOf(who: SignedUp, sqlText: string): Promise<Rows> {
  return expectJson<Rows>(await execute(who, sqlText), 200);
}

async function createCustomer(owner: SignedUp, name: string): Promise<string> {
  return (await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name } }), 201)).id;
}

/** An issued bill of one untaxed line: its total is exactly `amount`. */
async function issueBill(owner: SignedUp, customerId: string, amount: number): Promise<void> {
  const body = { customer_id: customerId, items: [{ description: "Goods", quantity: "1", unit_price: amount }], issue: true };
  const bill = await expectJson<{ total: number; status: string }>(await call("/v1/bills", { token: owner.access_token, body }), 201);
  expect(bill).toMatchObject({ total: amount, status: "issued" });
}

/**
 * Runs `work` the way own-data SQL runs, but by hand and without the guard: as billx_analyst,
 * with the organisation setting when given. Resolves to what `work` returned or the error.
 */
function asAnalyst<T>(orgId: string | null, work: (tx: Transaction) => Promise<T>): Promise<T | { sqlstate: string }> {
  return withTransaction(testCtx(), async (tx) => {
    await tx.execute(sql`SET LOCAL ROLE billx_analyst`);
    if (orgId) await tx.execute(sql`select set_config('billx.org_id', ${orgId}, true)`);
    return work(tx);
  }).catch((error: unknown) => {
    const cause = (error as { cause?: { code?: string } }).cause;
    const sqlstate = cause?.code ?? (error as { code?: string }).code;
    if (typeof sqlstate !== "string") throw error;
    return { sqlstate };
  });
}

/** The rows of a raw `execute`, whose result type drizzle leaves open. */
function rowsFrom<T = Record<string, unknown>>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

async function selectAll(tx: Transaction, text: string): Promise<Record<string, unknown>[]> {
  return rowsFrom(await tx.execute(sql.raw(text)));
}

describe("own-data analytics over two organisations", () => {
  // Read-only tests share two organisations: nothing here changes their data.
  let a: SignedUp;
  let b: SignedUp;
  const customerIds: Record<"a" | "b", string[]> = { a: [], b: [] };

  beforeAll(async () => {
    a = await signUp("analytics-a");
    b = await signUp("analytics-b");
    customerIds.a = [await createCustomer(a, "Asha"), await createCustomer(a, "Bela"), await createCustomer(a, "Chen")];
    customerIds.b = [await createCustomer(b, "Dara"), await createCustomer(b, "Eli")];
    await issueBill(a, customerIds.a[0]!, 1500);
    await issueBill(a, customerIds.a[1]!, 2500);
    await issueBill(b, customerIds.b[0]!, 700);
  });

  it("answers SQL without any org filter with the caller's figures only", async () => {
    // A: 3 customers, bills 1500 + 2500 = 4000 (two lines); B: 2 customers, one bill of 700.
    expect(await rowsOf(a, "SELECT count(*) FROM customers")).toMatchObject({ columns: [{ name: "count", type_oid: 20 }], rows: [["3"]], row_count: 1 });
    expect((await rowsOf(b, "SELECT count(*) FROM customers")).rows).toEqual([["2"]]);
    expect((await rowsOf(a, "SELECT sum(total) FROM bills")).rows).toEqual([["4000"]]);
    expect((await rowsOf(b, "SELECT sum(total) FROM bills")).rows).toEqual([["700"]]);
    // Lines have no org_id: they are scoped through their bill.
    expect((await rowsOf(a, "SELECT count(*), sum(line_total) FROM bill_items")).rows).toEqual([["2", "4000"]]);
    expect((await rowsOf(b, "SELECT count(*), sum(line_total) FROM bill_items")).rows).toEqual([["1", "700"]]);
    // Issuing charged each customer's ledger the bill's total.
    expect((await rowsOf(a, "SELECT sum(amount) FROM customer_ledger")).rows).toEqual([["4000"]]);

    const joined = await rowsOf(
      a,
      "SELECT c.name, sum(b.total) AS billed FROM bills b JOIN customers c ON c.id = b.customer_id GROUP BY c.name ORDER BY c.name",
    );
    expect(joined.columns.map((c) => c.name)).toEqual(["name", "billed"]);
    expect(joined.rows).toEqual([
      ["Asha", "1500"],
      ["Bela", "2500"],
    ]);
    // B's customers do not exist for A, even asked for by id.
    expect((await rowsOf(a, `SELECT id FROM customers WHERE id IN ('${customerIds.b.join("','")}')`)).rows).toEqual([]);
  });

  it("returns every column in order, duplicates too, as JSON a client can use", async () => {
    const result = await rowsOf(
      a,
      "SELECT c.id, b.id, b.total, l.quantity, b.issued_at, b.issued_at::date AS day, b.status = 'issued' AS open " +
        "FROM bills b JOIN customers c ON c.id = b.customer_id JOIN bill_items l ON l.bill_id = b.id WHERE c.name = 'Asha'",
    );
    expect(result.columns.map((c) => [c.name, c.type_oid])).toEqual([
      ["id", 25],
      ["id", 25],
      ["total", 20],
      ["quantity", 1700],
      ["issued_at", 1184],
      ["day", 1082],
      ["open", 16],
    ]);
    const [row] = result.rows as [string, string, string, string, string, string, boolean][];
    expect(row?.[0]).toBe(customerIds.a[0]);
    expect(row?.[1]).toMatch(/^bill_/);
    // Big integers and decimals stay exact as strings.
    expect(row?.slice(2, 4)).toEqual(["1500", "1.000"]);
    expect(row?.[4]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(row?.[5]).toBe(row?.[4].slice(0, 10));
    expect(row?.[6]).toBe(true);
  });

  it("leaves the app's own role unfiltered: the API and the app see every row", async () => {
    const listed = await expectJson<{ data: { id: string }[] }>(await call("/v1/customers", { token: a.access_token }), 200);
    expect(listed.data.map((c) => c.id).sort()).toEqual([...customerIds.a].sort());
    const [all] = await testCtx()
      .db.select({ n: count() })
      .from(customers)
      .where(inArray(customers.id, [...customerIds.a, ...customerIds.b]));
    expect(all?.n).toBe(5);
  });

  it("refuses tables outside the curated list with the guard's reasons, and nothing runs", async () => {
    for (const table of ["users", "api_keys", "linked_databases", "sessions", "messages", "public.organizations"]) {
      const problem = (await expectProblem(await execute(a, `SELECT * FROM ${table}`), 422)) as unknown as Refusal;
      expect(problem.reasons.map((r) => r.code)).toContain("table_not_allowed");
      expect(problem.errors[0]?.message).toMatch(/is not allowed: it is not one of the allowed tables/);
    }
    const catalog = (await expectProblem(await execute(a, "SELECT tablename FROM pg_tables"), 422)) as unknown as Refusal;
    expect(catalog.reasons.map((r) => r.code)).toContain("schema_not_allowed");
  });

  it("refuses switching organisation, writes, EXPLAIN and server functions", async () => {
    const cases: [string, string][] = [
      [`SELECT set_config('billx.org_id', '${b.orgId}', true), count(*) FROM customers`, "function_not_allowed"],
      ["SELECT current_setting('billx.org_id')", "function_not_allowed"],
      ["DELETE FROM customers", "data_modification"],
      ["SELECT count(*) FROM customers; SET ROLE none", "multiple_statements"],
      ["EXPLAIN SELECT * FROM bills", "explain_not_allowed"],
      ["SELECT pg_relation_size('bills')", "function_not_allowed"],
    ];
    for (const [text, code] of cases) {
      const problem = (await expectProblem(await execute(a, text), 422)) as unknown as Refusal & { type: string };
      expect(problem.type, text).toBe("https://billx.dev/problems/sql-refused");
      expect(
        problem.reasons.map((r) => r.code),
        text,
      ).toContain(code);
    }
    expect((await rowsOf(a, "SELECT count(*) FROM customers")).rows).toEqual([["3"]]);
  });

  it("withholds idempotency keys: SELECT * on such a table is a 422 from Postgres, named columns work", async () => {
    const problem = await expectProblem(await execute(a, "SELECT * FROM bill_payments"), 422);
    expect(problem.type).toBe("https://billx.dev/problems/sql-failed");
    expect(problem.detail).toMatch(/permission denied for table bill_payments.*name the columns you need/);
    expect((await rowsOf(a, "SELECT id, amount FROM bill_payments")).rows).toEqual([]);
    await expectProblem(await execute(a, "SELECT idempotency_key FROM customer_payments"), 422);
  });

  it("answers a Postgres error in the SQL with 422, not 500", async () => {
    const problem = await expectProblem(await execute(a, "SELECT nme FROM customers"), 422);
    expect(problem.detail).toContain('column "nme" does not exist');
    await expectProblem(await execute(a, "SELECT 1 / 0"), 422);
  });

  it("caps rows and bytes and stops slow SQL at the timeout", async () => {
    const capped = await rowsOf(a, "SELECT g FROM generate_series(1, 1500) AS g ORDER BY g DESC");
    // QUERY_MAX_ROWS defaults to 1000; the order is the one written.
    expect(capped).toMatchObject({ row_count: 1000, truncated: true });
    expect(capped.rows[0]).toEqual([1500]);
    expect(capped.rows.at(-1)).toEqual([501]);

    const request = (text: string) =>
      new Request("http://api.test/v1/ai/sql/execute", {
        method: "POST",
        headers: { Authorization: `Bearer ${a.access_token}`, "Content-Type": "application/json", "CF-Connecting-IP": `fd00:a11::${tag}` },
        body: JSON.stringify({ sql: text }),
      });
    // Each row is ["xxx…"] of 300 x's: 306 bytes, and 2 for the brackets; the fourth would pass 1024.
    const bytes = await fetchWithEnv(request("SELECT repeat('x', 300) FROM generate_series(1, 10)"), { QUERY_MAX_BYTES: "1024" });
    expect(await expectJson<Rows>(bytes, 200)).toMatchObject({ row_count: 3, truncated: true });

    const slow = await fetchWithEnv(request("SELECT count(*) FROM generate_series(1, 200000000)"), { QUERY_TIMEOUT_MS: "100" });
    expect((await expectProblem(slow, 422)).detail).toMatch(/ran longer than 100 ms/);
  });
});

describe("row-level security itself, below the guard", () => {
  let a: SignedUp;
  let b: SignedUp;

  beforeAll(async () => {
    a = await signUp("rls-a");
    b = await signUp("rls-b");
    await createCustomer(a, "Fern");
    await createCustomer(b, "Gus");
    await createCustomer(b, "Hal");
  });

  it("shows the role only the rows of the organisation in the setting", async () => {
    const seen = await asAnalyst(a.orgId, (tx) => selectAll(tx, "SELECT name, org_id FROM customers ORDER BY name"));
    expect(seen).toEqual([{ name: "Fern", org_id: a.orgId }]);
    const asked = await asAnalyst(a.orgId, (tx) => selectAll(tx, `SELECT count(*)::int AS n FROM customers WHERE org_id = '${b.orgId}'`));
    expect(asked).toEqual([{ n: 0 }]);
    expect(await asAnalyst(b.orgId, (tx) => selectAll(tx, "SELECT count(*)::int AS n FROM customers"))).toEqual([{ n: 2 }]);
  });

  it("shows nothing without the organisation setting", async () => {
    for (const table of ANALYTICS_TABLES) {
      const rows = await asAnalyst(null, (tx) => selectAll(tx, `SELECT count(*)::int AS n FROM ${table.name}`));
      expect(rows, table.name).toEqual([{ n: 0 }]);
    }
    // The app's own role sees them all the while.
    const total = rowsFrom<{ n: number }>(await testCtx().db.execute(sql`SELECT count(*)::int AS n FROM customers`));
    expect(total[0]?.n).toBeGreaterThanOrEqual(3);
  });

  it("refuses the role every table and column outside the curated list", async () => {
    expect(await asAnalyst(a.orgId, (tx) => selectAll(tx, "SELECT password_hash FROM users"))).toEqual({ sqlstate: "42501" });
    for (const text of [
      "SELECT id FROM users",
      "SELECT key_hash FROM api_keys",
      "SELECT url_sealed FROM linked_databases",
      "SELECT token_hash FROM refresh_tokens",
    ]) {
      expect(await asAnalyst(a.orgId, (tx) => selectAll(tx, text)), text).toEqual({ sqlstate: "42501" });
    }
    expect(await asAnalyst(a.orgId, (tx) => selectAll(tx, "SELECT idempotency_key FROM bill_payments"))).toEqual({ sqlstate: "42501" });
  });

  it("cannot write: no privilege as the role, and read-only as the endpoint runs it", async () => {
    const insert = `INSERT INTO customers (id, org_id, name) VALUES ('cus_rls_test', '${a.orgId}', 'Intruder')`;
    expect(await asAnalyst(a.orgId, (tx) => selectAll(tx, insert))).toEqual({ sqlstate: "42501" });
    const readOnly = await withTransaction(testCtx(), async (tx) => {
      await tx.execute(sql`SET TRANSACTION READ ONLY`);
      return selectAll(tx, insert);
    }).catch((error: unknown) => (error as { cause?: { code?: string } }).cause?.code);
    expect(readOnly).toBe("25006");
    expect((await expectJson<Rows>(await execute(a, "SELECT count(*) FROM customers"), 200)).rows).toEqual([["1"]]);
  });

  it("has Postgres itself refuse a second statement, should one ever get past the guard", async () => {
    const limits = { timeoutMs: 5000, maxRows: 10, maxBytes: 10_000 };
    const error = await runAsAnalyst(testCtx(), a.orgId, "SELECT 1; COMMIT", limits).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnalyticsStatementError);
    expect(error).toMatchObject({ code: "42601", message: expect.stringContaining("cannot insert multiple commands") });
  });

  it("grants exactly the curated columns, with RLS enabled and not forced on each table", async () => {
    const db = testCtx().db;
    const granted = rowsFrom<{ table_name: string; column_name: string }>(
      await db.execute(
        sql`SELECT table_name, column_name FROM information_schema.column_privileges WHERE grantee = 'billx_analyst' AND privilege_type = 'SELECT'`,
      ),
    );
    const grantedByTable = new Map<string, string[]>();
    for (const row of granted) grantedByTable.set(row.table_name, [...(grantedByTable.get(row.table_name) ?? []), row.column_name]);
    expect([...grantedByTable.keys()].sort()).toEqual(ANALYTICS_TABLES.map((t) => t.name).sort());

    const columns = rowsFrom<{ table_name: string; column_name: string }>(
      await db.execute(sql`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`),
    );
    for (const table of ANALYTICS_TABLES) {
      const described = table.columns.map((c) => c.name).sort();
      expect(grantedByTable.get(table.name)?.sort(), `${table.name}: granted columns = described columns`).toEqual(described);
      const actual = columns.filter((c) => c.table_name === table.name).map((c) => c.column_name);
      // A column added later must be described (and granted) or withheld on purpose.
      expect(actual.sort(), `${table.name}: every column is described or withheld`).toEqual([...described, ...(table.withheld ?? [])].sort());
    }
    // Column grants only: no table-wide privilege that would cover a column added later.
    expect(rowsFrom(await db.execute(sql`SELECT table_name FROM information_schema.table_privileges WHERE grantee = 'billx_analyst'`))).toEqual([]);
    const security = rowsFrom<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      await db.execute(sql`SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`),
    );
    for (const table of ANALYTICS_TABLES) {
      // Enabled for the role; not forced, so the owning app role keeps reading every row.
      expect(
        security.find((r) => r.relname === table.name),
        table.name,
      ).toMatchObject({ relrowsecurity: true, relforcerowsecurity: false });
    }
  });
});

describe("writing own-data SQL from a question", () => {
  it("gives the model the curated schema, returns guarded SQL, and charges credits once", async () => {
    const owner = await signUp("analytics-prompt");
    await createCustomer(owner, "Ivy");
    const model = `analytics-basic-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT count(*) FROM customers", "Counts your customers.")]);
    const before = await getBalance(testCtx(), owner.orgId);

    const response = await call("/v1/ai/sql", { token: owner.access_token, body: { prompt: "How many customers do I have?", model } });
    const result = await expectJson<{ sql: string; explanation: string; usage: { prompt_tokens: number; completion_tokens: number; credits: number } }>(
      response,
      200,
    );
    expect(result).toMatchObject({ sql: "SELECT count(*) FROM customers", explanation: "Counts your customers." });
    expect(result.usage.credits).toBeGreaterThan(0);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - result.usage.credits);

    const requests = await fakeOpenAI.requests(model);
    expect(requests).toHaveLength(1);
    const sent = JSON.stringify(requests[0]?.body.messages);
    expect(sent).toContain("CREATE TABLE bill_items");
    expect(sent).toContain("never filter on org_id");
    expect(sent).toContain("How many customers do I have?");
    for (const secret of ["password_hash", "CREATE TABLE users", "api_keys", "url_sealed", "idempotency_key"]) expect(sent).not.toContain(secret);

    // The SQL runs as written and sees this organisation only.
    expect((await rowsOf(owner, result.sql)).rows).toEqual([["1"]]);
  });

  it("refuses the model's SQL over a table outside the list with 422, charged once", async () => {
    const owner = await signUp("analytics-refused");
    const model = `analytics-refused-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT email, password_hash FROM users")]);
    const before = await getBalance(testCtx(), owner.orgId);
    const problem = (await expectProblem(
      await call("/v1/ai/sql", { token: owner.access_token, body: { prompt: "Show me the staff logins", model } }),
      422,
    )) as unknown as Refusal & {
      usage: { credits: number };
    };
    expect(problem.reasons.map((r) => r.code)).toContain("table_not_allowed");
    expect(problem.sql).toBe("SELECT email, password_hash FROM users");
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - problem.usage.credits);
  });

  it("answers 402 before any model call when the organisation is out of credits", async () => {
    const owner = await signUp("analytics-broke");
    const model = `analytics-broke-${tag}`;
    await fakeOpenAI.script(model, [answer("SELECT 1")]);
    await setCreditBalance(owner.orgId, 0);
    await expectProblem(await call("/v1/ai/sql", { token: owner.access_token, body: { prompt: "Anything", model } }), 402);
    expect(await fakeOpenAI.requests(model)).toHaveLength(0);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(0);
  });
});

describe("who may use own-data analytics", () => {
  it("needs analytics:query: a viewer gets 403 on both routes and the model is not called; a member may run SQL", async () => {
    const owner = await signUp("analytics-roles");
    await createCustomer(owner, "Jo");
    const viewer = await joinOrgAs(owner, "viewer", "analytics-viewer");
    const member = await joinOrgAs(owner, "member", "analytics-member");
    const model = `analytics-viewer-${tag}`;

    await expectProblem(await execute(viewer, "SELECT count(*) FROM customers", owner.orgId), 403);
    await expectProblem(await call("/v1/ai/sql", { token: viewer.access_token, orgId: owner.orgId, body: { prompt: "Anything", model } }), 403);
    expect(await fakeOpenAI.requests(model)).toHaveLength(0);

    expect((await expectJson<Rows>(await execute(member, "SELECT count(*) FROM customers", owner.orgId), 200)).rows).toEqual([["1"]]);
  });
});
