import { and, eq, sql } from "drizzle-orm";
import { bills, messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { orgFilesPrefix } from "../../../lib/org-files";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { recipientProblem } from "../../messaging/outbound/recipients";
import { sendMessage } from "../../messaging/outbound/service";
import type { MessageRow } from "../../messaging/outbound/types";
import type { BillSendChannel, SendBillInput, SentBillView } from "./delivery-schemas";
import { type BillDocument, loadBillDocument } from "./document";
import { billLinkExpiry, signBillLink, verifyBillLink } from "./links";
import { billMessageText, linkInMessage } from "./message-text";

/** A bill goes to its customer once it is issued, and stays sendable as a receipt once paid. */
const SENDABLE = new Set(["issued", "partially_paid", "paid"]);

/** The customer's address on `channel`, or a 422 naming the field that is missing or unusable. */
function recipientFor(bill: BillDocument, channel: BillSendChannel): string {
  if (!bill.customer) throw new Unprocessable([{ path: "customer_id", message: "The bill has no customer to send it to" }], "The bill has no customer");
  const field = channel === "email" ? "email" : "phone";
  const address = bill.customer[field]?.trim();
  if (!address) {
    throw new Unprocessable(
      [{ path: `customer.${field}`, message: `Customer ${bill.customer.id} has no ${field === "email" ? "email address" : "phone number"}` }],
      `Add the customer's ${field} to send by ${channel}`,
    );
  }
  const problem = recipientProblem(channel, address);
  if (problem) throw new Unprocessable([{ path: `customer.${field}`, message: `The customer's ${field} ${problem}` }]);
  return address;
}

/**
 * The earlier send made with this key, or null. The key is the client's, so a key reused for
 * another bill or channel is a 409 rather than a silent replay of something else.
 */
async function earlierSend(ctx: ServiceCtx, orgId: string, key: string, billId: string, channel: BillSendChannel): Promise<SentBillView | null> {
  // The messaging module owns this table; it offers no look-up by key, and sendMessage's own
  // replay cannot help: every send signs a fresh link, so a retry's message never matches.
  const [first] = await ctx.db
    .select()
    .from(messages)
    .where(and(eq(messages.orgId, orgId), eq(messages.idempotencyKey, key)));
  if (!first) return null;
  if (first.entityType !== "bill" || first.entityId !== billId || first.channel !== channel) {
    throw new Conflict("This Idempotency-Key was already used to send something else");
  }
  return sentView(first);
}

function sentView(message: MessageRow): SentBillView {
  const url = linkInMessage(message.body) ?? "";
  const expiresAt = billLinkExpiry(url.slice(url.lastIndexOf("/") + 1));
  return {
    message_id: message.id,
    channel: message.channel as BillSendChannel,
    recipient: message.recipient,
    url,
    expires_at: expiresAt?.toISOString() ?? "",
  };
}

/**
 * The bill's PDF as it stands now, kept in R2 under the organisation for the email to carry
 * (the outbound consumer attaches `media.r2Key` to emails); the last path segment is its filename.
 */
async function storeBillPdf(ctx: ServiceCtx, orgId: string, bill: BillDocument): Promise<{ r2Key: string; contentType: string }> {
  const { renderBillPdf } = await import("./render-pdf");
  const filename = `${(bill.number ?? "bill").replace(/[^\w-]/g, "_")}.pdf`;
  const r2Key = `${orgFilesPrefix(orgId)}bill-pdfs/${bill.id}/${newId("file").slice(5)}/${filename}`;
  await ctx.env.FILES.put(r2Key, await renderBillPdf(bill), { httpMetadata: { contentType: "application/pdf" } });
  return { r2Key, contentType: "application/pdf" };
}

/**
 * Sends an issued bill to its customer with a signed link to it (by email also its PDF, attached), through the outbound queue.
 * With an Idempotency-Key a retry answers with the first message instead of sending again.
 */
export async function sendBill(ctx: ServiceCtx, billId: string, input: SendBillInput, idempotencyKey?: string): Promise<SentBillView> {
  assertCan(ctx, "bills:send");
  const orgId = requireOrgId(ctx);
  const bill = await loadBillDocument(ctx.db, orgId, billId);
  if (!bill) throw new NotFound("bill", billId);
  // Namespaced, so a key also used on POST /v1/messages cannot collide with this one.
  const key = idempotencyKey ? `bill-send:${idempotencyKey}` : undefined;
  if (key) {
    const replay = await earlierSend(ctx, orgId, key, billId, input.channel);
    if (replay) return replay;
  }
  if (!SENDABLE.has(bill.status)) throw new Conflict(`Bill ${bill.number ?? billId} is ${bill.status}; only an issued bill can be sent`);
  const recipient = recipientFor(bill, input.channel);

  const link = await signBillLink(ctx.config, bill, ctx.now());
  const text = billMessageText(bill, link.url, "bill");
  const media = input.channel === "email" ? await storeBillPdf(ctx, orgId, bill) : undefined;
  let sent: Awaited<ReturnType<typeof sendMessage>>;
  try {
    sent = await sendMessage(ctx, {
      orgId,
      channel: input.channel,
      recipient,
      subject: input.channel === "email" ? text.subject : undefined,
      body: text.body,
      media,
      idempotencyKey: key,
      entity: { type: "bill", id: billId },
    });
  } catch (error) {
    // Two requests with one key raced past the check above, each with its own link: the loser's
    // message differs from the winner's, and the winner's is the answer to both.
    if (key && error instanceof Conflict) {
      const replay = await earlierSend(ctx, orgId, key, billId, input.channel);
      if (replay) return replay;
    }
    throw error;
  }
  if (!sent.created) return sentView(sent.message);
  await recordAudit(ctx, {
    orgId,
    action: "bill.sent",
    targetType: "bill",
    targetId: billId,
    metadata: { channel: input.channel, message_id: sent.message.id, link_version: bill.linkVersion },
  });
  return { message_id: sent.message.id, channel: input.channel, recipient, url: link.url, expires_at: link.expiresAt.toISOString() };
}

/** Every link sent for the bill so far stops working: links carry the version they were signed with. */
export async function revokeBillLinks(ctx: ServiceCtx, billId: string): Promise<void> {
  assertCan(ctx, "bills:send");
  const orgId = requireOrgId(ctx);
  const [revoked] = await ctx.db
    .update(bills)
    .set({ linkVersion: sql`${bills.linkVersion} + 1` })
    .where(and(eq(bills.id, billId), eq(bills.orgId, orgId)))
    .returning({ linkVersion: bills.linkVersion });
  if (!revoked) throw new NotFound("bill", billId);
  await recordAudit(ctx, { orgId, action: "bill.links_revoked", targetType: "bill", targetId: billId, metadata: { link_version: revoked.linkVersion } });
}

/**
 * The bill a public link opens. Any failure (bad or expired token, a revoked version, a bill
 * that is gone) is the same 404, so a guesser learns nothing about which part was wrong.
 */
export async function openBillLink(ctx: ServiceCtx, token: string): Promise<BillDocument> {
  const claims = await verifyBillLink(ctx.config, token, ctx.now());
  const bill = claims ? await loadBillDocument(ctx.db, claims.orgId, claims.billId) : null;
  if (!claims || !bill || bill.linkVersion !== claims.version) throw new NotFound("bill link");
  return bill;
}
