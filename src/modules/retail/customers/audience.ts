/**
 * Which customers a marketing message may reach: never an archived one, never one who opted
 * out of marketing, only those with a contact for the channel. Campaigns read it through here.
 */
import { and, asc, eq, gt, isNotNull, isNull, or, type SQL, sql } from "drizzle-orm";
import { type CampaignAudience, customerLedger, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";

export interface AudienceMember {
  customerId: string;
  recipient: string;
}

const PAGE = 1000;

/** The customers of `orgId` in `audience` reachable on `channel`, with the address to use, in id order. */
export async function marketingAudience(
  ctx: ServiceCtx,
  orgId: string,
  channel: "sms" | "whatsapp" | "email",
  audience: CampaignAudience,
): Promise<AudienceMember[]> {
  const contact = channel === "email" ? customers.email : customers.phone;
  const wanted: SQL[] = [];
  if (audience.tags && audience.tags.length > 0)
    wanted.push(
      sql`${customers.tags} && ${sql`ARRAY[${sql.join(
        audience.tags.map((tag) => sql`${tag}`),
        sql`, `,
      )}]::text[]`}`,
    );
  if (audience.owing) {
    wanted.push(
      sql`(select coalesce(sum(${customerLedger.amount}), 0) from ${customerLedger} where ${customerLedger.orgId} = ${orgId} and ${customerLedger.customerId} = ${customers.id}) > 0`,
    );
  }
  // `all` reaches everyone; otherwise a customer in any of the groups asked for.
  const groups = audience.all ? undefined : or(...wanted);
  if (!audience.all && wanted.length === 0) return [];
  const members: AudienceMember[] = [];
  let after = "";
  for (;;) {
    const rows = await ctx.db
      .select({ customerId: customers.id, recipient: contact })
      .from(customers)
      .where(
        and(
          eq(customers.orgId, orgId),
          isNull(customers.archivedAt),
          eq(customers.marketingOptOut, false),
          isNotNull(contact),
          gt(customers.id, after),
          groups,
        ),
      )
      .orderBy(asc(customers.id))
      .limit(PAGE);
    for (const row of rows) if (row.recipient) members.push({ customerId: row.customerId, recipient: row.recipient });
    if (rows.length < PAGE) return members;
    after = rows[rows.length - 1]!.customerId;
  }
}

/** Sets or clears marketing opt-out for every customer reachable at `phone` (the platform number is shared by all organisations); answers how many changed. */
export async function setMarketingOptOutByPhone(ctx: ServiceCtx, phone: string, optOut: boolean): Promise<number> {
  const changed = await ctx.db
    .update(customers)
    .set({ marketingOptOut: optOut, updatedAt: ctx.now() })
    .where(and(eq(customers.phone, phone), eq(customers.marketingOptOut, !optOut)))
    .returning({ id: customers.id });
  return changed.length;
}
