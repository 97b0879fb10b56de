/**
 * Connections to customers' own Postgres databases: any Postgres reachable over TCP, through
 * postgres.js (which uses `cloudflare:sockets` in workerd). One short-lived connection per
 * operation, closed when it is done: a Worker request must not leave sockets behind.
 * postgres.js loads with the first linked-database operation, not with every cold isolate.
 */
import type postgres from "postgres";
import { Unprocessable } from "../../../lib/errors";

export type LinkedSql = postgres.Sql;

export interface ParsedUrl {
  host: string;
  port: number;
  database: string;
  user: string;
}

const PRIVATE_HOST = /^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|0\.|\[?::1\]?$|\[?f[cd][0-9a-f]{2}:)/i;

/** Checks a connection URL's shape; the message never repeats the URL (it holds a password). */
export function parseDatabaseUrl(url: string, allowPrivateHosts: boolean): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Unprocessable([{ path: "url", message: "Not a URL; expected postgres://user:password@host:5432/database" }]);
  }
  const errors: { path: string; message: string }[] = [];
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") errors.push({ path: "url", message: "Use a postgres:// or postgresql:// URL" });
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (!parsed.hostname) errors.push({ path: "url", message: "The URL has no host" });
  if (!database) errors.push({ path: "url", message: "The URL names no database (…/database at the end)" });
  if (!parsed.username) errors.push({ path: "url", message: "The URL names no user" });
  if (parsed.hostname && !allowPrivateHosts && PRIVATE_HOST.test(parsed.hostname)) {
    errors.push({ path: "url", message: `${parsed.hostname} is a private address; link a database reachable from the internet` });
  }
  if (errors.length > 0) throw new Unprocessable(errors, "Cannot use this database URL");
  return { host: parsed.hostname, port: Number(parsed.port || 5432), database, user: decodeURIComponent(parsed.username) };
}

/** Opens a connection, runs `work`, and always closes it. */
export async function withLinkedDatabase<T>(url: string, work: (sql: LinkedSql) => Promise<T>): Promise<T> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, {
    max: 1,
    // Types are fetched per connection otherwise: one round trip we do not need (values come as text).
    fetch_types: false,
    prepare: false,
    connect_timeout: 10,
    idle_timeout: 0,
    onnotice: () => {},
    // Values are handed over as Postgres prints them; the API returns them as JSON strings/numbers.
    types: {},
  });
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** A connection error as a sentence for the caller, without the URL. */
export function connectionProblem(error: unknown): Unprocessable {
  const message = error instanceof Error ? error.message : String(error);
  return new Unprocessable([{ path: "url", message: `Could not connect to the database: ${message}` }], "Cannot reach this database");
}

/** An error Postgres raised about the statement (it has a SQLSTATE), as opposed to reaching the server. */
export function isStatementError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && error.name === "PostgresError" && typeof (error as { code?: unknown }).code === "string";
}
