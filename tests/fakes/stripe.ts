/**
 * A fake of the parts of Stripe's API that Billx calls, speaking Stripe's wire format:
 * - Requests are `application/x-www-form-urlencoded` with Stripe's bracket notation for nested
 *   parameters (`metadata[org_id]=...`, `line_items[0][price]=...`), parsed back into objects.
 * - `Authorization: Bearer <secret key>`; a missing or wrong key answers 401 as Stripe does.
 * - `POST /v1/customers`, `POST /v1/checkout/sessions`, `POST /v1/billing_portal/sessions`
 *   answer Stripe's objects (`id`, `object`, `url`, ...). Unknown prices or customers, and a
 *   price that does not fit the session's `mode`, are refused like Stripe refuses them.
 * - `Idempotency-Key` on any POST: the same key with the same parameters replays the first reply
 *   (with `Idempotent-Replayed: true`) and creates nothing; with other parameters, 400
 *   `idempotency_error`.
 * - Errors are Stripe's envelope `{error: {type, code?, message, param?}}`.
 *
 * Scope = the organisation id Billx sends (customer `metadata[org_id]`, the session's
 * `client_reference_id`, the portal customer's `metadata[org_id]`), so `/_fake/requests?scope=`
 * and `/_fake/failures` are per organisation and parallel test files never collide.
 *
 * Control endpoints playing the buyer and Stripe's billing engine (each returns the objects a
 * webhook would carry, for tests to send as events):
 * - `GET /_fake/customers?scope=` — the customers created for an organisation;
 * - `POST /_fake/checkout/complete {session_id}` — the buyer pays: `{session, subscription?, invoice?}`;
 * - `POST /_fake/subscriptions/renew {subscription_id, outcome: "paid"|"failed"}` — the next
 *   period's invoice: `{subscription, invoice}`;
 * - `POST /_fake/subscriptions/cancel {subscription_id}` — `{subscription}` ended now.
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

/** The key vitest.config.ts binds as STRIPE_SECRET_KEY. */
export const FAKE_STRIPE_SECRET_KEY = "sk_test_fake";

export interface FakePrice {
  id: string;
  object: "price";
  active: boolean;
  currency: string;
  unit_amount: number;
  type: "one_time" | "recurring";
  recurring: { interval: "month"; interval_count: 1 } | null;
  product: string;
}

/** The prices vitest.config.ts binds as STRIPE_PRICE_*. */
export const FAKE_STRIPE_PRICES: FakePrice[] = [
  price("price_basic_test", 2_900, "recurring"),
  price("price_pro_test", 9_900, "recurring"),
  price("price_credits_1000_test", 1_000, "one_time"),
  price("price_credits_10000_test", 8_000, "one_time"),
];

export interface FakeCustomer {
  id: string;
  object: "customer";
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
  livemode: false;
  balance: number;
  currency: string | null;
  delinquent: boolean;
  invoice_prefix: string;
  preferred_locales: string[];
  tax_exempt: "none";
  test_clock: null;
}

export interface FakeCheckoutSession {
  id: string;
  object: "checkout.session";
  url: string | null;
  mode: "payment" | "subscription" | "setup";
  status: "open" | "complete" | "expired";
  payment_status: "paid" | "unpaid" | "no_payment_required";
  customer: string | null;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  success_url: string | null;
  cancel_url: string | null;
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  subscription: string | null;
  invoice: string | null;
  payment_intent: string | null;
  created: number;
  expires_at: number;
  livemode: false;
}

export interface FakeSubscription {
  id: string;
  object: "subscription";
  customer: string;
  status: "active" | "past_due" | "canceled";
  metadata: Record<string, string>;
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  ended_at: number | null;
  created: number;
  livemode: false;
  items: {
    object: "list";
    data: {
      id: string;
      object: "subscription_item";
      price: FakePrice;
      quantity: number;
      current_period_start: number;
      current_period_end: number;
    }[];
  };
}

export interface FakeInvoice {
  id: string;
  object: "invoice";
  customer: string;
  status: "paid" | "open";
  billing_reason: "subscription_create" | "subscription_cycle";
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  attempted: boolean;
  attempt_count: number;
  currency: string;
  period_start: number;
  period_end: number;
  hosted_invoice_url: string;
  parent: { type: "subscription_details"; subscription_details: { subscription: string; metadata: Record<string, string> }; quote_details: null };
  lines: {
    object: "list";
    data: {
      id: string;
      object: "line_item";
      amount: number;
      currency: string;
      period: { start: number; end: number };
      pricing: { type: "price_details"; price_details: { price: string; product: string } };
      quantity: number;
    }[];
  };
  created: number;
  livemode: false;
}

const MONTH_SECONDS = 30 * 24 * 60 * 60;

function price(id: string, unitAmount: number, type: FakePrice["type"]): FakePrice {
  return {
    id,
    object: "price",
    active: true,
    currency: "usd",
    unit_amount: unitAmount,
    type,
    recurring: type === "recurring" ? { interval: "month", interval_count: 1 } : null,
    product: `prod_${id.replace(/^price_/, "")}`,
  };
}

function stripeId(prefix: string, length = 24): string {
  return `${prefix}_${randomBytes(length).toString("base64url").replace(/[-_]/g, "").slice(0, length)}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A Stripe error reply. */
export function stripeError(type: string, message: string, extra: { code?: string; param?: string } = {}) {
  return { error: { type, message, ...extra } };
}

/**
 * Stripe's form encoding back into objects: `a[b][0][c]=v` becomes `{a: {b: [{c: "v"}]}}`.
 * Numeric segments make arrays; values stay strings, as Stripe receives them.
 */
export function parseStripeForm(flat: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!match) {
      root[key] = value;
      continue;
    }
    const segments = [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)];
    let node: Record<string, unknown> | unknown[] = root;
    segments.forEach((segment, index) => {
      const last = index === segments.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(segments[index + 1]!);
      const slot = Array.isArray(node) ? Number(segment) : segment;
      const container = node as Record<string | number, unknown>;
      if (last) container[slot] = value;
      else {
        container[slot] ??= nextIsIndex ? [] : {};
        node = container[slot] as Record<string, unknown> | unknown[];
      }
    });
  }
  return root;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

export async function startFakeStripe(secretKey = FAKE_STRIPE_SECRET_KEY, prices: FakePrice[] = FAKE_STRIPE_PRICES) {
  const priceById = new Map(prices.map((p) => [p.id, p]));
  const customers = new Map<string, FakeCustomer>();
  const sessions = new Map<
    string,
    { session: FakeCheckoutSession; lineItems: { price: FakePrice; quantity: number }[]; subscriptionMetadata: Record<string, string> }
  >();
  const subscriptions = new Map<string, FakeSubscription>();
  const idempotent = new Map<string, { request: string; status: number; body: unknown }>();

  const scopeOfCustomer = (id: unknown) => (typeof id === "string" ? (customers.get(id)?.metadata.org_id ?? "") : "");

  function invoiceFor(subscription: FakeSubscription, reason: FakeInvoice["billing_reason"], paid: boolean): FakeInvoice {
    const item = subscription.items.data[0]!;
    const amount = item.price.unit_amount * item.quantity;
    return {
      id: stripeId("in"),
      object: "invoice",
      customer: subscription.customer,
      status: paid ? "paid" : "open",
      billing_reason: reason,
      amount_due: amount,
      amount_paid: paid ? amount : 0,
      amount_remaining: paid ? 0 : amount,
      attempted: true,
      attempt_count: 1,
      currency: item.price.currency,
      // Stripe's invoice-level period is the one before the lines' (billed in arrears); the
      // line carries the subscription period the invoice pays for.
      period_start: item.current_period_start,
      period_end: item.current_period_start,
      hosted_invoice_url: `https://invoice.stripe.com/i/acct_fake/test_${randomBytes(12).toString("hex")}`,
      parent: { type: "subscription_details", subscription_details: { subscription: subscription.id, metadata: subscription.metadata }, quote_details: null },
      lines: {
        object: "list",
        data: [
          {
            id: stripeId("il"),
            object: "line_item",
            amount,
            currency: item.price.currency,
            period: { start: item.current_period_start, end: item.current_period_end },
            pricing: { type: "price_details", price_details: { price: item.price.id, product: item.price.product } },
            quantity: item.quantity,
          },
        ],
      },
      created: nowSeconds(),
      livemode: false,
    };
  }

  function control(req: IncomingMessage, res: ServerResponse, url: URL, body: Record<string, unknown>): boolean {
    const answer = (status: number, reply: unknown): true => {
      sendJson(res, status, reply);
      return true;
    };
    if (req.method === "GET" && url.pathname === "/_fake/customers") {
      const scope = url.searchParams.get("scope") ?? "";
      return answer(
        200,
        [...customers.values()].filter((c) => c.metadata.org_id === scope),
      );
    }
    if (req.method === "POST" && url.pathname === "/_fake/checkout/complete") {
      const entry = sessions.get(String(body.session_id));
      if (!entry) return answer(404, { error: `no session ${String(body.session_id)}` });
      const session = entry.session;
      if (session.status !== "open") return answer(409, { error: `session is ${session.status}` });
      session.status = "complete";
      session.payment_status = "paid";
      session.url = null;
      if (session.mode === "payment") {
        session.payment_intent = stripeId("pi");
        return answer(200, { session });
      }
      const start = nowSeconds();
      const subscription: FakeSubscription = {
        id: stripeId("sub"),
        object: "subscription",
        customer: session.customer ?? "",
        status: "active",
        metadata: entry.subscriptionMetadata,
        cancel_at_period_end: false,
        canceled_at: null,
        ended_at: null,
        created: start,
        livemode: false,
        items: {
          object: "list",
          data: entry.lineItems.map((line) => ({
            id: stripeId("si"),
            object: "subscription_item" as const,
            price: line.price,
            quantity: line.quantity,
            current_period_start: start,
            current_period_end: start + MONTH_SECONDS,
          })),
        },
      };
      subscriptions.set(subscription.id, subscription);
      const invoice = invoiceFor(subscription, "subscription_create", true);
      session.subscription = subscription.id;
      session.invoice = invoice.id;
      return answer(200, { session, subscription, invoice });
    }
    if (req.method === "POST" && url.pathname === "/_fake/subscriptions/renew") {
      const subscription = subscriptions.get(String(body.subscription_id));
      if (!subscription) return answer(404, { error: `no subscription ${String(body.subscription_id)}` });
      for (const item of subscription.items.data) {
        item.current_period_start = item.current_period_end;
        item.current_period_end += MONTH_SECONDS;
      }
      const paid = body.outcome !== "failed";
      subscription.status = paid ? "active" : "past_due";
      return answer(200, { subscription, invoice: invoiceFor(subscription, "subscription_cycle", paid) });
    }
    if (req.method === "POST" && url.pathname === "/_fake/subscriptions/cancel") {
      const subscription = subscriptions.get(String(body.subscription_id));
      if (!subscription) return answer(404, { error: `no subscription ${String(body.subscription_id)}` });
      subscription.status = "canceled";
      subscription.canceled_at = nowSeconds();
      subscription.ended_at = subscription.canceled_at;
      return answer(200, { subscription });
    }
    return false;
  }

  function createCustomer(params: Record<string, unknown>): [number, unknown] {
    const customer: FakeCustomer = {
      id: stripeId("cus", 14),
      object: "customer",
      created: nowSeconds(),
      email: typeof params.email === "string" ? params.email : null,
      name: typeof params.name === "string" ? params.name : null,
      description: typeof params.description === "string" ? params.description : null,
      metadata: stringMap(params.metadata),
      livemode: false,
      balance: 0,
      currency: null,
      delinquent: false,
      invoice_prefix: randomBytes(4).toString("hex").toUpperCase(),
      preferred_locales: [],
      tax_exempt: "none",
      test_clock: null,
    };
    customers.set(customer.id, customer);
    return [200, customer];
  }

  function createCheckoutSession(params: Record<string, unknown>): [number, unknown] {
    const mode = params.mode;
    if (mode !== "payment" && mode !== "subscription" && mode !== "setup") {
      return [400, stripeError("invalid_request_error", "Missing required param: mode.", { code: "parameter_missing", param: "mode" })];
    }
    if (typeof params.customer === "string" && !customers.has(params.customer)) {
      return [400, stripeError("invalid_request_error", `No such customer: '${params.customer}'`, { code: "resource_missing", param: "customer" })];
    }
    const rawItems = Array.isArray(params.line_items) ? (params.line_items as Record<string, unknown>[]) : [];
    if (mode !== "setup" && rawItems.length === 0) {
      return [400, stripeError("invalid_request_error", "Missing required param: line_items.", { code: "parameter_missing", param: "line_items" })];
    }
    const lineItems: { price: FakePrice; quantity: number }[] = [];
    for (const [index, item] of rawItems.entries()) {
      // Inline prices (`price_data`) are one-time prices made for this session, as Stripe makes them.
      const inline = item.price_data as { currency?: string; unit_amount?: string; product_data?: { name?: string } } | undefined;
      if (inline) {
        const unitAmount = Number(inline.unit_amount);
        if (!inline.currency || !Number.isInteger(unitAmount) || unitAmount < 0 || !inline.product_data?.name) {
          return [400, stripeError("invalid_request_error", "Invalid price_data.", { param: `line_items[${index}][price_data]` })];
        }
        if (unitAmount * Number(item.quantity ?? 1) < 50) {
          return [400, stripeError("invalid_request_error", `The Checkout Session's total amount due must add up to at least $0.50 ${inline.currency}`)];
        }
        lineItems.push({ price: { ...price(stripeId("price"), unitAmount, "one_time"), currency: inline.currency }, quantity: Number(item.quantity ?? 1) });
        continue;
      }
      const found = priceById.get(String(item.price));
      if (!found) {
        return [
          400,
          stripeError("invalid_request_error", `No such price: '${String(item.price)}'`, { code: "resource_missing", param: `line_items[${index}][price]` }),
        ];
      }
      if (mode === "payment" && found.type === "recurring") {
        return [
          400,
          stripeError(
            "invalid_request_error",
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            { param: `line_items[${index}][price]` },
          ),
        ];
      }
      lineItems.push({ price: found, quantity: Number(item.quantity ?? 1) });
    }
    if (mode === "subscription" && !lineItems.some((line) => line.price.type === "recurring")) {
      return [
        400,
        stripeError("invalid_request_error", "You must provide at least one recurring price in `subscription` mode when using prices.", {
          param: "line_items",
        }),
      ];
    }
    const created = nowSeconds();
    const id = `cs_test_${randomBytes(30).toString("base64url").replace(/[-_]/g, "").slice(0, 58)}`;
    const amount = lineItems.reduce((sum, line) => sum + line.price.unit_amount * line.quantity, 0);
    const session: FakeCheckoutSession = {
      id,
      object: "checkout.session",
      url: `https://checkout.stripe.com/c/pay/${id}#fidkdWxOYHwnPyd1blpxYHZxWjA0`,
      mode,
      status: "open",
      payment_status: "unpaid",
      customer: typeof params.customer === "string" ? params.customer : null,
      client_reference_id: typeof params.client_reference_id === "string" ? params.client_reference_id : null,
      metadata: stringMap(params.metadata),
      success_url: typeof params.success_url === "string" ? params.success_url : null,
      cancel_url: typeof params.cancel_url === "string" ? params.cancel_url : null,
      amount_subtotal: amount,
      amount_total: amount,
      currency: lineItems[0]?.price.currency ?? "usd",
      subscription: null,
      invoice: null,
      payment_intent: null,
      created,
      expires_at: created + 24 * 60 * 60,
      livemode: false,
    };
    const subscriptionData = (params.subscription_data ?? {}) as Record<string, unknown>;
    sessions.set(id, { session, lineItems, subscriptionMetadata: stringMap(subscriptionData.metadata) });
    return [200, session];
  }

  function createPortalSession(params: Record<string, unknown>): [number, unknown] {
    if (typeof params.customer !== "string") {
      return [400, stripeError("invalid_request_error", "Missing required param: customer.", { code: "parameter_missing", param: "customer" })];
    }
    if (!customers.has(params.customer)) {
      return [400, stripeError("invalid_request_error", `No such customer: '${params.customer}'`, { code: "resource_missing", param: "customer" })];
    }
    return [
      200,
      {
        id: stripeId("bps"),
        object: "billing_portal.session",
        configuration: "bpc_fakeDefaultConfiguration",
        created: nowSeconds(),
        customer: params.customer,
        flow: null,
        livemode: false,
        locale: null,
        on_behalf_of: null,
        return_url: typeof params.return_url === "string" ? params.return_url : null,
        url: `https://billing.stripe.com/p/session/test_${randomBytes(24).toString("base64url")}`,
      },
    ];
  }

  const routes: Record<string, { create: (params: Record<string, unknown>) => [number, unknown]; scope: (params: Record<string, unknown>) => string }> = {
    "/v1/customers": { create: createCustomer, scope: (p) => stringMap(p.metadata).org_id ?? "" },
    "/v1/checkout/sessions": {
      create: createCheckoutSession,
      scope: (p) => (typeof p.client_reference_id === "string" ? p.client_reference_id : (stringMap(p.metadata).org_id ?? "")),
    },
    "/v1/billing_portal/sessions": { create: createPortalSession, scope: (p) => scopeOfCustomer(p.customer) },
  };

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const flat = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, string>;
    if (url.pathname.startsWith("/_fake/")) {
      if (!control(req, res, url, flat)) sendJson(res, 404, { error: `no control endpoint ${url.pathname}` });
      return;
    }

    const authorization = headerValue(req.headers.authorization) ?? "";
    if (!authorization) {
      return sendJson(
        res,
        401,
        stripeError(
          "invalid_request_error",
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ),
      );
    }
    if (authorization !== `Bearer ${secretKey}`) {
      const given = authorization.replace(/^Bearer\s+/i, "");
      return sendJson(
        res,
        401,
        stripeError("invalid_request_error", `Invalid API Key provided: ${given.slice(0, 8)}${"*".repeat(Math.max(0, given.length - 12))}${given.slice(-4)}`),
      );
    }

    const route = routes[url.pathname];
    if (req.method !== "POST" || !route) {
      return sendJson(
        res,
        404,
        stripeError(
          "invalid_request_error",
          `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        ),
      );
    }
    if (!String(req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) {
      return sendJson(res, 400, stripeError("invalid_request_error", "Invalid request: the body must be application/x-www-form-urlencoded."));
    }

    const params = parseStripeForm(flat);
    req.body = params;
    if (recordAndMaybeFail(req, res, state, route.scope(params))) return;

    const key = headerValue(req.headers["idempotency-key"]);
    const fingerprint = `${req.method} ${url.pathname} ${createHash("sha256").update(JSON.stringify(params)).digest("hex")}`;
    const previous = key ? idempotent.get(key) : undefined;
    if (previous) {
      if (previous.request !== fingerprint) {
        return sendJson(
          res,
          400,
          stripeError(
            "idempotency_error",
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          ),
        );
      }
      return sendJson(res, previous.status, previous.body, { "idempotent-replayed": "true", "idempotency-key": key ?? "" });
    }

    const [status, reply] = route.create(params);
    // Stripe keeps the reply for a key whether it succeeded or was a 4xx it will not change its mind about.
    if (key) idempotent.set(key, { request: fingerprint, status, body: reply });
    return sendJson(res, status, reply, { "request-id": stripeId("req", 14), ...(key ? { "idempotency-key": key } : {}) });
  });
}
