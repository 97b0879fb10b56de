/**
 * What the bridge writes to Postgres, behind one small interface: the records service owns the
 * tables; the CallSession only says what happened. The transcript is written turn by turn, so an
 * evicted or restarted Durable Object never loses what was already said.
 */
import type { UsageLine } from "../../money/credits/reservations";
import type { CallEndReason, Turn } from "./bridge";

export interface CallRecords {
  markAnswered(at: Date): Promise<void>;
  appendTurn(turn: Turn): Promise<void>;
  /** More credits held for the call; false when the organisation has no more (the assistant says goodbye). */
  extendHold(credits: number): Promise<boolean>;
  /** Writes the outcome and settles the credit hold; false when the call was already finalised (nothing done). */
  finalize(outcome: { status: "completed" | "failed"; endReason: CallEndReason; endedAt: Date; usage: UsageLine[]; billedSeconds: number }): Promise<boolean>;
}
