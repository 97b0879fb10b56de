import { and, eq, sql } from "drizzle-orm";
import { messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import type { QueueJob } from "../../../queues/jobs";
import { recipientProblem } from "./recipients";
import type { MessageChannel, MessageRow } from "./types";

export interface SendInput {
  /** Null for system mail that belongs to no organisation (OTP codes, password resets). */
  orgId: string | null;
  channel: MessageChannel;
  recipient: string;
  subject?: string;
  body?: string;
  template?: string;
  variables?: Record<string, string>;
  media?: { url?: string; r2Key?: string; contentType?: string };
  idempotencyKey?: string;
  /** What the message is about, e.g. `{type: "otp", id}`; lets callers find it again. */
  entity?: { type: string; id: string };
  /** Send with this sales channel's own bot or number (a chatbot reply) instead of the platform's credentials. */
  salesChannelId?: string;
}

export interface SendMessageJob extends QueueJob {
  kind: "message.send";
  messageId: string;
}

/** The outcome of `sendMessage`: the message, and whether this call created it. */
export interface SendResult {
  message: MessageRow;
  /** False when an earlier request with the same idempotency key created it. */
  created: boolean;
}

/**
 * The one way the product sends a message: validate the recipient for its channel, write the
 * row (status `queued`), enqueue it on `outbound`. Nothing is sent inline. With an idempotency key
 * a repeat returns the first message instead of sending twice; the same key with a different
 * message is a 409.
 */
export async function sendMessage(ctx: ServiceCtx, input: SendInput): Promise<SendResult> {
  const recipient = input.recipient.trim();
  const problem = recipientProblem(input.channel, recipient);
  if (problem) throw new Unprocessable([{ path: "recipient", message: problem }], `Cannot send ${input.channel} to this recipient`);
  // An image may go alone (a chatbot stage's picture after a long reply).
  if (!input.body && !input.template && !input.media?.url) throw new Unprocessable([{ path: "body", message: "a body or a template is required" }]);

  const [inserted] = await ctx.db
    .insert(messages)
    .values({
      id: newId("msg"),
      orgId: input.orgId,
      channel: input.channel,
      recipient,
      subject: input.subject ?? null,
      body: input.body ?? null,
      template: input.template ?? null,
      variables: input.variables ?? null,
      media: input.media ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      entityType: input.entity?.type ?? null,
      entityId: input.entity?.id ?? null,
      salesChannelId: input.salesChannelId ?? null,
    })
    // The unique (org, idempotency_key) index decides a race between two identical requests.
    .onConflictDoNothing()
    .returning();

  if (!inserted) {
    const [first] = await ctx.db
      .select()
      .from(messages)
      .where(and(eq(sql`coalesce(${messages.orgId}, '')`, input.orgId ?? ""), eq(messages.idempotencyKey, input.idempotencyKey ?? "")));
    if (!first) throw new Error("idempotent insert conflicted but no first message was found");
    if (
      first.channel !== input.channel ||
      first.recipient !== recipient ||
      first.body !== (input.body ?? null) ||
      first.template !== (input.template ?? null)
    ) {
      throw new Conflict("This Idempotency-Key was already used for a different message");
    }
    return { message: first, created: false };
  }
  const job: SendMessageJob = { kind: "message.send", messageId: inserted.id };
  await ctx.env.OUTBOUND.send(job);
  return { message: inserted, created: true };
}
