import type { ServiceCtx } from "../../../lib/context";
import { Conflict, type FieldError, NotFound, Unprocessable } from "../../../lib/errors";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { checkBatchEvent } from "./batch-event";
import { type AgentGate, type EventRow, insertGatedEvents } from "./queries";
import {
  type ActivityEventInput,
  type CostEventInput,
  type EventBatchResultView,
  FUTURE_TOLERANCE_MS,
  type OutcomeEventInput,
  type RecordedEventView,
} from "./schemas";

export type KindInput = ({ kind: "activity" } & ActivityEventInput) | ({ kind: "cost" } & CostEventInput) | ({ kind: "outcome" } & OutcomeEventInput);

/** The row to store for `input` at position `i`, flagged `future` when the server's clock says so. */
function toRow(i: number, agentId: string, input: KindInput, now: Date): EventRow {
  const occurredAt = input.occurred_at.getTime();
  const row: EventRow = { i, id: input.id, agent_id: agentId, kind: input.kind, type: input.type, quantity: "1", occurred_at: input.occurred_at.toISOString() };
  if (input.metadata !== undefined) row.metadata = input.metadata;
  if (occurredAt > now.getTime() + FUTURE_TOLERANCE_MS) row.future = true;
  switch (input.kind) {
    case "activity":
      if (input.quantity !== undefined) row.quantity = input.quantity;
      break;
    case "cost":
      row.amount = input.amount;
      row.currency = input.currency;
      break;
    case "outcome":
      row.success = input.success;
      if (input.value !== undefined) row.value = input.value;
      if (input.currency !== undefined) row.currency = input.currency;
      break;
  }
  return row;
}

/** Reasons `row` may not be stored now, besides its own shape: the clock and a closed invoice period. */
function timeErrors(row: EventRow, gate: AgentGate, now: Date): FieldError[] {
  const errors: FieldError[] = [];
  if (row.future) errors.push({ path: "occurred_at", message: `More than 5 minutes ahead of the server's clock (${now.toISOString()})` });
  const closed = gate.closed;
  // Periods are [start, end): an event at the very end belongs to the next, still open, period.
  if (closed && Date.parse(row.occurred_at) < closed.endsAt) {
    const invoice = closed.number ? `invoice ${closed.number}` : "an invoice";
    errors.push({
      path: "occurred_at",
      message:
        `Falls in a closed invoice period: customer ${gate.customerId} has ${invoice} (${closed.status}) for ${closed.start} to ${closed.end}, ` +
        `so events of this agent before ${new Date(closed.endsAt).toISOString()} can no longer be recorded`,
    });
  }
  return errors;
}

function agentErrors(agentId: string, gate: AgentGate | undefined): FieldError[] {
  if (!gate) return [{ path: "agent_id", message: `No agent ${agentId} in this organisation` }];
  if (gate.status === "archived") return [{ path: "agent_id", message: `Agent ${agentId} is archived and records no events` }];
  return [];
}

/**
 * Ingests a batch of mixed events. Each item is validated on its own, so bad ones are reported
 * by index in `rejected` and the rest go to one statement that checks their agents, the clock
 * and closed periods, and stores those that pass. A repeated id (stored before, or earlier in
 * this batch) is a duplicate, including for an event refused for its agent or time.
 */
export async function ingestEventBatch(ctx: ServiceCtx, events: unknown[]): Promise<EventBatchResultView> {
  assertCan(ctx, "events:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const rejected: EventBatchResultView["rejected"] = [];
  const rows: EventRow[] = [];
  events.forEach((raw, index) => {
    const checked = checkBatchEvent(raw);
    if ("errors" in checked) rejected.push({ index, errors: checked.errors });
    else rows.push(toRow(index, checked.event.agent_id, checked.event, now));
  });
  if (rows.length === 0) return { accepted: 0, duplicates: 0, rejected };

  const { accepted, allowed, refused } = await insertGatedEvents(ctx.db, orgId, rows);
  const rowAt = new Map(rows.map((row) => [row.i, row]));
  let duplicates = allowed - accepted;
  for (const { i, gate, duplicate } of refused) {
    const row = rowAt.get(i) as EventRow;
    if (duplicate) duplicates++;
    else rejected.push({ index: i, errors: [...agentErrors(row.agent_id, gate), ...(gate ? timeErrors(row, gate, now) : [])] });
  }
  rejected.sort((a, b) => a.index - b.index);
  return { accepted, duplicates, rejected };
}

/**
 * Records one event of an agent (`POST /v1/agents/{id}/activities|costs|outcomes`). A missing
 * agent is a 404, an archived one a 409, a time it may not have (the future, a closed period) a
 * 422; a repeated id answers `duplicate` and stores nothing, even when the agent or period has
 * closed since the first time.
 */
export async function recordAgentEvent(ctx: ServiceCtx, agentId: string, input: KindInput): Promise<RecordedEventView> {
  assertCan(ctx, "events:write");
  return recordOwnAgentEvent(ctx, agentId, input);
}

/**
 * `recordAgentEvent` without the `events:write` check, for the product's own modules recording
 * what their agent did (an assistant's booking as its `booking_made` outcome): the caller has
 * already checked its own permission, and a staff member allowed to book need not be allowed to
 * write usage events by hand.
 */
export async function recordOwnAgentEvent(ctx: ServiceCtx, agentId: string, input: KindInput): Promise<RecordedEventView> {
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const row = toRow(0, agentId, input, now);
  const { accepted, refused } = await insertGatedEvents(ctx.db, orgId, [row]);
  const answer = (status: RecordedEventView["status"]) => ({ id: row.id, agent_id: agentId, kind: row.kind, status });
  const refusal = refused[0];
  if (!refusal) return answer(accepted === 1 ? "accepted" : "duplicate");
  if (!refusal.gate) throw new NotFound("agent", agentId);
  if (refusal.duplicate) return answer("duplicate");
  if (refusal.gate.status === "archived") throw new Conflict(`Agent ${agentId} is archived and records no events`);
  throw new Unprocessable(timeErrors(row, refusal.gate, now));
}
