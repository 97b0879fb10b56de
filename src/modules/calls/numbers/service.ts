import { and, asc, eq, gt } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { phoneNumbers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { ProviderError } from "../../../providers/errors";
import { type IncomingPhoneNumber, twilioVoice, type VoiceHooks } from "../../../providers/twilio-voice";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { providerProblem } from "../../content/ai/metered-chat";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { assertPhoneNumberSlot, lockPhoneNumberSlots } from "../../money/plans/limits";
import { requirePublicBaseUrl, VOICE_PATHS } from "../voice-webhooks/public-url";
import type { AttachPhoneNumberInput, PhoneNumber } from "./schemas";

type PhoneNumberRow = typeof phoneNumbers.$inferSelect;

// Twilio's "no phone numbers found in this area code".
const NO_NUMBERS_IN_AREA = "21452";

function phoneNumberView(row: PhoneNumberRow): PhoneNumber {
  return {
    id: row.id,
    assistant_id: row.assistantId,
    phone_number: row.phoneNumber,
    twilio_sid: row.twilioSid,
    created_at: row.createdAt.toISOString(),
  };
}

function voiceHooks(ctx: ServiceCtx): VoiceHooks {
  const base = requirePublicBaseUrl(ctx);
  return { voiceUrl: `${base}${VOICE_PATHS.incoming}`, statusCallback: `${base}${VOICE_PATHS.status}` };
}

async function assertNumberFree(ctx: ServiceCtx, phoneNumber: string): Promise<void> {
  const [taken] = await ctx.db.select({ id: phoneNumbers.id }).from(phoneNumbers).where(eq(phoneNumbers.phoneNumber, phoneNumber));
  if (taken) throw new Conflict(`${phoneNumber} already answers for an assistant; detach it there first`);
}

/** The Twilio number the request names, with its webhooks pointed at us (or a bought one). */
async function numberAtTwilio(ctx: ServiceCtx, input: AttachPhoneNumberInput, hooks: VoiceHooks): Promise<IncomingPhoneNumber> {
  const twilio = twilioVoice(ctx.config);
  try {
    if (input.area_code) return await twilio.buyNumber(input.area_code, hooks);
    const phoneNumber = input.phone_number as string;
    const owned = await twilio.findNumber(phoneNumber);
    if (!owned) throw new Unprocessable([{ path: "phone_number", message: `The Twilio account does not own ${phoneNumber}` }]);
    return await twilio.setNumberHooks(owned.sid, hooks);
  } catch (error) {
    if (error instanceof ProviderError && error.code === NO_NUMBERS_IN_AREA) {
      throw new Unprocessable([{ path: "area_code", message: `Twilio has no numbers for sale in area code ${input.area_code}` }]);
    }
    throw providerProblem(error);
  }
}

/**
 * What can be known about an attach without Twilio: we have a public URL for its webhooks, the
 * plan has a place for one more number and a named number is not already someone's. An early answer only; the attach itself checks again.
 */
export async function assertMayAttach(ctx: ServiceCtx, input: AttachPhoneNumberInput): Promise<void> {
  requirePublicBaseUrl(ctx);
  // A number taken elsewhere is refused whatever the plan: no upgrade would make it attachable.
  if (input.phone_number) await assertNumberFree(ctx, input.phone_number);
  await assertPhoneNumberSlot(ctx.db, requireOrgId(ctx), { locked: false });
}

/**
 * Attaches a Twilio number to an assistant: one the account owns (`phone_number`, 422 when it does
 * not) or one bought in `area_code`, with its VoiceUrl and StatusCallback pointed at our voice
 * webhooks. A number answers for one assistant only (409), and an organisation has as many as its
 * plan allows (403 `plan-limit`).
 */
export async function attachPhoneNumber(
  ctx: ServiceCtx,
  assistantId: string,
  input: AttachPhoneNumberInput,
  options: { unlessAttached?: boolean } = {},
): Promise<PhoneNumber> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  if (assistant.status === "archived") throw new Conflict(`Assistant ${assistantId} is archived and answers no calls`);
  // A retried onboarding keeps the number its first try attached rather than buying another.
  const attached = options.unlessAttached ? await firstNumberOf(ctx.db, orgId, assistantId) : undefined;
  if (attached) return attached;
  const hooks = voiceHooks(ctx);
  await assertMayAttach(ctx, input);
  // The plan's lock is held across the Twilio call: a racing attach waits and then counts this
  // number, so the last place is taken once and no number is bought that cannot be kept.
  return withTransaction(ctx, async (tx) => {
    await lockPhoneNumberSlots(tx, orgId);
    const attachedMeanwhile = options.unlessAttached ? await firstNumberOf(tx, orgId, assistantId) : undefined;
    if (attachedMeanwhile) return attachedMeanwhile;
    await assertPhoneNumberSlot(tx, orgId, { locked: false }); // the lock is already held
    const number = await numberAtTwilio(ctx, input, hooks);
    try {
      const [row] = await tx
        .insert(phoneNumbers)
        .values({ id: newId("pn"), orgId, assistantId, phoneNumber: number.phone_number, twilioSid: number.sid, createdAt: ctx.now() })
        .returning();
      if (!row) throw new Error("phone number insert returned no row");
      return phoneNumberView(row);
    } catch (error) {
      // Two attaches of one number at once: the unique index lets one in.
      if (isUniqueViolation(error)) throw new Conflict(`${number.phone_number} already answers for an assistant; detach it there first`);
      throw error;
    }
  });
}

/** The assistant's oldest number, if it has one. */
async function firstNumberOf(db: Database, orgId: string, assistantId: string): Promise<PhoneNumber | undefined> {
  const [row] = await db
    .select()
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.orgId, orgId), eq(phoneNumbers.assistantId, assistantId)))
    .orderBy(asc(phoneNumbers.id))
    .limit(1);
  return row ? phoneNumberView(row) : undefined;
}

/** The assistant's numbers, oldest first. */
export async function listPhoneNumbers(ctx: ServiceCtx, assistantId: string, page: PageRequest): Promise<Page<PhoneNumber>> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  await getAssistantInOrg(ctx, assistantId);
  const rows = await ctx.db
    .select()
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.orgId, orgId), eq(phoneNumbers.assistantId, assistantId), page.cursor ? gt(phoneNumbers.id, page.cursor) : undefined))
    .orderBy(asc(phoneNumbers.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, phoneNumberView);
}

/**
 * Detaches a number: calls to it are no longer ours, and its VoiceUrl and StatusCallback at Twilio
 * are cleared. The number stays in the Twilio account.
 */
export async function detachPhoneNumber(ctx: ServiceCtx, assistantId: string, numberId: string): Promise<void> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  await getAssistantInOrg(ctx, assistantId);
  const [row] = await ctx.db
    .delete(phoneNumbers)
    .where(and(eq(phoneNumbers.id, numberId), eq(phoneNumbers.orgId, orgId), eq(phoneNumbers.assistantId, assistantId)))
    .returning();
  if (!row) throw new NotFound("phone number", numberId.slice(0, 100));
  try {
    await twilioVoice(ctx.config).setNumberHooks(row.twilioSid, null);
  } catch (error) {
    // Detached on our side either way: a call that still reaches us finds no assistant and is told so.
    ctx.log.warn("could not clear a detached number's webhooks at Twilio", {
      phone_number_id: row.id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** The number's row (any organisation), for the incoming-call webhook; undefined when it is not attached. */
export async function findAttachedNumber(ctx: ServiceCtx, phoneNumber: string): Promise<PhoneNumberRow | undefined> {
  const [row] = await ctx.db.select().from(phoneNumbers).where(eq(phoneNumbers.phoneNumber, phoneNumber));
  return row;
}
