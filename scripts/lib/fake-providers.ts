/**
 * `FAKE_PROVIDERS=1 npm run dev`: the protocol-faithful provider fakes the tests use
 * (tests/fakes/*), started as local servers, with the variables that point the Worker at them.
 * A provider the user configured (its key/token or base URL set in the shell or in .dev.vars)
 * stays real: its fake is not started and none of its variables is touched.
 */
import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { startFakeElevenLabs } from "../../tests/fakes/elevenlabs.ts";
import { FAKE_GOOGLE_ISSUER, type FakeGoogleClient, startFakeGoogle } from "../../tests/fakes/google.ts";
import type { RunningFake } from "../../tests/fakes/kit.ts";
import { FAKE_LLM_BASE_PATHS } from "../../tests/fakes/llm-endpoints.ts";
import { startFakeOpenAI } from "../../tests/fakes/openai.ts";
import { startFakeRealtime } from "../../tests/fakes/realtime.ts";
import { FAKE_RESEND_API_KEY, startFakeResend } from "../../tests/fakes/resend.ts";
import { FAKE_STRIPE_PRICES, FAKE_STRIPE_SECRET_KEY, startFakeStripe } from "../../tests/fakes/stripe.ts";
import { FAKE_TELEGRAM_BOT_TOKEN, startFakeTelegram } from "../../tests/fakes/telegram.ts";
import { DEFAULT_FAKE_TWILIO_ACCOUNT, startFakeTwilio } from "../../tests/fakes/twilio.ts";
import { DEFAULT_FAKE_WHATSAPP_ACCOUNT, startFakeWhatsApp } from "../../tests/fakes/whatsapp.ts";

export interface FakeProviders {
  /** Variables for the Worker: each faked provider's base URL and fake credentials, and FAKE_PROVIDERS. */
  vars: Record<string, string>;
  /** Names of the faked providers (`openai`, `twilio`, ...), in start order. */
  faked: string[];
  /** Where each faked provider listens, by name. */
  urls: Record<string, string>;
  stop(): Promise<void>;
}

interface StartedFake {
  url: string;
  vars: Record<string, string>;
  close(): Promise<void>;
}

interface FakeProvider {
  name: string;
  /** Any of these set (non-empty) means the user configured the real provider. */
  configuredBy: string[];
  /** `isSet` says whether the user set a variable (their value always wins over the fake's). */
  start(options: { apiOrigin: string; isSet(name: string): boolean }): Promise<StartedFake>;
}

/** Closes a page server in front of a fake, then the fake. */
function closeInTurn(...servers: RunningFake[]): () => Promise<void> {
  return async () => {
    for (const server of servers) await server.close();
  };
}

/** The Google OAuth client the fake registers; plainly not a real one. */
const FAKE_GOOGLE_CLIENT: FakeGoogleClient = { id: "fake-local-client.apps.googleusercontent.com", secret: "fake-local-google-secret" };

const PROVIDERS: FakeProvider[] = [
  {
    name: "openai",
    configuredBy: ["OPENAI_API_KEY", "OPENAI_BASE_URL"],
    async start() {
      const fake = await startFakeOpenAI();
      return { ...fake, vars: { OPENAI_API_KEY: "sk-fake-local-openai", OPENAI_BASE_URL: `${fake.url}/v1` } };
    },
  },
  {
    // Phone calls' voice: the Realtime API over a WebSocket. OPENAI_API_KEY is its key too, so a real
    // key keeps calls real. Unscripted, it answers whatever the caller says with a plainly fake reply.
    name: "openai-realtime",
    configuredBy: ["OPENAI_API_KEY", "OPENAI_REALTIME_URL"],
    async start() {
      // Any non-empty key: the OpenAI fake's, or whatever .dev.vars holds.
      const fake = await startFakeRealtime(null);
      return { ...fake, vars: { OPENAI_REALTIME_URL: `${fake.url.replace(/^http/, "ws")}/v1/realtime` } };
    },
  },
  {
    name: "google",
    configuredBy: ["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_AUTH_URL"],
    async start({ apiOrigin }) {
      const fake = await startFakeGoogle([FAKE_GOOGLE_CLIENT]);
      const consent = await startFakeGoogleConsent(fake.url, apiOrigin);
      return {
        url: fake.url,
        vars: {
          GOOGLE_CLIENT_ID: FAKE_GOOGLE_CLIENT.id,
          GOOGLE_CLIENT_SECRET: FAKE_GOOGLE_CLIENT.secret,
          GOOGLE_AUTH_URL: `${consent.url}/auth`,
          GOOGLE_TOKEN_URL: `${fake.url}/token`,
          GOOGLE_JWKS_URL: `${fake.url}/certs`,
          GOOGLE_ISSUER: FAKE_GOOGLE_ISSUER,
          // The dashboard this server serves, and the Vite dev server's.
          OAUTH_REDIRECT_ORIGINS: [apiOrigin, "http://localhost:5173", "http://127.0.0.1:5173"].join(","),
        },
        close: closeInTurn(consent, fake),
      };
    },
  },
  {
    name: "telegram",
    configuredBy: ["TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL"],
    async start() {
      // Any bot token: a sales channel connected locally (POST /v1/channels) gets a bot of its own.
      const fake = await startFakeTelegram(FAKE_TELEGRAM_BOT_TOKEN, { anyBot: true });
      return { ...fake, vars: { TELEGRAM_BOT_TOKEN: FAKE_TELEGRAM_BOT_TOKEN, TELEGRAM_BASE_URL: fake.url } };
    },
  },
  {
    name: "resend",
    configuredBy: ["RESEND_API_KEY", "RESEND_BASE_URL"],
    async start() {
      const fake = await startFakeResend(FAKE_RESEND_API_KEY);
      return { ...fake, vars: { RESEND_API_KEY: FAKE_RESEND_API_KEY, RESEND_BASE_URL: fake.url } };
    },
  },
  {
    name: "twilio",
    configuredBy: ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_BASE_URL"],
    async start({ apiOrigin, isSet }) {
      const account = DEFAULT_FAKE_TWILIO_ACCOUNT;
      const fake = await startFakeTwilio(account);
      // The fake "Twilio" reaches the dev server where it listens: numbers can be attached (their
      // webhooks need a public base URL) and `npm run call:simulate` signs against that URL.
      const publicUrl: Record<string, string> = isSet("PUBLIC_API_URL") ? {} : { PUBLIC_BASE_URL: apiOrigin };
      return {
        ...fake,
        vars: {
          TWILIO_ACCOUNT_SID: account.sid,
          TWILIO_AUTH_TOKEN: account.authToken,
          TWILIO_FROM_NUMBER: account.numbers[0] ?? "+15005550006",
          TWILIO_BASE_URL: fake.url,
          ...publicUrl,
        },
      };
    },
  },
  {
    name: "whatsapp",
    configuredBy: ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_BASE_URL"],
    async start() {
      const account = DEFAULT_FAKE_WHATSAPP_ACCOUNT;
      // Any number: a sales channel's own number sends with whatever token it was connected with.
      const fake = await startFakeWhatsApp(account, { anyAccount: true });
      return {
        ...fake,
        vars: {
          WHATSAPP_ACCESS_TOKEN: account.accessToken,
          WHATSAPP_PHONE_NUMBER_ID: account.phoneNumberId,
          WHATSAPP_APP_SECRET: "fake-local-wa-app-secret",
          WHATSAPP_VERIFY_TOKEN: "fake-local-wa-verify-token",
          WHATSAPP_BASE_URL: fake.url,
        },
      };
    },
  },
  {
    name: "stripe",
    configuredBy: ["STRIPE_SECRET_KEY", "STRIPE_API_BASE"],
    async start({ apiOrigin }) {
      const fake = await startFakeStripe(FAKE_STRIPE_SECRET_KEY, FAKE_STRIPE_PRICES);
      const webhookSecret = "whsec_fake_local";
      const checkout = await startFakeStripeCheckout(fake.url, `${apiOrigin}/v1/webhooks/stripe`, webhookSecret);
      // Each fake price `price_<name>_test` is sold as STRIPE_PRICE_<NAME>.
      const prices = Object.fromEntries(
        FAKE_STRIPE_PRICES.flatMap((price) => {
          const name = /^price_(\w+)_test$/.exec(price.id)?.[1];
          return name ? [[`STRIPE_PRICE_${name.toUpperCase()}`, price.id]] : [];
        }),
      );
      return {
        url: checkout.url,
        vars: { STRIPE_SECRET_KEY: FAKE_STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: checkout.url, ...prices },
        close: closeInTurn(checkout, fake),
      };
    },
  },
  fakeChatProvider("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
  fakeChatProvider("google-ai", "GOOGLE_AI_API_KEY", "GOOGLE_AI_BASE_URL"),
  fakeChatProvider("xai", "XAI_API_KEY", "XAI_BASE_URL"),
  {
    name: "elevenlabs",
    configuredBy: ["ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL"],
    async start() {
      const apiKey = "xi-fake-local-elevenlabs";
      const fake = await startFakeElevenLabs(apiKey);
      return { ...fake, vars: { ELEVENLABS_API_KEY: apiKey, ELEVENLABS_BASE_URL: fake.url } };
    },
  },
];

/**
 * A chat-model provider (the sales chatbot's agents may use any of them): the OpenAI fake again,
 * its base URL at the path the provider's OpenAI-compatible endpoint has (tests/fakes/llm-endpoints.ts).
 */
function fakeChatProvider(name: string, keyVariable: string, baseUrlVariable: string): FakeProvider {
  const provider = name === "google-ai" ? "google" : (name as "anthropic" | "xai");
  return {
    name,
    configuredBy: [keyVariable, baseUrlVariable],
    async start() {
      const fake = await startFakeOpenAI();
      return { ...fake, vars: { [keyVariable]: `fake-local-${name}`, [baseUrlVariable]: `${fake.url}${FAKE_LLM_BASE_PATHS[provider]}` } };
    },
  };
}

/** Names of every provider `FAKE_PROVIDERS=1` can fake. */
export const FAKEABLE_PROVIDERS = PROVIDERS.map((provider) => provider.name);

/** Whether a FAKE_PROVIDERS value turns the fakes on ("1" or "true"). */
export function fakeProvidersRequested(value: string | undefined): boolean {
  return value !== undefined && ["1", "true"].includes(value.trim().toLowerCase());
}

/**
 * Starts the fake of every provider `userVars` (the shell's and .dev.vars' variables) leaves
 * unconfigured. `apiOrigin` is where the dev server answers, so the fake Google sign-in may
 * return there. Nothing in `vars` names a variable the user set: theirs win.
 */
export async function startFakeProviders(userVars: Record<string, string>, options: { apiOrigin?: string } = {}): Promise<FakeProviders> {
  const isSet = (name: string) => (userVars[name] ?? "").trim() !== "";
  const apiOrigin = options.apiOrigin ?? `http://127.0.0.1:${process.env.PORT ?? "8787"}`;
  const started: { name: string; fake: StartedFake }[] = [];
  const stop = async () => {
    for (const { fake } of started.splice(0).reverse()) await fake.close().catch(() => {});
  };
  try {
    for (const provider of PROVIDERS) {
      if (provider.configuredBy.some(isSet)) continue;
      started.push({ name: provider.name, fake: await provider.start({ apiOrigin, isSet }) });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const faked = started.map(({ name }) => name);
  const vars: Record<string, string> = {};
  for (const { fake } of started) for (const [name, value] of Object.entries(fake.vars)) if (!isSet(name)) vars[name] = value;
  vars.FAKE_PROVIDERS = faked.join(",");
  return { vars, faked, urls: Object.fromEntries(started.map(({ name, fake }) => [name, fake.url])), stop };
}

/** The variables `.dev.vars` in `root` sets (dotenv syntax: NAME=value, # comments, optional quotes). */
export function readDevVars(root: string): Record<string, string> {
  const file = path.join(root, ".dev.vars");
  if (!existsSync(file)) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1]) continue;
    const raw = match[2] ?? "";
    const quoted = /^(["'])(.*)\1$/.exec(raw);
    vars[match[1]] = quoted ? (quoted[2] ?? "") : raw.replace(/\s+#.*$/, "");
  }
  return vars;
}

/** A local HTTP server on 127.0.0.1 with a random port, closed with every open connection. */
async function listenLocally(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, what: string): Promise<RunningFake> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${what} failed: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function page(res: ServerResponse, status: number, title: string, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html><title>${title}</title><h1>${title}</h1>${html}`);
}

/**
 * Stripe as the Worker sees it (tests/fakes/stripe.ts, every call passed through), except that
 * Checkout and billing-portal sessions link to fake pages here instead of stripe.com:
 * `GET /pay/{session}` says no card is charged; paying completes the session in the fake,
 * delivers `checkout.session.completed` signed with the webhook secret to the Worker, as
 * Stripe would, and returns the browser to the session's success URL.
 */
async function startFakeStripeCheckout(stripeUrl: string, webhookUrl: string, webhookSecret: string): Promise<RunningFake> {
  const cancelUrls = new Map<string, string | null>();
  // The fake forgets its customers on restart while .data/ keeps Billx's record of them: a
  // customer id it never issued gets a stand-in customer, and replies carry the old id back.
  const issuedCustomers = new Set<string>();
  const standIns = new Map<string, string>();
  let origin = "";
  const running = await listenLocally(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const pay = /^\/pay\/(cs_[\w]+)$/.exec(url.pathname);
    if (pay?.[1] && req.method === "GET") {
      const id = pay[1];
      const cancel = cancelUrls.get(id);
      return page(
        res,
        200,
        "FAKE Stripe Checkout (FAKE_PROVIDERS)",
        `<p>This is a local fake: no card is charged and no Stripe account is used. Session <code>${escapeHtml(id)}</code>.</p>` +
          `<form method="post"><button>Pay (fake)</button></form>${cancel ? `<p><a href="${escapeHtml(cancel)}">Cancel</a></p>` : ""}`,
      );
    }
    if (pay?.[1] && req.method === "POST") return completeCheckout(pay[1], res);
    if (url.pathname === "/portal" && req.method === "GET") {
      const back = url.searchParams.get("return_url");
      return page(
        res,
        200,
        "FAKE Stripe billing portal (FAKE_PROVIDERS)",
        `<p>This is a local fake: there is no real subscription or card to manage here.</p>${back ? `<p><a href="${escapeHtml(back)}">Back</a></p>` : ""}`,
      );
    }
    return forward(req, res);
  }, "fake Stripe");
  origin = running.url;

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !["host", "connection", "content-length"].includes(name)) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const method = req.method ?? "GET";
    let body: string | undefined = ["GET", "HEAD"].includes(method) ? undefined : Buffer.concat(chunks).toString("utf8");
    if (body && (headers.get("content-type") ?? "").includes("form-urlencoded")) body = await withStandIn(body, headers);
    const upstream = await fetch(`${stripeUrl}${req.url ?? "/"}`, { method, headers, body });
    let text = await upstream.text();
    if ((upstream.headers.get("content-type") ?? "").includes("application/json")) text = relink(asBillxKnowsIt(text));
    const replyHeaders: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) replyHeaders[name] = value;
    });
    res.writeHead(upstream.status, replyHeaders).end(text);
  }

  /** The form with a customer id the fake never issued replaced by a stand-in customer's. */
  async function withStandIn(form: string, headers: Headers): Promise<string> {
    const params = new URLSearchParams(form);
    const customer = params.get("customer");
    if (!customer || issuedCustomers.has(customer)) return form;
    let standIn = standIns.get(customer);
    if (!standIn) {
      const orgId = params.get("client_reference_id") ?? params.get("metadata[org_id]") ?? "";
      const created = await fetch(`${stripeUrl}/v1/customers`, {
        method: "POST",
        headers: { authorization: headers.get("authorization") ?? "", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ "metadata[org_id]": orgId, description: `stand-in for ${customer} (fake restarted)` }),
      });
      const reply = (await created.json()) as { id?: string };
      if (!created.ok || !reply.id) return form;
      standIn = reply.id;
      standIns.set(customer, standIn);
    }
    params.set("customer", standIn);
    return params.toString();
  }

  /** A reply as Billx expects it: stand-in customer ids back to the ids Billx knows; new customers noted. */
  function asBillxKnowsIt(text: string): string {
    let known = text;
    for (const [original, standIn] of standIns) known = known.replaceAll(standIn, original);
    const body = JSON.parse(known) as { object?: string; id?: string };
    if (body.object === "customer" && body.id) issuedCustomers.add(body.id);
    return known;
  }

  /** Points a session's stripe.com link at the fake page, remembering where "cancel" goes. */
  function relink(text: string): string {
    const body = JSON.parse(text) as { object?: string; id?: string; url?: string | null; cancel_url?: string | null; return_url?: string | null };
    if (body.object === "checkout.session" && body.id && body.url) {
      cancelUrls.set(body.id, body.cancel_url ?? null);
      body.url = `${origin}/pay/${body.id}`;
    } else if (body.object === "billing_portal.session" && body.url) {
      body.url = `${origin}/portal${body.return_url ? `?return_url=${encodeURIComponent(body.return_url)}` : ""}`;
    } else return text;
    return JSON.stringify(body);
  }

  async function completeCheckout(sessionId: string, res: ServerResponse): Promise<void> {
    const completed = await fetch(`${stripeUrl}/_fake/checkout/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_id: sessionId }),
    });
    if (!completed.ok) return page(res, completed.status, "FAKE Stripe Checkout", `<p>${escapeHtml(await completed.text())}</p>`);
    const { session } = JSON.parse(asBillxKnowsIt(await completed.text())) as { session: { id: string; success_url: string | null } };
    const { default: Stripe } = await import("stripe");
    const created = Math.floor(Date.now() / 1000);
    const event = {
      id: `evt_fake${createHmac("sha256", sessionId).update(String(created)).digest("hex").slice(0, 24)}`,
      object: "event",
      type: "checkout.session.completed",
      api_version: Stripe.API_VERSION,
      created,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: session },
    };
    const payload = JSON.stringify(event, null, 2);
    const signature = `t=${created},v1=${createHmac("sha256", webhookSecret).update(`${created}.${payload}`).digest("hex")}`;
    const delivered = await fetch(webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signature,
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: payload,
    });
    if (!delivered.ok) {
      return page(
        res,
        502,
        "FAKE Stripe Checkout",
        `<p>Paid in the fake, but the webhook was refused: ${delivered.status} ${escapeHtml(await delivered.text())}</p>`,
      );
    }
    if (!session.success_url) return page(res, 200, "FAKE Stripe Checkout", "<p>Paid (fake). No success URL to return to.</p>");
    res.writeHead(303, { location: session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) }).end();
  }

  return running;
}

/**
 * Google's consent page, faked: `GET /auth?client_id&redirect_uri&state&nonce&code_challenge`
 * shows a form saying no Google account is used; submitting an email has the fake Google issue
 * a code for it (`POST /_fake/authorize`) and sends the browser back to `redirect_uri`.
 */
function startFakeGoogleConsent(googleUrl: string, apiOrigin: string): Promise<RunningFake> {
  return listenLocally((req, res) => answerConsent(googleUrl, apiOrigin, req, res), "fake Google sign-in");
}

async function answerConsent(googleUrl: string, apiOrigin: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fake");
  const params = url.searchParams;
  if (url.pathname !== "/auth") return page(res, 404, "FAKE Google sign-in", "<p>Not found</p>");
  const email = params.get("email");
  if (req.method !== "GET" || !email) {
    const hidden = ["client_id", "redirect_uri", "state", "nonce", "code_challenge"]
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? "")}">`)
      .join("");
    return page(
      res,
      200,
      "FAKE Google sign-in (FAKE_PROVIDERS)",
      `<p>This is a local fake: no Google account is used and nothing leaves this machine.</p>` +
        `<form method="get" action="/auth">${hidden}<label>Email <input name="email" type="email" value="fake.google.user@example.com" required></label> ` +
        `<button>Continue as this fake Google user</button></form>`,
    );
  }
  const redirectUri = params.get("redirect_uri") ?? "";
  // Like a registered redirect URI at Google: only this dev server's own callback.
  if (!redirectUri.startsWith(`${apiOrigin}/`)) return page(res, 400, "FAKE Google sign-in", `<p>redirect_uri must be on ${escapeHtml(apiOrigin)}</p>`);
  const authorize = await fetch(`${googleUrl}/_fake/authorize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_id: params.get("client_id"),
      redirect_uri: redirectUri,
      code_challenge: params.get("code_challenge"),
      nonce: params.get("nonce"),
      email,
      sub: `fake-${email.toLowerCase()}`,
      name: "Fake Google User",
    }),
  });
  const answer = (await authorize.json()) as { code?: string; error?: string; error_description?: string };
  if (!answer.code) {
    return page(
      res,
      400,
      "FAKE Google sign-in",
      `<p>The fake Google refused: ${escapeHtml(answer.error_description ?? answer.error ?? String(authorize.status))}</p>`,
    );
  }
  const back = new URL(redirectUri);
  back.searchParams.set("code", answer.code);
  back.searchParams.set("state", params.get("state") ?? "");
  res.writeHead(302, { location: back.toString() }).end();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
