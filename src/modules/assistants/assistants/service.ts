import { and, asc, eq, gt, ilike, ne, or, type SQL } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { type AssistantWeeklyHours, assistants } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import type { IdempotentRequest } from "../../../lib/idempotency";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { numbersByAssistant } from "../../calls/numbers/queries";
import { getDatabaseRow } from "../../data/databases/service";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { archiveAgentInOrg, createAgentInOrg, updateAgentInOrg } from "../../usage/agents/service";
import {
  type Assistant,
  type AssistantListInput,
  type CreateAssistantInput,
  DEFAULT_TOOLS,
  DEFAULT_VOICE,
  type UpdateAssistantInput,
  VOICE_FOR_TYPE,
} from "./schemas";

export type { Assistant } from "./schemas";

type AssistantRow = typeof assistants.$inferSelect;

/** What an assistant id can look like; anything else is a 404 without a query. */
const ASSISTANT_ID = /^ast_[0-9A-Za-z]{1,64}$/;

const SHORTHAND_DAYS = {
  monday: "mon",
  tuesday: "tue",
  wednesday: "wed",
  thursday: "thu",
  friday: "fri",
  saturday: "sat",
  sunday: "sun",
} as const;

/** `phoneNumbers`: the numbers that ring it (the calls module attaches them). */
function assistantView(row: AssistantRow, phoneNumbers: string[]): Assistant {
  return {
    id: row.id,
    name: row.name,
    business_name: row.businessName,
    business_description: row.businessDescription,
    timezone: row.timezone,
    weekly_hours: row.weeklyHours,
    slot_duration: row.slotDuration,
    buffer_minutes: row.bufferMinutes,
    min_notice_minutes: row.minNoticeMinutes,
    horizon_days: row.horizonDays,
    closed_dates: row.closedDates,
    language: row.language,
    greeting: row.greeting,
    instructions: row.instructions,
    voice: row.voice,
    tools: row.tools,
    database_id: row.databaseId,
    business_phone: row.businessPhone,
    phone_numbers: phoneNumbers,
    agent_id: row.agentId,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The assistant with the numbers that ring it. */
async function assistantWithNumbers(ctx: ServiceCtx, row: AssistantRow): Promise<Assistant> {
  const numbers = await numbersByAssistant(ctx.db, row.orgId, [row.id]);
  return assistantView(row, numbers.get(row.id) ?? []);
}

async function getAssistantRow(ctx: ServiceCtx, orgId: string, id: string): Promise<AssistantRow> {
  if (!ASSISTANT_ID.test(id)) throw new NotFound("assistant", id.slice(0, 100).replaceAll("\u0000", ""));
  const [row] = await ctx.db
    .select()
    .from(assistants)
    .where(and(eq(assistants.id, id), eq(assistants.orgId, orgId)));
  if (!row) throw new NotFound("assistant", id);
  return row;
}

/** 422 on `database_id` unless it is a linked database of the organisation. */
async function assertOwnDatabase(ctx: ServiceCtx, databaseId: string): Promise<void> {
  try {
    await getDatabaseRow(ctx, databaseId);
  } catch (error) {
    if (error instanceof NotFound) throw new Unprocessable([{ path: "database_id", message: `No linked database ${databaseId} in this organisation` }]);
    throw error;
  }
}

/** The weekly hours the shorthand (`start_time`, `end_time`, `available_days`) stands for, if given. */
function shorthandHours(input: {
  start_time?: string | null;
  end_time?: string | null;
  available_days?: Partial<Record<keyof typeof SHORTHAND_DAYS, boolean>> | null;
}): AssistantWeeklyHours | undefined {
  if (!input.start_time || !input.end_time || !input.available_days) return undefined;
  const hours: AssistantWeeklyHours = {};
  for (const [long, short] of Object.entries(SHORTHAND_DAYS) as [keyof typeof SHORTHAND_DAYS, (typeof SHORTHAND_DAYS)[keyof typeof SHORTHAND_DAYS]][]) {
    if (input.available_days[long]) hours[short] = [[input.start_time, input.end_time]];
  }
  return hours;
}

/** Sorted, without repeats. */
const uniqueSorted = (dates: string[]) => [...new Set(dates)].sort();
const uniqueTools = <T>(tools: T[]) => [...new Set(tools)];

/**
 * Adds an assistant and the usage agent that meters it, in one transaction. Accepts the seed's
 * shorthand (`receptionist_name`, `start_time` + `end_time` + `available_days`,
 * `booking_duration_minutes`) in place of the full fields.
 */
export async function createAssistant(ctx: ServiceCtx, input: CreateAssistantInput, request?: IdempotentRequest): Promise<Assistant> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  if (input.database_id) await assertOwnDatabase(ctx, input.database_id);
  const name = (input.name ?? input.receptionist_name) as string;
  const now = ctx.now();
  const id = newId("ast");
  return withTransaction(ctx, async (tx) => {
    const txCtx = { ...ctx, db: tx };
    const agent = await createAgentInOrg(txCtx, { name, description: `Receptionist for ${input.business_name}`, metadata: { assistant_id: id } });
    const [row] = await tx
      .insert(assistants)
      .values({
        id,
        orgId,
        agentId: agent.id,
        name,
        businessName: input.business_name,
        businessDescription: input.business_description ?? null,
        timezone: input.timezone,
        weeklyHours: input.weekly_hours ?? shorthandHours(input) ?? {},
        slotDuration: input.slot_duration ?? input.booking_duration_minutes ?? 30,
        bufferMinutes: input.buffer_minutes ?? 0,
        minNoticeMinutes: input.min_notice_minutes ?? 60,
        horizonDays: input.horizon_days ?? 60,
        closedDates: uniqueSorted(input.closed_dates ?? []),
        language: input.language ?? "en",
        greeting: input.greeting ?? null,
        instructions: input.instructions ?? null,
        voice: input.voice ?? (input.voice_type ? VOICE_FOR_TYPE[input.voice_type] : DEFAULT_VOICE),
        tools: uniqueTools(input.tools ?? [...DEFAULT_TOOLS]),
        databaseId: input.database_id ?? null,
        businessPhone: input.business_phone ?? null,
        status: "active",
        idempotencyKey: request?.key ?? null,
        idempotencyFingerprint: request?.fingerprint ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!row) throw new Error("assistant insert returned no row");
    await recordAudit(txCtx, { orgId, action: "assistant.created", targetType: "assistant", targetId: id, metadata: { name, agent_id: agent.id } });
    return assistantView(row, []);
  });
}

/**
 * The assistant an earlier request with this Idempotency-Key created, if any; the key with a
 * different request is a 409.
 */
export async function assistantForKey(ctx: ServiceCtx, request: IdempotentRequest): Promise<Assistant | undefined> {
  const [row] = await ctx.db
    .select()
    .from(assistants)
    .where(and(eq(assistants.orgId, requireOrgId(ctx)), eq(assistants.idempotencyKey, request.key)));
  if (!row) return undefined;
  if (row.idempotencyFingerprint !== request.fingerprint) {
    throw new Conflict("This Idempotency-Key was used for a different request; use a new key for a new assistant");
  }
  return assistantWithNumbers(ctx, row);
}

/**
 * Creates an assistant once per Idempotency-Key: a repeat of the same request answers the first
 * assistant (`replayed`). Racing repeats create one: the unique index lets one insert in, and the
 * others answer its assistant.
 */
export async function createAssistantOnce(
  ctx: ServiceCtx,
  input: CreateAssistantInput,
  request: IdempotentRequest,
): Promise<{ assistant: Assistant; replayed: boolean }> {
  assertCan(ctx, "assistants:write");
  const earlier = await assistantForKey(ctx, request);
  if (earlier) return { assistant: earlier, replayed: true };
  try {
    return { assistant: await createAssistant(ctx, input, request), replayed: false };
  } catch (error) {
    const winner = isUniqueViolation(error) ? await assistantForKey(ctx, request) : undefined;
    if (!winner) throw error;
    return { assistant: winner, replayed: true };
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Assistants of the organisation, oldest first; archived ones only with `status=archived`. */
export async function listAssistants(ctx: ServiceCtx, query: AssistantListInput & PageRequest): Promise<Page<Assistant>> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(assistants.orgId, orgId)];
  filters.push(query.status ? eq(assistants.status, query.status) : ne(assistants.status, "archived"));
  if (query.cursor) filters.push(gt(assistants.id, query.cursor));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(assistants.name, pattern), ilike(assistants.businessName, pattern)));
  }
  const rows = await ctx.db
    .select()
    .from(assistants)
    .where(and(...filters))
    .orderBy(asc(assistants.id))
    .limit(query.limit + 1);
  const numbers = await numbersByAssistant(
    ctx.db,
    orgId,
    rows.map((r) => r.id),
  );
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (row) => assistantView(row, numbers.get(row.id) ?? []),
  );
}

/** One assistant of the organisation, archived ones too. */
export async function getAssistant(ctx: ServiceCtx, id: string): Promise<Assistant> {
  assertCan(ctx, "assistants:read");
  return getAssistantInOrg(ctx, id);
}

/**
 * One assistant of the active organisation, archived ones too; 404 otherwise. For callers
 * without HTTP (the phone call Durable Object); no permission check, the caller has made its own.
 */
export async function getAssistantInOrg(ctx: ServiceCtx, id: string): Promise<Assistant> {
  return assistantWithNumbers(ctx, await getAssistantRow(ctx, requireOrgId(ctx), id));
}

/**
 * Changes the given fields; `null` clears the optional ones. A new name renames the agent; a
 * status change archives or restores it too.
 */
export async function updateAssistant(ctx: ServiceCtx, id: string, patch: UpdateAssistantInput): Promise<Assistant> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  const changes: Partial<typeof assistants.$inferInsert> = {};
  const name = patch.name ?? patch.receptionist_name ?? undefined;
  if (name !== undefined) changes.name = name;
  if (patch.business_name !== undefined) changes.businessName = patch.business_name;
  if (patch.business_description !== undefined) changes.businessDescription = patch.business_description;
  if (patch.timezone !== undefined) changes.timezone = patch.timezone;
  const weeklyHours = patch.weekly_hours ?? shorthandHours(patch);
  if (weeklyHours !== undefined) changes.weeklyHours = weeklyHours;
  const slotDuration = patch.slot_duration ?? patch.booking_duration_minutes ?? undefined;
  if (slotDuration !== undefined) changes.slotDuration = slotDuration;
  if (patch.buffer_minutes !== undefined) changes.bufferMinutes = patch.buffer_minutes;
  if (patch.min_notice_minutes !== undefined) changes.minNoticeMinutes = patch.min_notice_minutes;
  if (patch.horizon_days !== undefined) changes.horizonDays = patch.horizon_days;
  if (patch.closed_dates !== undefined) changes.closedDates = uniqueSorted(patch.closed_dates);
  if (patch.language !== undefined) changes.language = patch.language;
  if (patch.greeting !== undefined) changes.greeting = patch.greeting;
  if (patch.instructions !== undefined) changes.instructions = patch.instructions;
  if (patch.voice !== undefined) changes.voice = patch.voice;
  if (patch.tools !== undefined) changes.tools = uniqueTools(patch.tools);
  if (patch.database_id !== undefined) changes.databaseId = patch.database_id;
  if (patch.business_phone !== undefined) changes.businessPhone = patch.business_phone;
  if (patch.status !== undefined) changes.status = patch.status;
  // A missing assistant is a 404 even when the body also names a foreign database.
  const before = await getAssistantRow(ctx, orgId, id);
  if (Object.keys(changes).length === 0) return assistantWithNumbers(ctx, before);
  if (patch.database_id) await assertOwnDatabase(ctx, patch.database_id);
  return withTransaction(ctx, async (tx) => {
    const txCtx = { ...ctx, db: tx };
    const [row] = await tx
      .update(assistants)
      .set({ ...changes, updatedAt: ctx.now() })
      .where(and(eq(assistants.id, id), eq(assistants.orgId, orgId)))
      .returning();
    if (!row) throw new NotFound("assistant", id);
    if (changes.status === "archived" && before.status !== "archived") await archiveAgentInOrg(txCtx, row.agentId);
    const agentChanges = {
      ...(changes.name !== undefined && changes.name !== before.name ? { name: changes.name } : {}),
      ...(changes.status === "active" && before.status !== "active" ? { status: "active" as const } : {}),
    };
    if (Object.keys(agentChanges).length > 0) await updateAgentInOrg(txCtx, row.agentId, agentChanges);
    await recordAudit(txCtx, { orgId, action: "assistant.updated", targetType: "assistant", targetId: id, metadata: { fields: Object.keys(changes) } });
    return assistantWithNumbers(txCtx, row);
  });
}

/** Archives an assistant and its agent: it answers no more calls; it stays readable. Twice is a no-op. */
export async function archiveAssistant(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  if (!ASSISTANT_ID.test(id)) await getAssistantRow(ctx, orgId, id);
  await withTransaction(ctx, async (tx) => {
    const txCtx = { ...ctx, db: tx };
    const [archived] = await tx
      .update(assistants)
      .set({ status: "archived", updatedAt: ctx.now() })
      .where(and(eq(assistants.id, id), eq(assistants.orgId, orgId), ne(assistants.status, "archived")))
      .returning({ agentId: assistants.agentId });
    if (!archived) {
      await getAssistantRow(txCtx, orgId, id);
      return;
    }
    await archiveAgentInOrg(txCtx, archived.agentId);
    await recordAudit(txCtx, { orgId, action: "assistant.archived", targetType: "assistant", targetId: id });
  });
}
