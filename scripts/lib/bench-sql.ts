import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type pg from "pg";

export interface SqlTimings {
  p50Ms: number;
  p99Ms: number;
}

/**
 * One statement timed from Node straight on Postgres, `times` runs after one untimed warm-up:
 * what a query costs the database, without the Worker and the SQL-over-HTTP hop around it.
 */
export async function timeStatement(client: pg.Client, statement: SQL, times: number): Promise<SqlTimings> {
  const { sql: text, params } = new PgDialect().sqlToQuery(statement);
  await client.query(text, params);
  const timings: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await client.query(text, params);
    timings.push(performance.now() - started);
  }
  return { p50Ms: percentile(timings, 50), p99Ms: percentile(timings, 99) };
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
