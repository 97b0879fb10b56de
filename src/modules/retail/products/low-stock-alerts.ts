import { sql } from "drizzle-orm";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { quantityText } from "../../../lib/quantity";
import { type SendInput, sendMessage } from "../../messaging/outbound/service";

/** Products alerted per run at most; the rest wait five minutes for the next run. */
export const ALERTS_PER_RUN = 500;

/** A product claimed for an alert, with what the message says. */
interface ClaimedProduct {
  id: string;
  org_id: string;
  org_name: string;
  name: string;
  unit: string;
  stock_quantity: string;
  low_stock_threshold: string;
  alerted_at: string;
}

interface Owner {
  email: string;
  phone: string | null;
}

export interface LowStockRun {
  claimed: number;
  sent: number;
  failed: number;
}

/**
 * Ends the crossings of products back above their threshold (or without one any more) that the
 * stock path did not see end: a threshold raised or removed by an edit.
 */
async function clearEndedCrossings(ctx: ServiceCtx): Promise<void> {
  await ctx.db.execute(sql`
    UPDATE products SET low_stock_alerted_at = NULL
    WHERE low_stock_alerted_at IS NOT NULL
      AND (low_stock_threshold IS NULL OR stock_quantity > low_stock_threshold OR archived_at IS NOT NULL)
  `);
}

/**
 * Claims up to `limit` products at or below their threshold and not yet alerted for this
 * crossing, in ONE statement that also stamps them. Overlapping runs cannot claim a product
 * twice: rows another run holds are skipped (SKIP LOCKED) and the outer UPDATE re-checks
 * `low_stock_alerted_at IS NULL` against the committed row. MATERIALIZED so the LIMIT picks once.
 */
async function claimLowStockProducts(ctx: ServiceCtx, now: Date, limit: number): Promise<ClaimedProduct[]> {
  const result = (await ctx.db.execute(sql`
    WITH claimed AS MATERIALIZED (
      SELECT low.id FROM products AS low
      WHERE low.archived_at IS NULL
        AND low.low_stock_threshold IS NOT NULL
        AND low.stock_quantity <= low.low_stock_threshold
        AND low.low_stock_alerted_at IS NULL
      ORDER BY low.id
      LIMIT ${limit}
      FOR UPDATE OF low SKIP LOCKED
    )
    UPDATE products AS p
    SET low_stock_alerted_at = ${now.toISOString()}::timestamptz
    FROM claimed, organizations AS o
    WHERE p.id = claimed.id
      AND o.id = p.org_id
      AND p.low_stock_alerted_at IS NULL
      AND p.stock_quantity <= p.low_stock_threshold
    RETURNING p.id, p.org_id, o.name AS org_name, p.name, p.unit, p.stock_quantity::text AS stock_quantity,
      p.low_stock_threshold::text AS low_stock_threshold, p.low_stock_alerted_at::text AS alerted_at
  `)) as unknown as { rows: ClaimedProduct[] };
  return result.rows;
}

/** Gives a claim back when no message could be queued (the queue was down), so the next run tries again. */
async function releaseClaim(ctx: ServiceCtx, product: ClaimedProduct): Promise<void> {
  await ctx.db.execute(sql`
    UPDATE products SET low_stock_alerted_at = NULL
    WHERE id = ${product.id} AND low_stock_alerted_at = ${product.alerted_at}::timestamptz
  `);
}

/** The owners of an organisation, who run the shop and restock it. */
async function ownersOf(ctx: ServiceCtx, orgId: string): Promise<Owner[]> {
  const result = (await ctx.db.execute(sql`
    SELECT u.email, nullif(u.phone, '') AS phone
    FROM memberships AS m JOIN users AS u ON u.id = m.user_id
    WHERE m.org_id = ${orgId} AND m.role = 'owner'
    ORDER BY u.id
  `)) as unknown as { rows: Owner[] };
  return result.rows;
}

function alertText(product: ClaimedProduct): { subject: string; body: string } {
  const left = `${quantityText(product.stock_quantity)} ${product.unit}`;
  return {
    subject: `Low stock: ${product.name}`,
    body: `${product.org_name}: ${product.name} is low on stock, ${left} left (alert at ${quantityText(product.low_stock_threshold)}). Time to restock.`,
  };
}

/** One email per owner, and one SMS to each owner who gave a phone number; keyed per crossing. */
async function alertOwners(ctx: ServiceCtx, product: ClaimedProduct): Promise<void> {
  const text = alertText(product);
  // The crossing is named by the moment it was claimed: a repeated send of this claim queues nothing more.
  const crossing = `low-stock:${product.id}:${product.alerted_at}`;
  for (const owner of await ownersOf(ctx, product.org_id)) {
    const common = { orgId: product.org_id, body: text.body, entity: { type: "product", id: product.id } };
    await sendSkippingRefused(ctx, {
      ...common,
      channel: "email",
      recipient: owner.email,
      subject: text.subject,
      idempotencyKey: `${crossing}:email:${owner.email}`,
    });
    if (owner.phone) await sendSkippingRefused(ctx, { ...common, channel: "sms", recipient: owner.phone, idempotencyKey: `${crossing}:sms:${owner.phone}` });
  }
}

/** An owner address the channel refuses must not keep the other owners from hearing about it. */
async function sendSkippingRefused(ctx: ServiceCtx, input: SendInput): Promise<void> {
  try {
    await sendMessage(ctx, input);
  } catch (error) {
    if (!(error instanceof Unprocessable)) throw error;
    ctx.log.warn("low-stock alert refused for one recipient", { channel: input.channel, error });
  }
}

/**
 * Low-stock alerts of every organisation: each product whose stock fell to or below its threshold
 * tells the organisation's owners once per crossing. A product restocked above the threshold and
 * falling again alerts again.
 */
export async function sendLowStockAlerts(ctx: ServiceCtx, options: { limit?: number } = {}): Promise<LowStockRun> {
  const now = ctx.now();
  await clearEndedCrossings(ctx);
  const claimed = await claimLowStockProducts(ctx, now, options.limit ?? ALERTS_PER_RUN);
  let sent = 0;
  let failed = 0;
  for (const product of claimed) {
    try {
      await alertOwners(ctx, product);
      sent++;
    } catch (error) {
      failed++;
      ctx.log.warn("low-stock alert not sent", { product_id: product.id, org_id: product.org_id, error });
      await releaseClaim(ctx, product).catch(() => {});
    }
  }
  return { claimed: claimed.length, sent, failed };
}
