import { createRoute } from "@hono/zod-openapi";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { revokeBillLinks, sendBill } from "./delivery";
import { SendBillBody, SentBill } from "./delivery-schemas";
import { BillIdParam } from "./schemas";

const tags = ["Bills"];

const sendBillRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/send",
  summary: "Send an issued bill to its customer by SMS, WhatsApp or email, with a signed link to it",
  description:
    "The message names the organisation, the bill number, the total and the balance due, and carries a public link " +
    "(`GET /b/{token}`: the bill as a web page, `?format=pdf` as a PDF) valid for BILL_LINK_TTL_DAYS. It is queued " +
    "and delivered by the outbound queue. A draft or void bill is a 409; a customer without the phone number or " +
    "email the channel needs is a 422 naming the field. With `Idempotency-Key` a retry answers with the first message.",
  tags,
  ...authed("bills:send"),
  request: {
    params: BillIdParam,
    headers: idempotencyHeader("the first message back instead of sending again", "send-bill-7f3a9c"),
    ...jsonBody(SendBillBody),
  },
  responses: { 202: jsonResponse(SentBill, "Queued for delivery"), ...problemResponses },
});

const revokeBillLinksRoute = createRoute({
  method: "post",
  path: "/v1/bills/{id}/link/revoke",
  summary: "Stop every link sent for this bill so far from working",
  description: "Links sent afterwards work again. Opening a revoked link answers 404.",
  tags,
  ...authed("bills:send"),
  request: { params: BillIdParam },
  responses: { 204: { description: "Revoked" }, ...problemResponses },
});

export const billDeliveryRoutes = createRouter()
  .openapi(sendBillRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await sendBill(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), key), 202);
  })
  .openapi(revokeBillLinksRoute, async (c) => {
    await revokeBillLinks(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
