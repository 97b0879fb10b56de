import { createRoute } from "@hono/zod-openapi";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  CustomerIdParam,
  CustomerPaymentBody,
  CustomerPaymentList,
  CustomerPaymentListQuery,
  CustomerPaymentResult,
  Statement,
  StatementQuery,
} from "./schemas";
import { customerStatement, listCustomerPayments, receiveCustomerPayment } from "./service";

const tags = ["Customers"];

const receivePaymentRoute = createRoute({
  method: "post",
  path: "/v1/customers/{id}/payments",
  summary: "Take a payment on account and allocate it to the customer's unpaid bills",
  description:
    "Pays the oldest unpaid bills first, or the bills named in `bill_ids` in that order. What is left becomes the customer's credit, " +
    "which pays their next bill when it is issued.",
  tags,
  ...authed("bills:write"),
  request: {
    params: CustomerIdParam,
    headers: idempotencyHeader("the first payment back instead of a second one", "acct-pay-51c2"),
    ...jsonBody(CustomerPaymentBody),
  },
  responses: { 201: jsonResponse(CustomerPaymentResult, "The payment, where it went and the customer's balance after it"), ...problemResponses },
});

const listPaymentsRoute = createRoute({
  method: "get",
  path: "/v1/customers/{id}/payments",
  summary: "A customer's payments on account, newest first",
  tags,
  ...authed("customers:read"),
  request: { params: CustomerIdParam, query: CustomerPaymentListQuery },
  responses: { 200: jsonResponse(CustomerPaymentList, "A page of payments"), ...problemResponses },
});

const statementRoute = createRoute({
  method: "get",
  path: "/v1/customers/{id}/statement",
  summary: "A customer's statement: balance brought forward, bills, payments and running balance",
  tags,
  ...authed("customers:read"),
  request: { params: CustomerIdParam, query: StatementQuery },
  responses: { 200: jsonResponse(Statement, "The statement"), ...problemResponses },
});

export const receivablesRoutes = createRouter()
  .openapi(receivePaymentRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await receiveCustomerPayment(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 201);
  })
  .openapi(listPaymentsRoute, async (c) => c.json(await listCustomerPayments(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(statementRoute, async (c) => c.json(await customerStatement(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200));
