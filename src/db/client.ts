import { neon, neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle as drizzleHttp } from "drizzle-orm/neon-http";
import { drizzle as drizzlePool } from "drizzle-orm/neon-serverless";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type { Config } from "../env";

/**
 * What services read and write through: the HTTP client or an open transaction. Without drizzle's
 * relational schema (`db.query.*`), which nothing uses: given the schema, `drizzle()` rebuilds the
 * relations of all hundred tables each time it is called, once per request, about 0.5 ms of CPU.
 */
export type Database = PgDatabase<PgQueryResultHKT>;
export type Transaction = PgTransaction<PgQueryResultHKT>;

/**
 * Points the Neon driver at the local gateway (scripts/lib/neon-gateway.ts) when configured, so
 * local runs use the production code path. Module-level settings are fine here: they hold no
 * connection, only where connections go, and are the same for every request of an isolate.
 */
function configureDriver(config: Config): void {
  const gateway = config.neonLocalGateway;
  if (!gateway) return;
  neonConfig.fetchEndpoint = `http://${gateway}/sql`;
  neonConfig.wsProxy = (host, port) => `${gateway}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

/**
 * Per-request client over Neon's SQL-over-HTTP: one round trip per statement or batch.
 * Create it per request; nothing database-related lives at module scope.
 */
export function createDb(config: Config): Database {
  configureDriver(config);
  return drizzleHttp(neon(config.databaseUrl)) as unknown as Database;
}

export interface TransactionScope {
  config: Config;
  db: Database;
  waitUntil(promise: Promise<unknown>): void;
}

const openTransactions = new WeakSet<object>();

/**
 * Runs `fn` in one interactive transaction. Reuses `scope.db` when it already is a transaction
 * (so services compose), otherwise opens a WebSocket `Pool` for this call only: in Workers a pool
 * must not outlive its request, so it is ended through `waitUntil`.
 */
export async function withTransaction<T>(scope: TransactionScope, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  if (openTransactions.has(scope.db)) return fn(scope.db as unknown as Transaction);
  configureDriver(scope.config);
  const pool = new Pool({ connectionString: scope.config.databaseUrl });
  try {
    const db = drizzlePool(pool);
    return await db.transaction(async (tx) => {
      const typed = tx as unknown as Transaction;
      openTransactions.add(typed);
      return fn(typed);
    });
  } finally {
    scope.waitUntil(pool.end());
  }
}
