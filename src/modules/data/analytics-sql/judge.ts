import { checkSql, type GuardVerdict } from "../sql-guard/check";
import { ANALYTICS_POLICY } from "./catalog";

export interface AnalyticsReason {
  code: string;
  message: string;
  position?: number;
}

export interface AnalyticsVerdict extends Omit<GuardVerdict, "reasons"> {
  reasons: AnalyticsReason[];
}

/** Harmless despite the prefix: it names a value's type. */
const SAFE_SERVER_FUNCTIONS = new Set(["pg_typeof"]);

/**
 * The SQL guard over the curated tables, plus two rules for SQL that runs on Billx's own database,
 * where statistics span every organisation: no EXPLAIN (its row estimates count other
 * organisations' rows) and no `pg_*` functions (table sizes, statistics, catalog look-ups).
 * Statements that pass are plain SELECTs or VALUES.
 */
export async function judgeOwnDataSql(sql: string): Promise<AnalyticsVerdict> {
  const verdict = await checkSql(sql, ANALYTICS_POLICY);
  const reasons: AnalyticsReason[] = [...verdict.reasons];
  if (verdict.statement_type === "EXPLAIN") {
    reasons.push({
      code: "explain_not_allowed",
      message: "EXPLAIN is not available on your Billx data: its row estimates are computed over every organisation's rows",
    });
  }
  for (const name of verdict.functions) {
    const bare = name.split(".").at(-1)?.replaceAll('"', "").toLowerCase() ?? "";
    if (bare.startsWith("pg_") && !SAFE_SERVER_FUNCTIONS.has(bare)) {
      reasons.push({
        code: "function_not_allowed",
        message: `${name} is not allowed: pg_* functions describe the database server (sizes, statistics of every organisation), not your data`,
      });
    }
  }
  return { ...verdict, allowed: reasons.length === 0, reasons };
}
