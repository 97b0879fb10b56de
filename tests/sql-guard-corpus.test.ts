/**
 * The SQL guard against real-world SQL: every defog sql-eval gold query passes it and runs
 * read-only on its database; every statement of the rejection corpus is refused with its
 * reason; nothing from the SQL-injection payload lists gets through but four harmless reads.
 * The databases and files are served by the Node side of the harness (tests/harness/sql-data.ts).
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { checkSql, type GuardReasonCode } from "../src/modules/data/sql-guard/check";
import { SQL_REJECTIONS } from "./fixtures/sql-rejections";

interface GoldQuery {
  db_name: string;
  question: string;
  sql: string;
}

async function fromHarness<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${inject("harnessUrl")}${path}`, init);
  if (!response.ok) throw new Error(`harness ${path}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<T>;
}

describe("the defog sql-eval gold queries", () => {
  let gold: GoldQuery[] = [];
  beforeAll(async () => {
    ({ queries: gold } = await fromHarness<{ queries: GoldQuery[] }>("/sql-data/defog", { method: "POST" }));
  }, 60_000);

  it("are 210 questions over 11 databases", () => {
    expect(gold).toHaveLength(210);
    expect(new Set(gold.map((q) => q.db_name)).size).toBe(11);
  });

  it("all pass the guard as SELECTs, each naming the tables it reads", async () => {
    const refused: { sql: string; reasons: unknown }[] = [];
    for (const { sql } of gold) {
      const verdict = await checkSql(sql);
      if (!verdict.allowed || verdict.statement_type !== "SELECT" || verdict.tables.length === 0) refused.push({ sql, reasons: verdict.reasons });
    }
    expect(refused).toEqual([]);
  });

  it("all run on their database inside a read-only transaction", async () => {
    const { results } = await fromHarness<{ results: { ok: boolean; rows?: number; error?: string }[] }>("/sql-data/defog/run", {
      method: "POST",
      body: JSON.stringify({ runs: gold.map(({ db_name, sql }) => ({ db_name, sql })) }),
    });
    const failed = results.flatMap((result, index) => (result.ok ? [] : [{ sql: gold[index]?.sql, error: result.error }]));
    expect(failed).toEqual([]);
    expect(results).toHaveLength(210);
    // The runner really reads: most questions have an answer in their database.
    expect(results.filter((result) => (result.rows ?? 0) > 0).length).toBeGreaterThan(150);
  });
});

describe("the rejection corpus", () => {
  it("holds at least 150 statements, 100 or more refused for something other than a parse error, covering every rule", () => {
    expect(SQL_REJECTIONS.length).toBeGreaterThanOrEqual(150);
    expect(SQL_REJECTIONS.filter((entry) => entry.code !== "parse_error").length).toBeGreaterThanOrEqual(100);
    const everyCode: GuardReasonCode[] = [
      "empty",
      "parse_error",
      "too_complex",
      "multiple_statements",
      "data_modification",
      "schema_change",
      "privilege_change",
      "transaction_control",
      "session_command",
      "copy",
      "procedural_code",
      "notification",
      "prepared_statement",
      "statement_not_allowed",
      "select_into",
      "locking_clause",
      "data_modifying_cte",
      "explain_analyze",
      "function_not_allowed",
      "system_catalog",
      "schema_not_allowed",
      "table_not_allowed",
    ];
    expect(new Set(SQL_REJECTIONS.map((entry) => entry.code))).toEqual(new Set(everyCode));
  });

  it.each(SQL_REJECTIONS.map((entry) => [JSON.stringify(entry.sql).slice(0, 90), entry] as const))("refuses %s", async (_label, entry) => {
    const verdict = await checkSql(entry.sql, entry.policy);
    expect(verdict.allowed).toBe(false);
    expect(verdict.reasons.map((reason) => reason.code)).toContain(entry.code);
    for (const reason of verdict.reasons) expect(reason.message).toMatch(/^\S.{20,}[^.\s]$/);
  });
});

describe("the SQL-injection payload lists", () => {
  // Complete statements that only read facts any session may read: the guard lets them pass.
  const HARMLESS = ["select version();\t", "select current_database();", "select current_user;", "select session_user;"];

  it("let nothing through but four harmless reads", async () => {
    const { files } = await fromHarness<{ files: Record<string, string[]> }>("/sql-data/adversarial");
    const payloads = Object.values(files).flat();
    expect(payloads.length).toBeGreaterThan(700);
    const passed: string[] = [];
    for (const payload of payloads) if ((await checkSql(payload)).allowed) passed.push(payload);
    expect(passed).toEqual(HARMLESS);
  });
});
