import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../../lib/context";
import { createRouter, problem } from "../../../lib/openapi";
import { enforceRateLimit } from "../../identity/auth/middleware";
import { openBillLink } from "./delivery";
import { BillLinkParam, BillLinkQuery } from "./delivery-schemas";
import { billPageCsp, renderBillHtml } from "./render-html";

/**
 * Every answer on a bill link, the 404 and 429 included: the URL is a bearer credential for one
 * customer's bill, so nothing may be cached by a shared cache, indexed, or leak it as a referrer.
 */
const privatePage: MiddlewareHandler<AppEnv> = async function privatePage(c, next) {
  await next();
  c.header("Cache-Control", "private, no-store");
  c.header("X-Robots-Tag", "noindex, nofollow");
  c.header("Referrer-Policy", "no-referrer");
};

/**
 * Per client IP, on the same limiter as the sign-in endpoints but under keys of its own, so
 * someone reading bills never uses up their sign-in attempts. Guessing tokens is hopeless anyway
 * (they are signed); this bounds the cost of the PDF rendering.
 */
const limitByIp: MiddlewareHandler<AppEnv> = async function limitBillLinksByIp(c, next) {
  await enforceRateLimit(c.env.RATE_LIMIT_AUTH, `bill-link:ip:${c.var.ctx.request.ip ?? "unknown"}`);
  await next();
};

const openBillLinkRoute = createRoute({
  method: "get",
  path: "/b/{token}",
  summary: "A bill opened from its signed link: a web page, or a PDF with `?format=pdf`",
  description:
    "No authentication: the signed token in the path is the credential. It works for BILL_LINK_TTL_DAYS after the bill " +
    "was sent, until the bill's links are revoked. A bad, expired or revoked token is a 404 that does not say which. " +
    "Rate limited per client IP.",
  tags: ["Bills"],
  middleware: [privatePage, limitByIp] as const,
  request: { params: BillLinkParam, query: BillLinkQuery },
  responses: {
    200: {
      description: "The bill",
      content: {
        "text/html": { schema: z.string().openapi({ description: "A self-contained page with no scripts", example: "<!doctype html>..." }) },
        "application/pdf": { schema: z.string().openapi({ description: "The bill as a PDF document", format: "binary", example: "%PDF-1.7 ..." }) },
      },
    },
    404: problem("No such link, or it expired or was revoked"),
    422: problem("Unknown format"),
    429: problem("Too many requests from this IP"),
  },
});

function pdfFilename(number: string | null): string {
  return `${(number ?? "bill").replace(/[^\w-]/g, "_")}.pdf`;
}

export const billPublicRoutes = createRouter().openapi(openBillLinkRoute, async (c) => {
  const bill = await openBillLink(c.var.ctx, c.req.valid("param").token);
  if (c.req.valid("query").format === "pdf") {
    // pdf-lib loads with the first PDF, not with every cold isolate.
    const { renderBillPdf } = await import("./render-pdf");
    return c.body(await renderBillPdf(bill), 200, {
      "Content-Type": "application/pdf",
      "Content-Disposition": `inline; filename="${pdfFilename(bill.number)}"`,
    });
  }
  return c.body(renderBillHtml(bill), 200, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": await billPageCsp(),
  });
});
