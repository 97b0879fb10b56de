/**
 * The SQL guard: what it lets through, what it says it read, how it words a refusal, and the
 * `/v1/sql/check` lint endpoint. The large corpora (defog gold queries, the rejection corpus,
 * injection payload lists) are in sql-guard-corpus.test.ts.
 */
import { describe, expect, it } from "vitest";
import { checkSql } from "../src/modules/data/sql-guard/check";
import { call, expectJson, joinOrgAs, signUp } from "./harness/api";
import { expectProblem } from "./harness/helpers";

interface SqlCheck {
  allowed: boolean;
  statement_type: string | null;
  tables: string[];
  functions: string[];
  reasons: { code: string; message: string; position?: number }[];
}

describe("what the guard allows", () => {
  it.each([
    ["SELECT 1", "SELECT", []],
    ["select name, total from invoices where total > 10 order by total desc limit 5;", "SELECT", ["public.invoices"]],
    ["VALUES (1, 'a'), (2, 'b')", "VALUES", []],
    ["TABLE invoices", "SELECT", ["public.invoices"]],
    ["EXPLAIN SELECT * FROM invoices", "EXPLAIN", ["public.invoices"]],
    ["EXPLAIN (ANALYZE false, COSTS off) SELECT * FROM invoices", "EXPLAIN", ["public.invoices"]],
    ["EXPLAIN (ANALYZE 0) SELECT 1", "EXPLAIN", []],
    ["SELECT a FROM x UNION SELECT a FROM y EXCEPT SELECT a FROM z", "SELECT", ["public.x", "public.y", "public.z"]],
    ["WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n", "SELECT", []],
    [
      "SELECT c.name, l.total FROM customers c, LATERAL (SELECT sum(total) AS total FROM invoices i WHERE i.customer_id = c.id) l",
      "SELECT",
      ["public.customers", "public.invoices"],
    ],
    ["SELECT * FROM sales.orders o JOIN public.customers c ON c.id = o.customer_id", "SELECT", ["sales.orders", "public.customers"]],
    ["/* monthly */ SeLeCt count(*) -- all of them\nFrOm invoices", "SELECT", ["public.invoices"]],
    ["SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'", "SELECT", ["information_schema.columns"]],
    ["SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "SELECT", ["pg_catalog.pg_tables"]],
    ["SELECT version(), current_user, now(), lower('A'), generate_series(1, 3)", "SELECT", []],
  ])("allows %s", async (sql, statementType, tables) => {
    const verdict = await checkSql(sql);
    expect(verdict.reasons).toEqual([]);
    expect(verdict).toMatchObject({ allowed: true, statement_type: statementType, tables });
  });
});

describe("the tables and functions the guard reports", () => {
  it("does not count a CTE name as a table, nor hold it to the allow-list", async () => {
    const policy = { allowedTables: ["public.orders"] };
    expect(await checkSql("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent r JOIN recent s ON true", policy)).toMatchObject({
      allowed: true,
      tables: ["public.orders"],
    });
  });

  it("counts a schema-qualified name as a table even where a CTE has that name", async () => {
    const verdict = await checkSql("WITH orders AS (SELECT * FROM raw_orders) SELECT * FROM orders JOIN sales.orders s ON s.id = orders.id");
    expect(verdict.tables).toEqual(["public.raw_orders", "sales.orders"]);
  });

  it("scopes CTE names as Postgres does: inside their statement, and only to later CTEs unless RECURSIVE", async () => {
    expect((await checkSql("SELECT * FROM (WITH s AS (SELECT 1) SELECT * FROM s) inner_q, s")).tables).toEqual(["public.s"]);
    expect((await checkSql("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b")).tables).toEqual(["public.b"]);
    expect((await checkSql("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a")).tables).toEqual([]);
  });

  it("resolves unqualified names to the default schema, the first allowed schema, else public", async () => {
    expect((await checkSql("SELECT * FROM orders")).tables).toEqual(["public.orders"]);
    expect((await checkSql("SELECT * FROM orders", { allowedSchemas: ["sales", "public"] })).tables).toEqual(["sales.orders"]);
    expect((await checkSql("SELECT * FROM orders", { defaultSchema: "shop" })).tables).toEqual(["shop.orders"]);
  });

  it("keeps the case of quoted names and folds unquoted ones, as the catalog does", async () => {
    const verdict = await checkSql('SELECT * FROM "Sales"."Orders", Customers');
    expect(verdict.tables).toEqual(["Sales.Orders", "public.customers"]);
  });

  it("lists the functions called, as written", async () => {
    const verdict = await checkSql("SELECT pg_catalog.lower(name), count(*) FROM customers GROUP BY 1");
    expect(verdict.functions).toEqual(["pg_catalog.lower", "count"]);
  });

  it("accepts allowed tables written with or without their schema", async () => {
    const policy = { allowedTables: ["orders", "sales.refunds"] };
    expect((await checkSql("SELECT * FROM orders o JOIN sales.refunds r ON r.order_id = o.id", policy)).allowed).toBe(true);
    expect((await checkSql("SELECT * FROM sales.orders", policy)).reasons).toEqual([
      { code: "table_not_allowed", message: "sales.orders is not allowed: it is not one of the allowed tables" },
    ]);
  });
});

describe("how the guard words a refusal", () => {
  it("quotes the parser and points at the character where it stopped", async () => {
    expect(await checkSql("SELECT * FORM users")).toEqual({
      allowed: false,
      statement_type: null,
      tables: [],
      functions: [],
      reasons: [{ code: "parse_error", message: 'The SQL does not parse: syntax error at or near "FORM" (at character 10)', position: 10 }],
    });
  });

  it("counts the statements it found", async () => {
    const verdict = await checkSql("SELECT 1; SELECT 2; DELETE FROM users");
    expect(verdict.statement_type).toBeNull();
    expect(verdict.reasons[0]).toEqual({ code: "multiple_statements", message: "Only one statement is allowed; found 3" });
    expect(verdict.reasons.map((r) => r.code)).toContain("data_modification");
  });

  it("says why a function is denied, once however often it is called", async () => {
    const verdict = await checkSql("SELECT pg_sleep(1), pg_sleep(2) FROM invoices WHERE pg_sleep(3) IS NULL");
    expect(verdict.reasons).toEqual([{ code: "function_not_allowed", message: "pg_sleep is not allowed: it can stall the database" }]);
    expect(verdict.functions).toEqual(["pg_sleep"]);
  });

  it("names the refused command and the CTE that hides a write", async () => {
    expect(await checkSql("DELETE FROM invoices")).toMatchObject({
      statement_type: "DELETE",
      tables: ["public.invoices"],
      reasons: [{ code: "data_modification", message: "DELETE changes data; only SELECT, VALUES and EXPLAIN statements are allowed" }],
    });
    expect((await checkSql("WITH gone AS (DELETE FROM invoices RETURNING *) SELECT * FROM gone")).reasons).toEqual([
      { code: "data_modifying_cte", message: 'The WITH query "gone" runs DELETE; every query inside WITH must be a SELECT' },
    ]);
  });

  it("explains catalog and allow-list refusals", async () => {
    expect((await checkSql("SELECT * FROM pg_shadow")).reasons).toEqual([
      {
        code: "system_catalog",
        message:
          "pg_catalog.pg_shadow is a system catalog and cannot be read; to explore the schema, use information_schema.tables and information_schema.columns",
      },
    ]);
    expect((await checkSql("SELECT * FROM hr.salaries", { allowedSchemas: ["public", "sales"] })).reasons).toEqual([
      { code: "schema_not_allowed", message: "hr.salaries is not allowed: schema hr is not one of the allowed schemas (public, sales)" },
    ]);
  });

  it("refuses a tree too deep to walk, and parses normally afterwards", async () => {
    const deep = await checkSql(`SELECT ${"1+".repeat(5_000)}1`);
    expect(deep.reasons.map((r) => r.code)).toEqual(["too_complex"]);
    // Deep enough to exhaust the parser's own stack: the instance is replaced after the trap.
    const deeper = await checkSql(`SELECT ${"1+".repeat(20_000)}1`);
    expect(deeper.reasons).toEqual([{ code: "too_complex", message: "The SQL is too deeply nested or too large to check" }]);
    expect(await checkSql("SELECT 1 FROM invoices")).toMatchObject({ allowed: true, tables: ["public.invoices"] });
  });
});

describe("POST /v1/sql/check", () => {
  const check = (token: string | undefined, body: unknown, orgId?: string) => call("/v1/sql/check", { method: "POST", token, body, orgId });

  it("answers a member with the verdict, allowed or not", async () => {
    const owner = await signUp("sql-owner");
    const member = await joinOrgAs(owner, "member");
    const allowed = await expectJson<SqlCheck>(await check(member.access_token, { sql: "SELECT name FROM customers" }, owner.orgId), 200);
    expect(allowed).toEqual({ allowed: true, statement_type: "SELECT", tables: ["public.customers"], functions: [], reasons: [] });

    const refused = await expectJson<SqlCheck>(await check(member.access_token, { sql: "SELECT pg_read_file('/etc/passwd')" }, owner.orgId), 200);
    expect(refused).toEqual({
      allowed: false,
      statement_type: "SELECT",
      tables: [],
      functions: ["pg_read_file"],
      reasons: [{ code: "function_not_allowed", message: "pg_read_file is not allowed: it reads or writes files on the database server" }],
    });
  });

  it("applies the allow-lists and default schema sent with the SQL", async () => {
    const owner = await signUp("sql-lists");
    const body = { sql: "SELECT * FROM orders JOIN customers ON true", allowed_tables: ["orders"], default_schema: "shop" };
    const verdict = await expectJson<SqlCheck>(await check(owner.access_token, body), 200);
    expect(verdict.tables).toEqual(["shop.orders", "shop.customers"]);
    expect(verdict.reasons).toEqual([{ code: "table_not_allowed", message: "shop.customers is not allowed: it is not one of the allowed tables" }]);
  });

  it("takes an API key holding sql:query", async () => {
    const owner = await signUp("sql-key");
    const created = await expectJson<{ key: string }>(
      await call("/v1/api-keys", { token: owner.access_token, body: { name: "Linter", permissions: ["sql:query"] } }),
      201,
    );
    const verdict = await expectJson<SqlCheck>(await check(created.key, { sql: "VALUES (1)" }), 200);
    expect(verdict.statement_type).toBe("VALUES");
  });

  it("refuses a caller without credentials, and a viewer, who may not query", async () => {
    await expectProblem(await check(undefined, { sql: "SELECT 1" }), 401);
    const owner = await signUp("sql-viewer-owner");
    const viewer = await joinOrgAs(owner, "viewer");
    const problem = await expectProblem(await check(viewer.access_token, { sql: "SELECT 1" }, owner.orgId), 403);
    expect(problem.detail).toContain("sql:query");
  });

  it("answers 422 naming the field for SQL that is missing, not a string, or too long", async () => {
    const owner = await signUp("sql-invalid");
    for (const [body, path] of [
      [{}, "sql"],
      [{ sql: 42 }, "sql"],
      [{ sql: ["SELECT 1"] }, "sql"],
      [{ sql: `SELECT '${"x".repeat(50_000)}'` }, "sql"],
      [{ sql: "SELECT 1", allowed_tables: "orders" }, "allowed_tables"],
    ] as const) {
      const problem = await expectProblem(await check(owner.access_token, body), 422);
      expect(problem.errors?.map((e) => e.path)).toEqual([path]);
    }
  });
});
