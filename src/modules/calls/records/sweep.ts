/**
 * Calls whose CallSession Durable Object died without finalising them (a deploy, a crash): still
 * `in_progress`, but silent for longer than any call may last. They are ended as `lost` through
 * `finalizeCall`, so the hold is settled once even if the bridge wakes up and finalises too.
 */
import { sql } from "drizzle-orm";
import type { ServiceCtx } from "../../../lib/context";
import { systemActor } from "../../identity/auth/principal";
import { queryRows } from "../../money/credits/ledger";
import { finalizeCall } from "./service";

// Grace beyond CALL_MAX_SECONDS before a silent call counts as lost: a live bridge writes turns
// and extends its hold far more often than this.
const LOST_AFTER_EXTRA_MS = 5 * 60_000;
const SWEEP_PER_RUN = 100;

/** Ends lost calls at their last sign of life; answers how many this run ended. */
export async function sweepStaleCalls(ctx: ServiceCtx): Promise<number> {
  const cutoff = new Date(ctx.now().getTime() - ctx.config.calls.maxSeconds * 1000 - LOST_AFTER_EXTRA_MS);
  // The last sign of life: the row's own update (answer, hold extension) or its newest transcript turn.
  const stale = await queryRows<{ id: string; org_id: string; last_activity: string }>(
    ctx.db,
    sql`SELECT c.id, c.org_id, GREATEST(c.updated_at, COALESCE(MAX(t.at), c.updated_at)) AS last_activity
        FROM calls c LEFT JOIN call_turns t ON t.call_id = c.id
        WHERE c.status = 'in_progress' AND c.ended_at IS NULL
        GROUP BY c.id
        HAVING GREATEST(c.updated_at, COALESCE(MAX(t.at), c.updated_at)) < ${cutoff.toISOString()}::timestamptz
        ORDER BY c.id
        LIMIT ${SWEEP_PER_RUN}`,
  );
  let ended = 0;
  for (const call of stale) {
    const callCtx = { ...ctx, actor: systemActor(call.org_id, []) };
    // No usage reached us from a dead bridge: the hold goes back rather than charging a guess.
    const end = { status: "failed" as const, endReason: "lost", endedAt: new Date(call.last_activity), usage: [] };
    if (await finalizeCall(callCtx, call.id, end)) ended++;
  }
  return ended;
}
