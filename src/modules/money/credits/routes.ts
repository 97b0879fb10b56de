import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { Adjustment, AdjustmentBody, Balance, IdempotencyHeader, LedgerPage, LedgerQuery, QuotaQuery, QuotaUsage } from "./schemas";
import { adjustCredits, getActiveBalance, getActiveQuotaUsage, listActiveLedger } from "./service";

const tags = ["Credits"];

const getBalanceRoute = createRoute({
  method: "get",
  path: "/v1/credits/balance",
  summary: "Credits the organisation can spend now",
  description: "1 credit = USD 0.001. A new organisation starts with the free plan's monthly allowance.",
  tags,
  ...authed("credits:read"),
  responses: { 200: jsonResponse(Balance, "The balance"), ...problemResponses },
});

const listLedgerRoute = createRoute({
  method: "get",
  path: "/v1/credits/ledger",
  summary: "The organisation's credit ledger, newest first",
  description: "Every grant, purchase, hold, release, charge, refund, expiry and adjustment; the balance is their sum.",
  tags,
  ...authed("credits:read"),
  request: { query: LedgerQuery },
  responses: { 200: jsonResponse(LedgerPage, "A page of entries"), ...problemResponses },
});

const quotaUsageRoute = createRoute({
  method: "get",
  path: "/v1/quota/usage",
  summary: "Usage by feature and model for a month, with the credits left",
  tags,
  ...authed("credits:read"),
  request: { query: QuotaQuery },
  responses: { 200: jsonResponse(QuotaUsage, "Usage in the period"), ...problemResponses },
});

const createAdjustmentRoute = createRoute({
  method: "post",
  path: "/v1/credits/adjustments",
  summary: "Add or take away credits by hand (platform staff only)",
  description:
    "Super-admin only; everyone else gets 403. Taking away never goes below a zero balance: the entry records what was removed. Audited in the organisation. With `Idempotency-Key`, a repeat answers 200 with the first adjustment.",
  tags,
  ...authed(),
  request: { headers: IdempotencyHeader, ...jsonBody(AdjustmentBody) },
  responses: {
    201: jsonResponse(Adjustment, "Adjusted"),
    200: jsonResponse(Adjustment, "A repeat of an earlier request with this Idempotency-Key"),
    ...problemResponses,
  },
});

export const creditsRoutes = createRouter()
  .openapi(getBalanceRoute, async (c) => c.json(await getActiveBalance(c.var.ctx), 200))
  .openapi(listLedgerRoute, async (c) => c.json(await listActiveLedger(c.var.ctx, c.req.valid("query")), 200))
  .openapi(quotaUsageRoute, async (c) => c.json(await getActiveQuotaUsage(c.var.ctx, c.req.valid("query").period), 200))
  .openapi(createAdjustmentRoute, async (c) => {
    const body = c.req.valid("json");
    const { created, ...result } = await adjustCredits(c.var.ctx, {
      orgId: body.org_id,
      amount: body.amount,
      note: body.note,
      idempotencyKey: c.req.valid("header")["idempotency-key"],
    });
    return c.json(result, created ? 201 : 200);
  });
