import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { renderInvoiceDocument } from "./document";
import { generateMonthlyInvoices } from "./monthly";
import {
  CreateInvoiceBody,
  DocumentQuery,
  Invoice,
  InvoiceIdParam,
  InvoiceList,
  InvoiceListQuery,
  MonthlyRunBody,
  MonthlyRunResult,
  PayInvoiceBody,
} from "./schemas";
import { cancelInvoice, createInvoice, finalizeInvoice, getInvoice, listInvoices, recordManualPayment } from "./service";
import { createInvoicePaymentLink } from "./stripe";

const tags = ["Invoices"];

const PRICING =
  "Lines are priced by the billing model's current version over the customer's usage in [period start, period end) UTC " +
  "(events of the customer's agents); the invoice keeps that version and its lines, so later model edits never change it.";

const createInvoiceRoute = createRoute({
  method: "post",
  path: "/v1/invoices",
  summary: "Create a draft usage invoice for a customer and period",
  description: `${PRICING} 409 when a live (not void) invoice of the customer and model already covers part of the period.`,
  tags,
  ...authed("invoices:write"),
  request: jsonBody(CreateInvoiceBody),
  responses: { 201: jsonResponse(Invoice, "The draft invoice with its lines"), ...problemResponses },
});

const listInvoicesRoute = createRoute({
  method: "get",
  path: "/v1/invoices",
  summary: "List invoices, newest first",
  tags,
  ...authed("invoices:read"),
  request: { query: InvoiceListQuery },
  responses: { 200: jsonResponse(InvoiceList, "A page of invoices"), ...problemResponses },
});

const getInvoiceRoute = createRoute({
  method: "get",
  path: "/v1/invoices/{id}",
  summary: "One invoice with its lines",
  tags,
  ...authed("invoices:read"),
  request: { params: InvoiceIdParam },
  responses: { 200: jsonResponse(Invoice, "The invoice"), ...problemResponses },
});

const finalizeInvoiceRoute = createRoute({
  method: "post",
  path: "/v1/invoices/{id}/finalize",
  summary: "Finalize a draft: it opens with the next gap-free number (INV-000001)",
  tags,
  ...authed("invoices:write"),
  request: { params: InvoiceIdParam },
  responses: { 200: jsonResponse(Invoice, "The open invoice"), ...problemResponses },
});

const cancelInvoiceRoute = createRoute({
  method: "post",
  path: "/v1/invoices/{id}/cancel",
  summary: "Cancel a draft or open invoice (it becomes void); a paid invoice is a 409",
  description: "A void invoice frees its period: the customer can be invoiced for it again.",
  tags,
  ...authed("invoices:write"),
  request: { params: InvoiceIdParam },
  responses: { 200: jsonResponse(Invoice, "The void invoice"), ...problemResponses },
});

const payInvoiceRoute = createRoute({
  method: "post",
  path: "/v1/invoices/{id}/pay",
  summary: "Record a manual payment of an open invoice, or get a Stripe Checkout link for it",
  description:
    "A manual method (cash, card, bank, upi, other) marks the invoice paid in full. Paying a paid invoice again is a 409, unless the " +
    "request repeats the Idempotency-Key of the payment that paid it. `stripe` answers the open invoice with `payment_url`, a Stripe " +
    "Checkout page for the amount due; the invoice turns paid when Stripe's webhook reports the payment.",
  tags,
  ...authed("invoices:write"),
  request: {
    params: InvoiceIdParam,
    headers: idempotencyHeader("the paid invoice (or the same Checkout link) again", "pay-ivc-7f3a"),
    ...jsonBody(PayInvoiceBody),
  },
  responses: {
    200: jsonResponse(Invoice, "The invoice, paid, or open with its payment_url"),
    ...problemResponses,
    502: problem("Stripe refused the request or could not be reached"),
    503: problem("Stripe is not configured; the detail names the variable to set"),
  },
});

const invoiceDocumentRoute = createRoute({
  method: "get",
  path: "/v1/invoices/{id}/document",
  summary: "The invoice as a web page, or a PDF with `?format=pdf`",
  tags,
  ...authed("invoices:read"),
  request: { params: InvoiceIdParam, query: DocumentQuery },
  responses: {
    200: {
      description: "The invoice document",
      content: {
        "text/html": { schema: z.string().openapi({ description: "A self-contained page with no scripts", example: "<!doctype html>..." }) },
        "application/pdf": { schema: z.string().openapi({ description: "The invoice as a PDF document", format: "binary", example: "%PDF-1.7 ..." }) },
      },
    },
    ...problemResponses,
  },
});

const monthlyRunRoute = createRoute({
  method: "post",
  path: "/v1/invoices/generate/monthly",
  summary: "Invoice every customer with a billing plan for one month",
  description:
    `${PRICING} One invoice per customer and month: running it again, or twice at once, creates nothing new and lists those customers ` +
    "as skipped (`already invoiced`). Only a month that is over (422 otherwise). The same run happens on the 1st of each month at 02:00 UTC for the month before.",
  tags,
  ...authed("invoices:write"),
  request: jsonBody(MonthlyRunBody),
  responses: { 200: jsonResponse(MonthlyRunResult, "What the run created and skipped"), ...problemResponses },
});

export const invoicesRoutes = createRouter()
  .openapi(createInvoiceRoute, async (c) => c.json(await createInvoice(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listInvoicesRoute, async (c) => c.json(await listInvoices(c.var.ctx, c.req.valid("query")), 200))
  .openapi(monthlyRunRoute, async (c) => c.json(await generateMonthlyInvoices(c.var.ctx, c.req.valid("json")), 200))
  .openapi(getInvoiceRoute, async (c) => c.json(await getInvoice(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(finalizeInvoiceRoute, async (c) => c.json(await finalizeInvoice(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(cancelInvoiceRoute, async (c) => c.json(await cancelInvoice(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(payInvoiceRoute, async (c) => {
    const id = c.req.valid("param").id;
    const key = c.req.valid("header")["idempotency-key"];
    const body = c.req.valid("json");
    if (body.method === "stripe") return c.json(await createInvoicePaymentLink(c.var.ctx, id, key), 200);
    return c.json(await recordManualPayment(c.var.ctx, id, { ...body, method: body.method }, key), 200);
  })
  .openapi(invoiceDocumentRoute, async (c) => {
    const rendered = await renderInvoiceDocument(c.var.ctx, c.req.valid("param").id, c.req.valid("query").format);
    return c.body(rendered.body, 200, rendered.headers);
  });
