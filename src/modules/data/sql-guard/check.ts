import { type GuardVerdict, judgeParse } from "./guard";
import { parseSql } from "./parser";
import type { SqlPolicy } from "./relations";

export type { GuardReason, GuardReasonCode, GuardVerdict } from "./guard";
export type { SqlPolicy } from "./relations";

/**
 * Whether `sql` may run against a customer's database under `policy`, with every reason it may
 * not. The guard is one of two locks: whoever runs an allowed statement still runs it inside
 * `BEGIN READ ONLY` with a statement timeout, a row cap, and `search_path` set to the policy's
 * default schema (see `SqlPolicy.defaultSchema`).
 */
export async function checkSql(sql: string, policy: SqlPolicy = {}): Promise<GuardVerdict> {
  return judgeParse(await parseSql(sql), policy);
}
