import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import type { AgentEventKind } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, type FieldError, NotFound, Unprocessable } from "../../../lib/errors";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import {
  type ActivityEventInput,
  BatchEvent,
  type BatchEventInput,
  type CostEventInput,
  type EventBatchResultView,
  eventFieldErrors,
  FUTURE_TOLERANCE_MS,
  type OutcomeEventInput,
  type RecordedEventView,
} from "./schemas";

/** One event as stored: every kind's columns, null where the kind has none. */
interface EventRow {
  id: string;
  agent_id: string;
  kind: AgentEventKind;
  type: string;
  quantity: string;
  amount: number | null;
  currency: string | null;
  value: number | null;
  success: boolean | null;
  occurred_at: string;
  metadata: Record<string, unknown> | null;
}

/** What decides whether an agent may record an event at a given time. */
interface AgentGate {
  status: string;
  customerId: string | null;
  /** The latest period of the agent's customer with an open or paid invoice, if any. */
  closed: { start: string; end: string; endsAt: number; number: string | null; status: string } | null;
}

export type KindInput = ({ kind: "activity" } & ActivityEventInput) | ({ kind: "cost" } & CostEventInput) | ({ kind: "outcome" } & OutcomeEventInput);

function toRow(agentId: string, input: KindInput): EventRow {
  const base = { id: input.id, agent_id: agentId, type: input.type, occurred_at: input.occurred_at.toISOString(), metadata: input.metadata ?? null };
  switch (input.kind) {
    case "activity":
      return { ...base, kind: "activity", quantity: input.quantity ?? "1", amount: null, currency: null, value: null, success: null };
    case "cost":
      return { ...base, kind: "cost", quantity: "1", amount: input.amount, currency: input.currency, value: null, success: null };
    case "outcome":
      return { ...base, kind: "outcome", quantity: "1", amount: null, currency: input.currency ?? null, value: input.value ?? null, success: input.success };
  }
}

/** drizzle's raw `execute` answers `{rows, rowCount}` on both Neon drivers. */
async function run<T>(db: Database, query: SQL): Promise<{ rows: T[]; rowCount: number | null }> {
  return (await db.execute(query)) as unknown as { rows: T[]; rowCount: number | null };
}

/**
 * Status and closed invoice period of each agent in one round trip: the latest open or paid
 * invoice of the agent's customer, found through the (org, customer, model, period) index.
 * Invoices are read here, not through their module, because ingestion must stay at a handful
 * of statements per batch.
 */
async function loadAgentGates(db: Database, orgId: string, agentIds: string[]): Promise<Map<string, AgentGate>> {
  if (agentIds.length === 0) return new Map();
  const { rows } = await run<{
    id: string;
    status: string;
    customer_id: string | null;
    period_start: string | null;
    period_end: string | null;
    number: string | null;
    invoice_status: string | null;
  }>(
    db,
    sql`SELECT a.id, a.status, a.customer_id, c.period_start::text AS period_start, c.period_end::text AS period_end,
               c.number, c.status AS invoice_status
          FROM agents a
          LEFT JOIN LATERAL (
            SELECT i.period_start, i.period_end, i.number, i.status
              FROM invoices i
             WHERE i.org_id = a.org_id AND i.customer_id = a.customer_id AND i.status IN ('open', 'paid')
             ORDER BY i.period_end DESC
             LIMIT 1
          ) c ON true
         WHERE a.org_id = ${orgId}
           AND a.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(agentIds)}::jsonb))`,
  );
  return new Map(
    rows.map((r) => [
      r.id,
      {
        status: r.status,
        customerId: r.customer_id,
        closed:
          r.period_start && r.period_end && r.invoice_status
            ? { start: r.period_start, end: r.period_end, endsAt: Date.parse(`${r.period_end}T00:00:00Z`), number: r.number, status: r.invoice_status }
            : null,
      },
    ]),
  );
}

/** Reasons `row` may not be stored now, besides its own shape: the clock and a closed invoice period. */
function timeErrors(row: EventRow, gate: AgentGate, now: Date): FieldError[] {
  const errors: FieldError[] = [];
  const occurredAt = Date.parse(row.occurred_at);
  if (occurredAt > now.getTime() + FUTURE_TOLERANCE_MS) {
    errors.push({ path: "occurred_at", message: `More than 5 minutes ahead of the server's clock (${now.toISOString()})` });
  }
  const closed = gate.closed;
  // Periods are [start, end): an event at the very end belongs to the next, still open, period.
  if (closed && occurredAt < closed.endsAt) {
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
 * Which of `ids` the organisation has already stored. Only asked about events refused for their
 * agent or time, so a retry of an event stored before its agent was archived or its period
 * closed still answers "duplicate" rather than a refusal the client cannot act on.
 */
async function storedIds(db: Database, orgId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await run<{ id: string }>(
    db,
    sql`SELECT e.id FROM agent_events e WHERE e.org_id = ${orgId} AND e.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`,
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Stores `rows` in one statement and answers how many were new. `ON CONFLICT DO NOTHING` on the
 * (org_id, id) key makes a replayed event, or one racing in from a concurrent batch, count once.
 * Rows go in id order so two batches that share ids lock them in the same order and cannot
 * deadlock each other.
 */
async function storeEvents(db: Database, orgId: string, rows: EventRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await run(
    db,
    sql`INSERT INTO agent_events (org_id, id, agent_id, kind, type, quantity, amount, currency, value, success, occurred_at, metadata)
        SELECT ${orgId}, e.id, e.agent_id, e.kind, e.type, e.quantity, e.amount, e.currency, e.value, e.success, e.occurred_at, e.metadata
          FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            AS e(id text, agent_id text, kind text, type text, quantity numeric, amount bigint, currency text, value bigint,
                 success boolean, occurred_at timestamptz, metadata jsonb)
         ORDER BY e.id
        ON CONFLICT (org_id, id) DO NOTHING`,
  );
  return result.rowCount ?? 0;
}

/**
 * Ingests a batch of mixed events. Each item is validated on its own, so bad ones are reported
 * by index in `rejected` and the rest are stored; a repeated id (stored before, or earlier in
 * this batch) is a duplicate. Two statements whatever the batch size: the agents with their
 * closed periods, and one insert; a third only when events are refused for their agent or time.
 */
export async function ingestEventBatch(ctx: ServiceCtx, events: unknown[]): Promise<EventBatchResultView> {
  assertCan(ctx, "events:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const rejected: EventBatchResultView["rejected"] = [];
  const parsed: { index: number; event: BatchEventInput }[] = [];
  events.forEach((raw, index) => {
    const result = BatchEvent.safeParse(raw);
    if (result.success) parsed.push({ index, event: result.data });
    else rejected.push({ index, errors: eventFieldErrors(result.error) });
  });

  const gates = await loadAgentGates(ctx.db, orgId, [...new Set(parsed.map((p) => p.event.agent_id))]);
  const toStore: EventRow[] = [];
  const seen = new Set<string>();
  const refused: { index: number; id: string; errors: FieldError[] }[] = [];
  let duplicates = 0;
  for (const { index, event } of parsed) {
    const row = toRow(event.agent_id, event);
    const gate = gates.get(event.agent_id);
    const errors = [...agentErrors(event.agent_id, gate), ...(gate ? timeErrors(row, gate, now) : [])];
    if (errors.length > 0) refused.push({ index, id: row.id, errors });
    else if (seen.has(row.id)) duplicates++;
    else {
      seen.add(row.id);
      toStore.push(row);
    }
  }
  const already = await storedIds(
    ctx.db,
    orgId,
    refused.map((r) => r.id),
  );
  for (const { index, id, errors } of refused) {
    if (already.has(id) || seen.has(id)) duplicates++;
    else rejected.push({ index, errors });
  }
  const accepted = await storeEvents(ctx.db, orgId, toStore);
  rejected.sort((a, b) => a.index - b.index);
  return { accepted, duplicates: duplicates + toStore.length - accepted, rejected };
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
  const gate = (await loadAgentGates(ctx.db, orgId, [agentId])).get(agentId);
  if (!gate) throw new NotFound("agent", agentId);
  const row = toRow(agentId, input);
  const errors = timeErrors(row, gate, ctx.now());
  if (gate.status === "archived" || errors.length > 0) {
    if ((await storedIds(ctx.db, orgId, [row.id])).has(row.id)) return { id: row.id, agent_id: agentId, kind: row.kind, status: "duplicate" };
    if (gate.status === "archived") throw new Conflict(`Agent ${agentId} is archived and records no events`);
    throw new Unprocessable(errors);
  }
  const accepted = await storeEvents(ctx.db, orgId, [row]);
  return { id: row.id, agent_id: agentId, kind: row.kind, status: accepted === 1 ? "accepted" : "duplicate" };
}
