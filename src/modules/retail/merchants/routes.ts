import { createRoute } from "@hono/zod-openapi";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { listMerchantPayments, recordMerchantPayment } from "./payments";
import { createPurchase, getPurchase, listPurchases } from "./purchases";
import {
  CreateMerchantBody,
  CreateMerchantPaymentBody,
  CreatePurchaseBody,
  Merchant,
  MerchantIdParam,
  MerchantLedgerPage,
  MerchantLedgerQuery,
  MerchantList,
  MerchantListQuery,
  MerchantPaymentList,
  MerchantPaymentListQuery,
  MerchantPaymentResult,
  MerchantPurchaseParams,
  PURCHASE_RULE,
  Purchase,
  PurchaseList,
  PurchaseListQuery,
  UpdateMerchantBody,
} from "./schemas";
import { archiveMerchant, createMerchant, getMerchant, listMerchantLedger, listMerchants, updateMerchant } from "./service";

const tags = ["Merchants"];
const BALANCE_OWED = "`balance_owed` is what we owe the merchant, in minor units of the organisation's currency: the sum of its ledger, never edited by hand.";

const listMerchantsRoute = createRoute({
  method: "get",
  path: "/v1/merchants",
  summary: "List merchants (suppliers) with what we owe each; search by name, phone or email",
  description: BALANCE_OWED,
  tags,
  ...authed("merchants:read"),
  request: { query: MerchantListQuery },
  responses: { 200: jsonResponse(MerchantList, "A page of merchants"), ...problemResponses },
});

const createMerchantRoute = createRoute({
  method: "post",
  path: "/v1/merchants",
  summary: "Add a merchant (supplier), optionally with what we already owe it",
  description: `${BALANCE_OWED} \`opening_balance\` is written as the first ledger entry.`,
  tags,
  ...authed("merchants:write"),
  request: jsonBody(CreateMerchantBody),
  responses: { 201: jsonResponse(Merchant, "The new merchant"), ...problemResponses },
});

const getMerchantRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}",
  summary: "One merchant and what we owe it",
  description: BALANCE_OWED,
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantIdParam },
  responses: { 200: jsonResponse(Merchant, "The merchant"), ...problemResponses },
});

const updateMerchantRoute = createRoute({
  method: "patch",
  path: "/v1/merchants/{id}",
  summary: "Change a merchant's details",
  description: "What we owe cannot be edited: it is the sum of the ledger.",
  tags,
  ...authed("merchants:write"),
  request: { params: MerchantIdParam, ...jsonBody(UpdateMerchantBody) },
  responses: { 200: jsonResponse(Merchant, "The updated merchant"), ...problemResponses },
});

const archiveMerchantRoute = createRoute({
  method: "delete",
  path: "/v1/merchants/{id}",
  summary: "Archive a merchant: hidden from the list and closed to new purchases, kept with its records",
  description: "What we still owe an archived merchant can still be paid.",
  tags,
  ...authed("merchants:write"),
  request: { params: MerchantIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

const createPurchaseRoute = createRoute({
  method: "post",
  path: "/v1/merchants/{id}/purchases",
  summary: "Record goods bought from the merchant: adds stock at cost and adds to what we owe",
  description: `${PURCHASE_RULE} All in one transaction. A product that is unknown, archived or another organisation's is a 422 naming the item; an archived merchant is a 409.`,
  tags,
  ...authed("merchants:write"),
  request: {
    params: MerchantIdParam,
    headers: idempotencyHeader("the first purchase back instead of recording a second one", "purchase-2291"),
    ...jsonBody(CreatePurchaseBody),
  },
  responses: { 201: jsonResponse(Purchase, "The purchase (the first one again for a repeated Idempotency-Key)"), ...problemResponses },
});

const listPurchasesRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}/purchases",
  summary: "The merchant's purchases, newest first",
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantIdParam, query: PurchaseListQuery },
  responses: { 200: jsonResponse(PurchaseList, "A page of purchases"), ...problemResponses },
});

const getPurchaseRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}/purchases/{purchase_id}",
  summary: "One purchase with its lines",
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantPurchaseParams },
  responses: { 200: jsonResponse(Purchase, "The purchase"), ...problemResponses },
});

const recordPaymentRoute = createRoute({
  method: "post",
  path: "/v1/merchants/{id}/payments",
  summary: "Record a payment to the merchant",
  description: "Paying more than we owe is a 409 naming what we owe, unless `advance: true` records the excess as paid ahead (`balance_owed` goes negative).",
  tags,
  ...authed("merchants:write"),
  request: {
    params: MerchantIdParam,
    headers: idempotencyHeader("the first payment back instead of a second one", "mpay-7f3a9c"),
    ...jsonBody(CreateMerchantPaymentBody),
  },
  responses: { 201: jsonResponse(MerchantPaymentResult, "The payment and the merchant after it"), ...problemResponses },
});

const listPaymentsRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}/payments",
  summary: "Payments to the merchant, newest first",
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantIdParam, query: MerchantPaymentListQuery },
  responses: { 200: jsonResponse(MerchantPaymentList, "A page of payments"), ...problemResponses },
});

const merchantLedgerRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}/ledger",
  summary: "The merchant's ledger, newest first, with what we owed after each entry",
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantIdParam, query: MerchantLedgerQuery },
  responses: { 200: jsonResponse(MerchantLedgerPage, "A page of ledger entries"), ...problemResponses },
});

export const merchantsRoutes = createRouter()
  .openapi(listMerchantsRoute, async (c) => c.json(await listMerchants(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createMerchantRoute, async (c) => c.json(await createMerchant(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getMerchantRoute, async (c) => c.json(await getMerchant(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateMerchantRoute, async (c) => c.json(await updateMerchant(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveMerchantRoute, async (c) => {
    await archiveMerchant(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(createPurchaseRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await createPurchase(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 201);
  })
  .openapi(listPurchasesRoute, async (c) => c.json(await listPurchases(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(getPurchaseRoute, async (c) => {
    const { id, purchase_id } = c.req.valid("param");
    return c.json(await getPurchase(c.var.ctx, id, purchase_id), 200);
  })
  .openapi(recordPaymentRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await recordMerchantPayment(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 201);
  })
  .openapi(listPaymentsRoute, async (c) => c.json(await listMerchantPayments(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(merchantLedgerRoute, async (c) => c.json(await listMerchantLedger(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200));
