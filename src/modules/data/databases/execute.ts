import type { LinkedSql } from "./connection";

export interface ExecutionLimits {
  /** statement_timeout inside the transaction. */
  timeoutMs: number;
  maxRows: number;
  /** Of the JSON the rows become; a wide text column cannot blow up the response. */
  maxBytes: number;
  /**
   * The only schema on `search_path`: the SQL guard resolved unqualified table names to this
   * schema, so Postgres must read the same tables.
   */
  searchPath: string;
}

export interface ExecutionResult {
  columns: { name: string; type_oid: number }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  duration_ms: number;
}

/** Ends the read-only transaction with a rollback even when the query succeeded. */
class Rollback extends Error {}

/** Rows are read in batches through a cursor, so a huge result stops at the caps instead of arriving whole. */
const BATCH_ROWS = 100;

/**
 * Runs one statement (already approved by the SQL guard) in `BEGIN READ ONLY` with a
 * statement_timeout, reads at most `maxRows` rows and `maxBytes` of them, then rolls back.
 * Parameters are bound by Postgres, never spliced into the text. The guard and the read-only
 * transaction are independent: either alone stops a write.
 */
export async function runReadOnly(sql: LinkedSql, text: string, params: unknown[], limits: ExecutionLimits, now: () => number): Promise<ExecutionResult> {
  const started = now();
  const result: ExecutionResult = { columns: [], rows: [], row_count: 0, truncated: false, duration_ms: 0 };
  // The size of `rows` as JSON: brackets, then each row and its comma.
  let bytes = 2;
  await sql
    .begin("read only", async (tx) => {
      await tx.unsafe(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(limits.timeoutMs))}`);
      await tx.unsafe(`SET LOCAL search_path = "${limits.searchPath.replaceAll('"', '""')}"`);
      const query = tx.unsafe(text, params as never[]).values();
      reading: for await (const batch of query.cursor(BATCH_ROWS)) {
        if (result.columns.length === 0) {
          const columns = (batch as unknown as { columns?: { name: string; type: number }[] }).columns ?? [];
          result.columns = columns.map((c) => ({ name: c.name, type_oid: c.type }));
        }
        for (const row of batch as unknown as unknown[][]) {
          const values = row.map(jsonSafe);
          bytes += JSON.stringify(values).length + (result.rows.length > 0 ? 1 : 0);
          if (result.rows.length >= limits.maxRows || bytes > limits.maxBytes) {
            result.truncated = true;
            break reading;
          }
          result.rows.push(values);
        }
      }
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  result.row_count = result.rows.length;
  result.duration_ms = Math.round(now() - started);
  return result;
}

/** Values JSON can carry: dates as ISO strings, bytes as hex, everything else as the driver gave it. */
function jsonSafe(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${[...value].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (typeof value === "bigint") return value.toString();
  return value;
}
