import { and, asc, eq, gt, ilike, ne, or, type SQL } from "drizzle-orm";
import { isUniqueViolation } from "../../../db/errors";
import { agents, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { AgentListInput, AgentView, CreateAgentInput, UpdateAgentInput } from "./schemas";

type AgentRow = typeof agents.$inferSelect;

function agentView(row: AgentRow): AgentView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    external_id: row.externalId,
    customer_id: row.customerId,
    metadata: row.metadata,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

async function getAgentRow(ctx: ServiceCtx, orgId: string, id: string): Promise<AgentRow> {
  const [row] = await ctx.db
    .select()
    .from(agents)
    .where(and(eq(agents.id, id), eq(agents.orgId, orgId)));
  if (!row) throw new NotFound("agent", id);
  return row;
}

/** 422 unless `customerId` is a customer of the organisation that is not archived. */
async function assertOwnCustomer(ctx: ServiceCtx, orgId: string, customerId: string): Promise<void> {
  const [row] = await ctx.db
    .select({ archivedAt: customers.archivedAt })
    .from(customers)
    .where(and(eq(customers.id, customerId), eq(customers.orgId, orgId)));
  if (!row) throw new Unprocessable([{ path: "customer_id", message: `No customer ${customerId} in this organisation` }]);
  if (row.archivedAt) throw new Unprocessable([{ path: "customer_id", message: `Customer ${customerId} is archived` }]);
}

function duplicateExternalId(externalId: string | null | undefined): Conflict {
  return new Conflict(`An agent with external_id ${externalId} already exists in this organisation`);
}

/** Adds an agent; an `external_id` taken by another agent of the organisation is a 409. */
export async function createAgent(ctx: ServiceCtx, input: CreateAgentInput): Promise<AgentView> {
  assertCan(ctx, "agents:write");
  return createAgentInOrg(ctx, input);
}

/**
 * `createAgent` for other modules that own an agent (an assistant is one); no permission check,
 * the caller has made its own. Runs in the caller's transaction when `ctx.db` is one.
 */
export async function createAgentInOrg(ctx: ServiceCtx, input: CreateAgentInput): Promise<AgentView> {
  const orgId = requireOrgId(ctx);
  if (input.customer_id) await assertOwnCustomer(ctx, orgId, input.customer_id);
  const now = ctx.now();
  let row: AgentRow | undefined;
  try {
    // The unique index on (org_id, external_id) decides a race between two creates, not a prior read.
    [row] = await ctx.db
      .insert(agents)
      .values({
        id: newId("agt"),
        orgId,
        name: input.name,
        description: input.description ?? null,
        externalId: input.external_id ?? null,
        customerId: input.customer_id ?? null,
        metadata: input.metadata ?? {},
        status: input.status ?? "active",
        createdAt: now,
        updatedAt: now,
      })
      .returning();
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateExternalId(input.external_id);
    throw error;
  }
  if (!row) throw new Error("agent insert returned no row");
  await recordAudit(ctx, { orgId, action: "agent.created", targetType: "agent", targetId: row.id, metadata: { name: row.name } });
  return agentView(row);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Agents of the organisation, oldest first; archived ones only with `status=archived`. */
export async function listAgents(ctx: ServiceCtx, query: AgentListInput & PageRequest): Promise<Page<AgentView>> {
  assertCan(ctx, "agents:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(agents.orgId, orgId)];
  filters.push(query.status ? eq(agents.status, query.status) : ne(agents.status, "archived"));
  if (query.cursor) filters.push(gt(agents.id, query.cursor));
  if (query.customer_id) filters.push(eq(agents.customerId, query.customer_id));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(agents.name, pattern), ilike(agents.externalId, pattern)));
  }
  const rows = await ctx.db
    .select()
    .from(agents)
    .where(and(...filters))
    .orderBy(asc(agents.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, agentView);
}

/** One agent of the organisation, archived ones too. */
export async function getAgent(ctx: ServiceCtx, id: string): Promise<AgentView> {
  assertCan(ctx, "agents:read");
  return agentView(await getAgentRow(ctx, requireOrgId(ctx), id));
}

/**
 * 404 unless `id` is an agent of the active organisation. For other modules (stats, billing)
 * that answer about one agent; no permission check, the caller has made its own.
 */
export async function assertAgentInOrg(ctx: ServiceCtx, id: string): Promise<void> {
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select({ id: agents.id })
    .from(agents)
    .where(and(eq(agents.id, id), eq(agents.orgId, orgId)));
  if (!row) throw new NotFound("agent", id);
}

/** Changes the given fields; `null` clears description, external id or customer. */
export async function updateAgent(ctx: ServiceCtx, id: string, patch: UpdateAgentInput): Promise<AgentView> {
  assertCan(ctx, "agents:write");
  return updateAgentInOrg(ctx, id, patch);
}

/** `updateAgent` for other modules that own an agent; no permission check, the caller has made its own. */
export async function updateAgentInOrg(ctx: ServiceCtx, id: string, patch: UpdateAgentInput): Promise<AgentView> {
  const orgId = requireOrgId(ctx);
  const changes: Partial<typeof agents.$inferInsert> = {};
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.description !== undefined) changes.description = patch.description;
  if (patch.external_id !== undefined) changes.externalId = patch.external_id;
  if (patch.customer_id !== undefined) changes.customerId = patch.customer_id;
  if (patch.metadata !== undefined) changes.metadata = patch.metadata;
  if (patch.status !== undefined) changes.status = patch.status;
  if (Object.keys(changes).length === 0) return agentView(await getAgentRow(ctx, orgId, id));
  // A missing agent is a 404 even when the body also names a foreign customer.
  await getAgentRow(ctx, orgId, id);
  if (patch.customer_id) await assertOwnCustomer(ctx, orgId, patch.customer_id);
  let row: AgentRow | undefined;
  try {
    [row] = await ctx.db
      .update(agents)
      .set({ ...changes, updatedAt: ctx.now() })
      .where(and(eq(agents.id, id), eq(agents.orgId, orgId)))
      .returning();
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateExternalId(patch.external_id);
    throw error;
  }
  if (!row) throw new NotFound("agent", id);
  await recordAudit(ctx, { orgId, action: "agent.updated", targetType: "agent", targetId: id, metadata: { fields: Object.keys(changes) } });
  return agentView(row);
}

/**
 * Archives an agent: it records no more events and is hidden from the list, while its events
 * stay for invoices and analytics. Archiving twice is a no-op.
 */
export async function archiveAgent(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "agents:write");
  await archiveAgentInOrg(ctx, id);
}

/** `archiveAgent` for other modules that own an agent; no permission check, the caller has made its own. */
export async function archiveAgentInOrg(ctx: ServiceCtx, id: string): Promise<void> {
  const orgId = requireOrgId(ctx);
  const archived = await ctx.db
    .update(agents)
    .set({ status: "archived", updatedAt: ctx.now() })
    .where(and(eq(agents.id, id), eq(agents.orgId, orgId), ne(agents.status, "archived")))
    .returning({ id: agents.id });
  if (archived.length === 0) {
    await getAgentRow(ctx, orgId, id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "agent.archived", targetType: "agent", targetId: id });
}
