import { and, arrayContains, asc, eq, gt, ilike, isNull, or, type SQL, sql } from "drizzle-orm";
import { type Transaction, withTransaction } from "../../../db/client";
import { runningLedgerPage } from "../../../db/ledger-page";
import { type CustomerLedgerKind, customerLedger, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import type { CreateCustomerInput, CustomerLedgerEntryView, CustomerListInput, CustomerView, UpdateCustomerInput } from "./schemas";

type CustomerRow = typeof customers.$inferSelect;

async function orgCurrency(ctx: ServiceCtx, orgId: string): Promise<string> {
  return (await loadOrg(ctx.db, orgId, null)).currency;
}

function customerView(row: CustomerRow, balance: number, currency: string): CustomerView {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    email: row.email,
    address: row.address,
    credit_limit: row.creditLimit,
    tags: row.tags,
    balance,
    currency,
    archived_at: row.archivedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** `sum()` of a bigint is numeric, which the driver hands over as text. */
const ledgerSum = sql<number>`coalesce(sum(${customerLedger.amount}), 0)`.mapWith(Number);

async function getCustomerRow(ctx: ServiceCtx, orgId: string, id: string): Promise<CustomerRow> {
  const [row] = await ctx.db
    .select()
    .from(customers)
    .where(and(eq(customers.id, id), eq(customers.orgId, orgId)));
  if (!row) throw new NotFound("customer", id);
  return row;
}

async function balanceOf(ctx: ServiceCtx, orgId: string, customerId: string): Promise<number> {
  const [row] = await ctx.db
    .select({ balance: ledgerSum })
    .from(customerLedger)
    .where(and(eq(customerLedger.orgId, orgId), eq(customerLedger.customerId, customerId)));
  return row?.balance ?? 0;
}

/** A reference to the record behind a ledger entry (a bill, a payment), or null for manual ones. */
export interface LedgerReference {
  type: string;
  id: string;
}

export interface CustomerLedgerEntryInput {
  customerId: string;
  kind: CustomerLedgerKind;
  /** Signed minor units: positive means the customer owes more. */
  amount: number;
  reference: LedgerReference | null;
  note?: string;
}

/**
 * Appends one entry to a customer's ledger in the active organisation. Pass `{...ctx, db: tx}` to
 * write inside the caller's transaction (a bill and its ledger entry commit together). No
 * permission check: the calling service has decided the entry may be written.
 */
export async function recordCustomerLedgerEntry(ctx: ServiceCtx, input: CustomerLedgerEntryInput): Promise<{ id: string }> {
  const orgId = requireOrgId(ctx);
  await getCustomerRow(ctx, orgId, input.customerId);
  const id = newId("cul");
  await ctx.db.insert(customerLedger).values({
    id,
    orgId,
    customerId: input.customerId,
    kind: input.kind,
    amount: input.amount,
    referenceType: input.reference?.type ?? null,
    referenceId: input.reference?.id ?? null,
    note: input.note ?? null,
    createdAt: ctx.now(),
  });
  return { id };
}

/** What a customer of the active organisation owes now, in minor units (the sum of its ledger). */
export async function getCustomerBalance(ctx: ServiceCtx, customerId: string): Promise<number> {
  const orgId = requireOrgId(ctx);
  await getCustomerRow(ctx, orgId, customerId);
  return balanceOf(ctx, orgId, customerId);
}

/**
 * Where a customer of `orgId` can be reached, or null for an unknown one. No permission check:
 * for messages the organisation sends its customers (receipts) from any caller, a webhook too.
 */
export async function customerContact(ctx: ServiceCtx, orgId: string, customerId: string): Promise<{ email: string | null; phone: string | null } | null> {
  const [row] = await ctx.db
    .select({ email: customers.email, phone: customers.phone })
    .from(customers)
    .where(and(eq(customers.id, customerId), eq(customers.orgId, orgId)));
  return row ?? null;
}

/**
 * Locks the customer row (`SELECT ... FOR UPDATE`) and returns its credit limit and current
 * balance. Every writer that checks the limit takes this lock first, so two concurrent bills
 * serialise here and the second one sees the first one's entry: without it both would read the
 * same balance and together pass the limit.
 */
export async function lockCustomerForCredit(tx: Transaction, orgId: string, customerId: string): Promise<{ creditLimit: number | null; balance: number }> {
  const [row] = await tx
    .select({ creditLimit: customers.creditLimit })
    .from(customers)
    .where(and(eq(customers.id, customerId), eq(customers.orgId, orgId)))
    .for("update");
  if (!row) throw new NotFound("customer", customerId);
  const [sum] = await tx
    .select({ balance: ledgerSum })
    .from(customerLedger)
    .where(and(eq(customerLedger.orgId, orgId), eq(customerLedger.customerId, customerId)));
  return { creditLimit: row.creditLimit, balance: sum?.balance ?? 0 };
}

/**
 * Adds a `bill` entry only if the balance stays within the customer's credit limit; otherwise a
 * 409 naming the limit. Runs in the caller's transaction when `ctx.db` is one.
 */
export async function chargeWithinLimit(
  ctx: ServiceCtx,
  input: { customerId: string; amount: number; reference: LedgerReference | null; note?: string },
): Promise<{ id: string; balance: number }> {
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, async (tx) => {
    const { creditLimit, balance } = await lockCustomerForCredit(tx, orgId, input.customerId);
    const after = balance + input.amount;
    if (creditLimit !== null && input.amount > 0 && after > creditLimit) {
      throw new Conflict(`This would bring the customer's balance to ${after}, over their credit limit of ${creditLimit}`);
    }
    const entry = await recordCustomerLedgerEntry({ ...ctx, db: tx }, { ...input, kind: "bill" });
    return { id: entry.id, balance: after };
  });
}

/** Adds a customer; an `opening_balance` becomes the first ledger entry, in the same transaction. */
export async function createCustomer(ctx: ServiceCtx, input: CreateCustomerInput): Promise<CustomerView> {
  assertCan(ctx, "customers:write");
  const orgId = requireOrgId(ctx);
  const currency = await orgCurrency(ctx, orgId);
  const now = ctx.now();
  const opening = input.opening_balance ?? 0;
  const row = await withTransaction(ctx, async (tx) => {
    const [created] = await tx
      .insert(customers)
      .values({
        id: newId("cus"),
        orgId,
        name: input.name,
        phone: input.phone ?? null,
        email: input.email ?? null,
        address: input.address ?? null,
        creditLimit: input.credit_limit ?? null,
        tags: [...new Set(input.tags ?? [])],
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!created) throw new Error("customer insert returned no row");
    if (opening !== 0) {
      await recordCustomerLedgerEntry({ ...ctx, db: tx }, { customerId: created.id, kind: "opening_balance", amount: opening, reference: null });
    }
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "customer.created", targetType: "customer", targetId: created.id, metadata: { name: created.name } },
    );
    return created;
  });
  return customerView(row, opening, currency);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Customers that are not archived, oldest first, each with its balance from one grouped query. */
export async function listCustomers(ctx: ServiceCtx, query: CustomerListInput & PageRequest): Promise<Page<CustomerView>> {
  assertCan(ctx, "customers:read");
  const orgId = requireOrgId(ctx);
  const currency = await orgCurrency(ctx, orgId);
  const balances = ctx.db
    .select({ customerId: customerLedger.customerId, balance: sql<string>`sum(${customerLedger.amount})`.as("balance") })
    .from(customerLedger)
    .where(eq(customerLedger.orgId, orgId))
    .groupBy(customerLedger.customerId)
    .as("balances");
  const filters: (SQL | undefined)[] = [eq(customers.orgId, orgId), isNull(customers.archivedAt)];
  if (query.cursor) filters.push(gt(customers.id, query.cursor));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(customers.name, pattern), ilike(customers.phone, pattern), ilike(customers.email, pattern)));
  }
  if (query.tag) filters.push(arrayContains(customers.tags, [query.tag]));
  const rows = await ctx.db
    .select({ customer: customers, balance: sql<number>`coalesce(${balances.balance}, 0)`.mapWith(Number) })
    .from(customers)
    .leftJoin(balances, eq(balances.customerId, customers.id))
    .where(and(...filters))
    .orderBy(asc(customers.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => r.customer.id,
    (r) => customerView(r.customer, r.balance, currency),
  );
}

/** One customer of the active organisation (archived ones too), with its balance. */
export async function getCustomer(ctx: ServiceCtx, id: string): Promise<CustomerView> {
  assertCan(ctx, "customers:read");
  const orgId = requireOrgId(ctx);
  const row = await getCustomerRow(ctx, orgId, id);
  const [balance, currency] = await Promise.all([balanceOf(ctx, orgId, id), orgCurrency(ctx, orgId)]);
  return customerView(row, balance, currency);
}

/** Changes the given fields; `null` clears phone, email, address or the credit limit. */
export async function updateCustomer(ctx: ServiceCtx, id: string, patch: UpdateCustomerInput): Promise<CustomerView> {
  assertCan(ctx, "customers:write");
  const orgId = requireOrgId(ctx);
  const changes: Partial<typeof customers.$inferInsert> = {};
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.phone !== undefined) changes.phone = patch.phone;
  if (patch.email !== undefined) changes.email = patch.email;
  if (patch.address !== undefined) changes.address = patch.address;
  if (patch.credit_limit !== undefined) changes.creditLimit = patch.credit_limit;
  if (patch.tags !== undefined) changes.tags = [...new Set(patch.tags)];
  if (Object.keys(changes).length === 0) return getCustomer(ctx, id);
  const [updated] = await ctx.db
    .update(customers)
    .set({ ...changes, updatedAt: ctx.now() })
    .where(and(eq(customers.id, id), eq(customers.orgId, orgId)))
    .returning({ id: customers.id });
  if (!updated) throw new NotFound("customer", id);
  await recordAudit(ctx, { orgId, action: "customer.updated", targetType: "customer", targetId: id, metadata: { fields: Object.keys(patch) } });
  return getCustomer(ctx, id);
}

/**
 * Archives a customer: hidden from the list, kept for bills and the ledger that point at it.
 * Archiving twice keeps the first time.
 */
export async function archiveCustomer(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "customers:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const archived = await ctx.db
    .update(customers)
    .set({ archivedAt: now, updatedAt: now })
    .where(and(eq(customers.id, id), eq(customers.orgId, orgId), isNull(customers.archivedAt)))
    .returning({ id: customers.id });
  if (archived.length === 0) {
    await getCustomerRow(ctx, orgId, id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "customer.archived", targetType: "customer", targetId: id });
}

/** A customer's ledger, newest first, each entry with the balance right after it. */
export async function listCustomerLedger(ctx: ServiceCtx, customerId: string, page: PageRequest): Promise<Page<CustomerLedgerEntryView>> {
  assertCan(ctx, "customers:read");
  const orgId = requireOrgId(ctx);
  await getCustomerRow(ctx, orgId, customerId);
  const currency = await orgCurrency(ctx, orgId);
  return runningLedgerPage<CustomerLedgerKind>(
    ctx.db,
    customerLedger,
    and(eq(customerLedger.orgId, orgId), eq(customerLedger.customerId, customerId)),
    page,
    currency,
  );
}
