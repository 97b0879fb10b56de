import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Forbidden } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import type { Page, PageRequest } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import { periodOf } from "../plans/plans";
import { getBalance, getLedgerEntry, grantCredits, type LedgerEntryView, ledgerEntryView, listLedgerEntries } from "./ledger";
import { getQuotaUsage, type QuotaUsageView } from "./usage";

/** The active organisation's balance. */
export async function getActiveBalance(ctx: ServiceCtx): Promise<{ balance: number }> {
  return { balance: await getBalance(ctx, requireOrgId(ctx)) };
}

/** The active organisation's ledger, newest first. */
export async function listActiveLedger(ctx: ServiceCtx, page: PageRequest): Promise<Page<LedgerEntryView>> {
  return listLedgerEntries(ctx, requireOrgId(ctx), page);
}

/** The active organisation's usage in `period` (YYYY-MM, default the current month). */
export async function getActiveQuotaUsage(ctx: ServiceCtx, period?: string): Promise<QuotaUsageView> {
  return getQuotaUsage(ctx, requireOrgId(ctx), period ?? periodOf(ctx.now()));
}

export interface AdjustmentInput {
  orgId: string;
  amount: number;
  note: string;
  idempotencyKey?: string;
}

/**
 * Platform staff add or take away credits by hand (goodwill, corrections). Super-admin only;
 * audited in the adjusted organisation. With an idempotency key a repeat returns the first entry.
 */
export async function adjustCredits(ctx: ServiceCtx, input: AdjustmentInput): Promise<{ entry: LedgerEntryView; balance: number; created: boolean }> {
  if (!ctx.actor?.isSuperAdmin) throw new Forbidden("Only platform staff may adjust credits");
  await loadOrg(ctx.db, input.orgId, null); // 404 for an organisation that does not exist
  const result = await grantCredits(ctx, {
    orgId: input.orgId,
    amount: input.amount,
    kind: "adjustment",
    reference: { type: "adjustment", id: input.idempotencyKey ?? newId("cle") },
    note: input.note,
  });
  const entry = await getLedgerEntry(ctx, input.orgId, result.entryId);
  if (!entry) throw new Error(`ledger entry ${result.entryId} vanished`);
  if (!result.created && !entry.note?.startsWith(input.note)) throw new Conflict("This Idempotency-Key was already used for a different adjustment");
  if (result.created) {
    await recordAudit(ctx, {
      orgId: input.orgId,
      action: "credits.adjusted",
      targetType: "credit_ledger",
      targetId: entry.id,
      metadata: { requested: input.amount, applied: entry.amount, balance: entry.balanceAfter, note: input.note },
    });
  }
  return { entry: ledgerEntryView(entry), balance: result.balance, created: result.created };
}
