/**
 * Arranging usage invoices in tests: customers, billing models and plans through the API; agents
 * and their events written straight into the test database, with the past `created_at` and
 * `occurred_at` a test needs (the API stamps agents with now).
 */
import { agentEvents, agents } from "../../src/db/schema";
import { newId } from "../../src/lib/ids";
import { call, expectJson, type SignedUp } from "./api";
import { testCtx } from "./helpers";

export interface InvoiceLine {
  id: string;
  position: number;
  component: string;
  description: string;
  quantity: string;
  unit_amount: number | null;
  amount: number;
}

export interface Invoice {
  id: string;
  number: string | null;
  status: "draft" | "open" | "paid" | "void";
  customer_id: string;
  model_id: string;
  model_version: number;
  period_start: string;
  period_end: string;
  currency: string;
  subtotal: number;
  tax_rate_bps: number;
  tax: number;
  total: number;
  amount_paid: number;
  amount_due: number;
  payment_method: string | null;
  payment_reference: string | null;
  payment_url: string | null;
  issued_at: string | null;
  paid_at: string | null;
  voided_at: string | null;
  lines: InvoiceLine[];
}

export async function createCustomer(owner: SignedUp, name = "Acme Robotics", extra: Record<string, unknown> = {}): Promise<string> {
  const body = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, orgId: owner.orgId, body: { name, ...extra } }), 201);
  return body.id;
}

export async function createModel(owner: SignedUp, body: Record<string, unknown>): Promise<string> {
  const reply = await call("/v1/billing-models", {
    token: owner.access_token,
    orgId: owner.orgId,
    body: { name: `Model ${crypto.randomUUID().slice(0, 8)}`, currency: "USD", ...body },
  });
  return (await expectJson<{ id: string }>(reply, 201)).id;
}

export async function putPlan(owner: SignedUp, customerId: string, modelId: string, seats?: number): Promise<void> {
  const reply = await call(`/v1/customers/${customerId}/billing-plan`, {
    method: "PUT",
    token: owner.access_token,
    orgId: owner.orgId,
    body: { model_id: modelId, ...(seats === undefined ? {} : { seats }) },
  });
  await expectJson(reply, 200);
}

/** An agent working for `customerId`, created long before the periods tests bill. */
export async function insertAgent(orgId: string, customerId: string | null, status: "active" | "paused" | "archived" = "active"): Promise<string> {
  const id = newId("agt");
  await testCtx()
    .db.insert(agents)
    .values({ id, orgId, customerId, name: `Agent ${id.slice(-6)}`, status, createdAt: new Date("2025-01-01T00:00:00Z") });
  return id;
}

export interface EventInput {
  kind: "activity" | "cost" | "outcome";
  type: string;
  at: string;
  quantity?: string;
  amount?: number;
  currency?: string;
  value?: number;
  success?: boolean;
}

export async function insertEvents(orgId: string, agentId: string, events: EventInput[]): Promise<void> {
  await testCtx()
    .db.insert(agentEvents)
    .values(
      events.map((event) => ({
        orgId,
        id: crypto.randomUUID(),
        agentId,
        kind: event.kind,
        type: event.type,
        quantity: event.quantity ?? "1",
        amount: event.amount ?? null,
        currency: event.currency ?? null,
        value: event.value ?? null,
        success: event.success ?? null,
        occurredAt: new Date(event.at),
      })),
    );
}

export function postInvoice(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/invoices", { token: who.access_token, orgId: who.orgId, body });
}

export async function createInvoice(who: SignedUp, body: Record<string, unknown>): Promise<Invoice> {
  return expectJson<Invoice>(await postInvoice(who, body), 201);
}

/** POST to an invoice action (`finalize`, `cancel`, `pay`). */
export function invoiceAction(who: SignedUp, id: string, action: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Response> {
  return call(`/v1/invoices/${id}/${action}`, { token: who.access_token, orgId: who.orgId, body, headers });
}

export async function getInvoice(who: SignedUp, id: string): Promise<Invoice> {
  return expectJson<Invoice>(await call(`/v1/invoices/${id}`, { token: who.access_token, orgId: who.orgId }), 200);
}
