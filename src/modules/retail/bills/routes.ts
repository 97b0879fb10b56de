import { createRoute } from "@hono/zod-openapi";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { declarePermission } from "../../identity/auth/permissions";
import { authed } from "../../identity/auth/route-security";
import { refundBill } from "./refunds";
import {
  Bill,
  BillIdParam,
  BillList,
  BillListQuery,
  CreateBillBody,
  CreatePaymentBody,
  CreateRefundBody,
  MONEY_RULE,
  PaymentResult,
  RefundResult,
} from "./schemas";
import { createBill, getBill, issueBill, listBills, recordBillPayment, voidBill } from "./service";

// Checked inside the issuing service rather than by a route: it lets bills:write go over a limit.
declarePermission("bills:override_credit");

const tags = ["Bills"];

const createBillRoute = createRoute({
  method: "post",
  path: "/v1/bills",
  summary: "Create a bill (a draft, or issued at once with `issue: true`)",
  description: MONEY_RULE,
  tags,
  ...authed("bills:write"),
  request: jsonBody(CreateBillBody),
  responses: { 201: jsonResponse(Bill, "The new bill"), ...problemResponses },
});

const listBillsRoute = createRoute({
  method: "get",
  path: "/v1/bills",
  summary: "List bills, newest first",
  tags,
  ...authed("bills:read"),
  request: { query: BillListQuery },
  responses: { 200: jsonResponse(BillList, "A page of bills"), ...problemResponses },
});

const getBillRoute = createRoute({
  method: "get",
  path: "/v1/bills/{id}",
  summary: "One bill with its lines",
  tags,
  ...authed("bills:read"),
  request: { params: BillIdParam },
  responses: { 200: jsonResponse(Bill, "The bill"), ...problemResponses },
});

const issueBillRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/issue",
  summary: "Issue a draft: number it, take its stock, charge the customer within their credit limit",
  description:
    "All or nothing: a product short of stock, or a customer over their credit limit (unless the caller holds bills:override_credit), is a 409 and nothing changes.",
  tags,
  ...authed("bills:write"),
  request: { params: BillIdParam },
  responses: { 200: jsonResponse(Bill, "The issued bill"), ...problemResponses },
});

const recordPaymentRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/payments",
  summary: "Record a payment against an issued bill",
  description: "More than the balance due is a 409, unless `excess_to_credit` keeps the excess as credit on the customer's ledger.",
  tags,
  ...authed("bills:write"),
  request: { params: BillIdParam, headers: idempotencyHeader("the first payment back instead of a second one", "pay-7f3a9c"), ...jsonBody(CreatePaymentBody) },
  responses: { 201: jsonResponse(PaymentResult, "The payment and the bill after it"), ...problemResponses },
});

const voidBillRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/void",
  summary: "Void an issued bill: its stock comes back and its charge leaves the customer's ledger",
  description: "A paid bill is refunded, not voided (409).",
  tags,
  ...authed("bills:write"),
  request: { params: BillIdParam },
  responses: { 200: jsonResponse(Bill, "The voided bill"), ...problemResponses },
});

const refundBillRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/refunds",
  summary: "Give money back on a paid bill, in part or in full",
  description:
    "At most what was paid and not yet refunded (409 otherwise). The refund that makes the bill fully refunded may put its goods back in stock (`restock`); the bill is then `refunded`.",
  tags,
  ...authed("bills:write"),
  request: { params: BillIdParam, headers: idempotencyHeader("the first refund back instead of a second one", "refund-2b81"), ...jsonBody(CreateRefundBody) },
  responses: { 201: jsonResponse(RefundResult, "The refund and the bill after it"), ...problemResponses },
});

export const billsRoutes = createRouter()
  .openapi(createBillRoute, async (c) => c.json(await createBill(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listBillsRoute, async (c) => c.json(await listBills(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getBillRoute, async (c) => c.json(await getBill(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(issueBillRoute, async (c) => c.json(await issueBill(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(recordPaymentRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await recordBillPayment(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 201);
  })
  .openapi(voidBillRoute, async (c) => c.json(await voidBill(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(refundBillRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await refundBill(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 201);
  });
