import { sql } from "drizzle-orm";
import type { Database } from "../../../db/client";

export interface RebuildCounts {
  /** retail_daily_totals rows written (organisation-days with any figure). */
  retailDays: number;
  /** agent_event_daily_totals rows written. */
  eventDays: number;
}

/**
 * Recomputes both daily roll-ups from the raw rows, for one organisation or all of them, through
 * the SQL functions of migrations/0015_daily_rollups.sql (the same definitions the triggers add
 * up). Each roll-up is rebuilt in its own statement, so in its own transaction under SHARE locks:
 * writers to its source tables wait for it, readers do not.
 */
export async function rebuildDailyRollups(db: Database, orgId?: string): Promise<RebuildCounts> {
  const only = orgId ?? null;
  const retail = (await db.execute(sql`SELECT rebuild_retail_daily_totals(${only}::text)::text AS written`)) as unknown as { rows: { written: string }[] };
  const events = (await db.execute(sql`SELECT rebuild_agent_event_daily_totals(${only}::text)::text AS written`)) as unknown as {
    rows: { written: string }[];
  };
  return { retailDays: Number(retail.rows[0]?.written ?? 0), eventDays: Number(events.rows[0]?.written ?? 0) };
}
