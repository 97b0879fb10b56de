import { DatabaseError, type PoolClient, types } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { createDb, type Transaction, withTransaction } from "../../../db/client";
import type { ServiceCtx } from "../../../lib/context";

/** The restricted role of migration 0004_analytics_role and the setting its row policies read. */
export const ANALYST_ROLE = "billx_analyst";
export const ORG_SETTING = "billx.org_id";

export interface AnalyticsLimits {
  timeoutMs: number;
  maxRows: number;
  /** Of the JSON the rows become. */
  maxBytes: number;
}

export interface AnalyticsResult {
  columns: { name: string; type_oid: number }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  duration_ms: number;
}

/** Postgres refused or stopped the statement itself (not the connection): the caller's SQL is at fault. */
export class AnalyticsStatementError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AnalyticsStatementError";
  }
}

/** Ends the transaction with a rollback after the rows were read. */
class Rollback extends Error {}

const CURSOR = "billx_analytics";
/** Rows per FETCH: a capped result stops after at most one batch too many. */
const BATCH_ROWS = 100;
/**
 * SQLSTATE classes that are about the server or the connection, not the statement: those stay
 * 5xx. Everything else (syntax, permissions, read-only, timeout, division by zero) is the SQL's.
 */
const SERVER_CLASSES = ["08", "53", "58", "XX", "57P"];

const TIMESTAMPTZ = 1184;
/** Date and time types as Postgres writes them, so a `date` does not turn into a midnight in some zone. */
const TEXT_TYPES = new Set([1082, 1083, 1114, 1186, 1266]);
/** The session runs in UTC, so Postgres writes `2026-05-01 12:00:00.123456+00`; ISO 8601 keeps the microseconds. */
const isoTimestamp = (value: string) => value.replace(" ", "T").replace(/\+00$/, "Z");
const parsers = {
  getTypeParser: (oid: number, format?: "text" | "binary") => {
    if (oid === TIMESTAMPTZ) return isoTimestamp;
    return TEXT_TYPES.has(oid) ? (value: string) => value : types.getTypeParser(oid, format);
  },
};

/**
 * Runs SQL the guard approved on Billx's own database as the organisation sees it: in a read-only
 * transaction, as the role `billx_analyst` (SELECT on the curated columns only) with row-level
 * security keyed to `orgId`, a statement timeout and row/byte caps, then rolled back.
 *
 * Always its own transaction, even when the caller is inside one: READ ONLY must be the first
 * thing a transaction does, and the rollback must not undo the caller's work.
 *
 * Rows are read through a cursor (`DECLARE ... NO SCROLL CURSOR`, then `FETCH` in batches), which
 * works over the Neon Pool's plain client and stops reading at the caps instead of receiving the
 * whole result; ORDER BY is kept exactly as written, unlike wrapping the SQL in a LIMIT query.
 * The DECLARE goes through the extended protocol, so Postgres itself refuses a second statement.
 */
export async function runAsAnalyst(ctx: ServiceCtx, orgId: string, text: string, limits: AnalyticsLimits): Promise<AnalyticsResult> {
  const started = Date.now();
  const result: AnalyticsResult = { columns: [], rows: [], row_count: 0, truncated: false, duration_ms: 0 };
  const scope = { config: ctx.config, db: createDb(ctx.config), waitUntil: (p: Promise<unknown>) => ctx.waitUntil(p) };
  try {
    await withTransaction(scope, async (tx) => {
      await enterAnalystSession(tx, orgId, limits.timeoutMs);
      await readCapped(rawClient(tx), text, limits, started, result).catch((error: unknown) => {
        throw statementError(error, limits.timeoutMs);
      });
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  result.row_count = result.rows.length;
  result.duration_ms = Date.now() - started;
  return result;
}

/**
 * The session state every own-data query runs under. `SET LOCAL` and `set_config(..., true)` end
 * with the transaction, so the pooled connection never keeps the role or the organisation.
 */
async function enterAnalystSession(tx: Transaction, orgId: string, timeoutMs: number): Promise<void> {
  await tx.execute(sql`SET TRANSACTION READ ONLY`);
  await tx.execute(sql.raw(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`));
  await tx.execute(sql.raw(`SET LOCAL ROLE ${ANALYST_ROLE}`));
  await tx.execute(sql`select set_config(${ORG_SETTING}, ${orgId}, true)`);
  // The guard resolved unqualified names to public; Postgres must read the same tables.
  await tx.execute(sql`SET LOCAL search_path = public`);
  // Days and months in SQL (date_trunc, ::date) mean UTC days, whoever asks.
  await tx.execute(sql`SET LOCAL TimeZone = 'UTC'`);
}

type RawClient = Pick<PoolClient, "query">;

/** The Pool client under drizzle's transaction: rows as arrays (duplicate column names survive) with their type oids. */
function rawClient(tx: Transaction): RawClient {
  const client = (tx._.session as unknown as { client?: Partial<RawClient> }).client;
  if (typeof client?.query !== "function") throw new Error("own-data analytics needs a Neon Pool transaction (withTransaction)");
  return client as RawClient;
}

async function readCapped(client: RawClient, text: string, limits: AnalyticsLimits, started: number, result: AnalyticsResult): Promise<void> {
  // A name makes the driver use the extended protocol, which takes exactly one statement.
  await client.query({ name: "billx_analytics_declare", text: `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${text}`, rowMode: "array" });
  // The size of `rows` as JSON: brackets, then each row and its comma.
  let bytes = 2;
  for (;;) {
    const batch = await client.query({ text: `FETCH FORWARD ${BATCH_ROWS} FROM ${CURSOR}`, rowMode: "array", types: parsers });
    if (result.columns.length === 0) result.columns = batch.fields.map((f) => ({ name: f.name, type_oid: f.dataTypeID }));
    for (const row of batch.rows) {
      const values = row.map(jsonSafe);
      bytes += JSON.stringify(values).length + (result.rows.length > 0 ? 1 : 0);
      if (result.rows.length >= limits.maxRows || bytes > limits.maxBytes) {
        result.truncated = true;
        return;
      }
      result.rows.push(values);
    }
    if (batch.rows.length < BATCH_ROWS) return;
    // statement_timeout counts each FETCH alone; this bounds them together.
    if (Date.now() - started > limits.timeoutMs) throw new AnalyticsStatementError("57014", `The query ran longer than ${limits.timeoutMs} ms and was stopped`);
  }
}

/** A statement error as AnalyticsStatementError; anything else (the connection, the server) unchanged. */
function statementError(error: unknown, timeoutMs: number): unknown {
  if (error instanceof AnalyticsStatementError) return error;
  if (!(error instanceof DatabaseError) || !error.code) return error;
  const code = error.code;
  if (SERVER_CLASSES.some((prefix) => code.startsWith(prefix))) return error;
  if (code === "57014") return new AnalyticsStatementError(code, `The query ran longer than ${timeoutMs} ms and was stopped`);
  return new AnalyticsStatementError(code, error.message);
}

/** Values JSON can carry: timestamps as ISO strings, bytes as hex, big integers as strings. */
function jsonSafe(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${[...value].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (typeof value === "bigint") return value.toString();
  return value;
}
