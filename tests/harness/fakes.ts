/**
 * Typed clients for the provider fakes' control endpoints (tests/fakes/*), used from test files
 * running in workerd. Each reads and scripts only its own scope, so parallel files never collide.
 * Below them: holding outbound jobs and handing them to the Worker's queue handler by hand.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import Stripe from "stripe";
import { inject, vi } from "vitest";
import { messages } from "../../src/db/schema";
import type { Env } from "../../src/env";
import worker, { QUEUES } from "../../src/index";
import type { ServiceCtx } from "../../src/lib/context";
import { createServiceCtx } from "../../src/lib/service-ctx";
import { type SendInput, sendMessage } from "../../src/modules/messaging/outbound/service";
import type { MessageRow } from "../../src/modules/messaging/outbound/types";
import type { QueueJob } from "../../src/queues/jobs";
import { parseWav } from "../fakes/audio";
import type { RecordedRequest } from "../fakes/kit";
import type { RealtimeConnectionRecord, RealtimeDrop, RealtimeScript, RecordedClientEvent } from "../fakes/realtime";
import type { AcceptedEmail } from "../fakes/resend";
import type { FakeCheckoutSession, FakeCustomer, FakeInvoice, FakeSubscription } from "../fakes/stripe";
import type { TwilioMessageResource } from "../fakes/twilio";
import type { AcceptedWhatsAppMessage } from "../fakes/whatsapp";
import { testCtx, testEnv } from "./helpers";

/** A scripted failure: the next call(s) in the scope answer this instead. */
export interface FakeFailure {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

async function control(baseUrl: string, path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(`${baseUrl}${path}`, init);
  if (!response.ok) throw new Error(`fake ${baseUrl}${path}: ${response.status} ${await response.text()}`);
  return response;
}

function postJson(baseUrl: string, path: string, body: unknown): Promise<Response> {
  return control(baseUrl, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The fake Telegram Bot API (tests/fakes/telegram.ts); scope = chat id. */
export const fakeTelegram = {
  /** The next calls for this chat fail with these replies, in order. */
  async fail(chatId: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("telegramBaseUrl"), "/_fake/failures", { scope: chatId, failures });
  },
  /** Telegram answers "Bad Request: chat not found" for this chat from now on. */
  async markUnknown(chatId: string): Promise<void> {
    await postJson(inject("telegramBaseUrl"), "/_fake/unknown-chats", { chat_id: chatId });
  },
  /** Every Bot API call made for this chat, oldest first. */
  async requests(chatId: string): Promise<RecordedRequest[]> {
    return (await control(inject("telegramBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(chatId)}`)).json();
  },
  /** A bot of its own for `token` (`<digits>:<secret>`): Telegram knows it from now on. */
  async registerBot(token: string): Promise<{ id: number; username: string }> {
    return (await postJson(inject("telegramBaseUrl"), "/_fake/bots", { token })).json();
  },
  /** What the bot's last setWebhook stored (secret token included), or null. */
  async webhook(token: string): Promise<{ url: string; secret_token?: string; allowed_updates?: string[] } | null> {
    return (await control(inject("telegramBaseUrl"), `/_fake/webhook?token=${encodeURIComponent(token)}`)).json();
  },
  /** The bot-level calls (getMe, setWebhook, deleteWebhook) made with this bot's token, oldest first. */
  async botRequests(botId: number): Promise<RecordedRequest[]> {
    return (await control(inject("telegramBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(`bot:${botId}`)}`)).json();
  },
  /** The next bot-level calls of this bot fail with these replies, in order. */
  async failBot(botId: number, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("telegramBaseUrl"), "/_fake/failures", { scope: `bot:${botId}`, failures });
  },
};

/** The fake Resend API (tests/fakes/resend.ts); scope = the first `to` address. */
export const fakeResend = {
  async fail(to: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("resendBaseUrl"), "/_fake/failures", { scope: to, failures });
  },
  /** Every `POST /emails` made for this recipient, oldest first (including refused and replayed ones). */
  async requests(to: string): Promise<RecordedRequest[]> {
    return (await control(inject("resendBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(to)}`)).json();
  },
  /** The emails Resend accepted for this recipient: what would arrive in their mailbox. */
  async emails(to: string): Promise<AcceptedEmail[]> {
    return (await control(inject("resendBaseUrl"), `/_fake/emails?to=${encodeURIComponent(to)}`)).json();
  },
};

/** The fake Twilio Messaging API (tests/fakes/twilio.ts); scope = the `To` number. */
export const fakeTwilio = {
  /** The next sends to this number fail with these replies, in order. */
  async fail(to: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("twilioBaseUrl"), "/_fake/failures", { scope: to, failures });
  },
  /** Every `POST …/Messages.json` made for this number, oldest first (including refused ones); `body` is the form. */
  async requests(to: string): Promise<RecordedRequest[]> {
    return (await control(inject("twilioBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(to)}`)).json();
  },
  /** The Message resources Twilio created for this number: what would reach the phone. */
  async messages(to: string): Promise<TwilioMessageResource[]> {
    return (await control(inject("twilioBaseUrl"), `/_fake/sent?scope=${encodeURIComponent(to)}`)).json();
  },
};

/** Twilio's REST error body, for scripting failures. */
export function twilioErrorBody(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/** The fake WhatsApp Cloud API (tests/fakes/whatsapp.ts); scope = `to`, the number without "+". */
export const fakeWhatsApp = {
  async fail(to: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("whatsappBaseUrl"), "/_fake/failures", { scope: to, failures });
  },
  /** Every `POST /{version}/{phone-number-id}/messages` made for this recipient, oldest first. */
  async requests(to: string): Promise<RecordedRequest[]> {
    return (await control(inject("whatsappBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(to)}`)).json();
  },
  /** The messages the Cloud API accepted for this recipient, with the wamid it answered. */
  async messages(to: string): Promise<AcceptedWhatsAppMessage[]> {
    return (await control(inject("whatsappBaseUrl"), `/_fake/sent?scope=${encodeURIComponent(to)}`)).json();
  },
  /** Another business number the Cloud API accepts, sending with `accessToken`. */
  async addAccount(phoneNumberId: string, accessToken: string): Promise<void> {
    await postJson(inject("whatsappBaseUrl"), "/_fake/accounts", { phoneNumberId, accessToken });
  },
};

/** A file of `../shared/data/webhooks/` (webhook bodies, signature vectors) as text, through the harness control server. */
export async function webhookData(name: string): Promise<string> {
  return (await control(inject("harnessUrl"), `/webhook-data/${encodeURIComponent(name)}`)).text();
}

/** The Graph API error envelope, for scripting failures. */
export function graphErrorBody(code: number, message: string, details?: string) {
  return {
    error: {
      message,
      type: "OAuthException",
      code,
      ...(details ? { error_data: { messaging_product: "whatsapp", details } } : {}),
      fbtrace_id: "AfakeTraceId0",
    },
  };
}

/** ELEVENLABS_API_KEY as vitest.config.ts binds it: the one key the ElevenLabs fake accepts. */
export const ELEVENLABS_TEST_API_KEY = "xi-test-fake";

/** A file of `../shared/data/audio/` (a recording or manifest.json), through the harness control server. */
export async function audioData(name: string): Promise<Uint8Array> {
  return new Uint8Array(await (await control(inject("harnessUrl"), `/audio-data/${encodeURIComponent(name)}`)).arrayBuffer());
}

/** One entry of `../shared/data/audio/manifest.json`. */
export interface AudioRecording {
  text: string;
  wav: string;
  wav_format: string;
  ulaw: string;
  ulaw_format: string;
  duration_ms: number;
}

export async function audioManifest(): Promise<AudioRecording[]> {
  const manifest = JSON.parse(new TextDecoder().decode(await audioData("manifest.json"))) as { files: AudioRecording[] };
  return manifest.files;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Both speech fakes (ElevenLabs and OpenAI audio) share what tests register here. */
export const fakeSpeech = {
  /**
   * Speech-to-text answers `text` (and `language`, ISO 639-1) for this audio, by the SHA-256 of the
   * uploaded file's bytes; pass the bytes or the hex digest. A WAV registers its data chunk too (sent
   * as raw PCM), and an uploaded WAV is also looked up by its data chunk (raw u-law wrapped in a WAV).
   * Returns the digest of the bytes.
   */
  async registerTranscript(audio: Uint8Array | ArrayBuffer | string, text: string, language?: string): Promise<string> {
    const bytes = typeof audio === "string" ? undefined : audio instanceof Uint8Array ? audio : new Uint8Array(audio);
    const sha256 = bytes ? await sha256Hex(bytes) : (audio as string).toLowerCase();
    // A WAV's samples also stand for it when they are sent headerless (ElevenLabs' pcm_s16le_16).
    const data = bytes ? parseWav(bytes)?.data : undefined;
    const digests = data ? [sha256, await sha256Hex(data)] : [sha256];
    await Promise.all(
      digests.flatMap((digest) => {
        const body = { sha256: digest, text, ...(language ? { language } : {}) };
        return [postJson(inject("elevenlabsBaseUrl"), "/_fake/transcripts", body), postJson(inject("openaiBaseUrl"), "/_fake/transcripts", body)];
      }),
    );
    return sha256;
  },
};

/** Scripted failures, delays and recorded requests of one fake, by scope. */
function scopedControls(baseUrl: () => string) {
  return {
    /** The next calls in this scope fail with these replies, in order. */
    async fail(scope: string, failures: FakeFailure[]): Promise<void> {
      await postJson(baseUrl(), "/_fake/failures", { scope, failures });
    },
    /** The next `count` (default 1) calls in this scope wait `ms` before answering (before the first byte of a stream). */
    async delay(scope: string, ms: number, count = 1): Promise<void> {
      await postJson(baseUrl(), "/_fake/delays", { scope, ms, count });
    },
    /** Every call made in this scope, oldest first; uploads appear as {filename, content_type, size, sha256}. */
    async requests(scope: string): Promise<RecordedRequest[]> {
      return (await control(baseUrl(), `/_fake/requests?scope=${encodeURIComponent(scope)}`)).json();
    },
  };
}

/** The fake ElevenLabs API (tests/fakes/elevenlabs.ts); scope = `model_id` for speech-to-text, the voice id for text-to-speech. */
export const fakeElevenLabs = scopedControls(() => inject("elevenlabsBaseUrl"));

/** The OpenAI fake's audio endpoints (tests/fakes/openai.ts); scope = the request's `model`. */
export const fakeOpenAIAudio = scopedControls(() => inject("openaiBaseUrl"));

/**
 * The OpenAI Realtime fake (tests/fakes/realtime.ts), a WebSocket server at OPENAI_REALTIME_URL.
 * Scope = the session's `model` query parameter, or the scope whose `match_instructions` marker the
 * session's instructions contain (the Worker's model comes from one variable: give each test's
 * assistant a unique name and use it as the marker). Scopes never scripted answer any speech with a
 * plainly fake reply; scripted ones follow their turns and then stay silent (an unscripted
 * `response.create` still gets the fake reply). As with the real API: the caller's transcription
 * comes only when the session turned input transcription on; audio comes in the session's output
 * format (PCM16 24 kHz unless it asked for u-law); a caller who speaks over a response ends it
 * (`response.done` cancelled, reason turn_detected), so a `response.cancel` after that is answered
 * with an `error` of code `response_cancel_not_active`; a truncate past the audio sent is an error.
 */
export const fakeRealtime = {
  /** The endpoint as OPENAI_REALTIME_URL names it (`ws://…/v1/realtime`). */
  endpoint(): string {
    return `${inject("realtimeUrl").replace(/^http/, "ws")}/v1/realtime`;
  },
  /** Sets the scope's naming ("ga" | "beta"), pacing, marker, and appends turns to its script. */
  async script(scope: string, script: Omit<RealtimeScript, "scope">): Promise<void> {
    await postJson(inject("realtimeUrl"), "/_fake/realtime/script", { scope, ...script });
  },
  /** Every connection in the scope, oldest first: client events, audio received, first append, truncates, how it closed. */
  async sessions(scope: string): Promise<RealtimeConnectionRecord[]> {
    const body = (await (await control(inject("realtimeUrl"), `/_fake/realtime/sessions?scope=${encodeURIComponent(scope)}`)).json()) as {
      connections: RealtimeConnectionRecord[];
    };
    return body.connections;
  },
  /** Every client event the scope received, all connections in order (appends as `{type, bytes}`). */
  async events(scope: string): Promise<RecordedClientEvent[]> {
    return (await control(inject("realtimeUrl"), `/_fake/requests?scope=${encodeURIComponent(scope)}`)).json();
  },
  /** Waits until the scope's connections satisfy `condition` (polled every 25 ms) and returns them. */
  async waitFor(
    scope: string,
    condition: (sessions: RealtimeConnectionRecord[]) => boolean,
    what: string,
    timeoutMs = 5000,
  ): Promise<RealtimeConnectionRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sessions = await fakeRealtime.sessions(scope);
      if (condition(sessions)) return sessions;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} in realtime scope ${scope}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  },
  /** The scope's live socket drops: terminated (the client sees 1006) or closed with a code, now or after N events. */
  async drop(scope: string, drop: Omit<RealtimeDrop, "scope"> = {}): Promise<void> {
    await postJson(inject("realtimeUrl"), "/_fake/realtime/drop", { scope, ...drop });
  },
  /** The live socket receives an `error` event with these fields ({type, code, message, param}). */
  async sendError(scope: string, error: Record<string, unknown>): Promise<void> {
    await postJson(inject("realtimeUrl"), "/_fake/realtime/error", { scope, error });
  },
  /** The caller starts talking now: `input_audio_buffer.speech_started` (server VAD also stops the response in progress). */
  async bargeIn(scope: string): Promise<void> {
    await postJson(inject("realtimeUrl"), "/_fake/realtime/speech-started", { scope });
  },
  /** The next upgrades in the scope are answered with these HTTP failures instead (a reconnect that fails). */
  async refuse(scope: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("realtimeUrl"), "/_fake/realtime/refuse", { scope, failures });
  },
};

/** ElevenLabs' error body for scripting failures: `{detail: {status, message}}`. */
export function elevenLabsErrorBody(status: string, message: string) {
  return { detail: { status, message } };
}

/** OpenAI's error envelope for scripting failures. */
export function openAIErrorBody(message: string, type = "server_error", code: string | null = null) {
  return { error: { message, type, param: null, code } };
}

/** The fake Stripe API (tests/fakes/stripe.ts); scope = the organisation id Billx sends. */
export const fakeStripe = {
  /** The next Stripe calls for this organisation fail with these replies, in order. */
  async fail(orgId: string, failures: FakeFailure[]): Promise<void> {
    await postJson(inject("stripeBaseUrl"), "/_fake/failures", { scope: orgId, failures });
  },
  /** Every Stripe API call made for this organisation, oldest first; `body` is the form parsed back into objects. */
  async requests(orgId: string): Promise<RecordedRequest[]> {
    return (await control(inject("stripeBaseUrl"), `/_fake/requests?scope=${encodeURIComponent(orgId)}`)).json();
  },
  /** The customers Stripe holds for this organisation. */
  async customers(orgId: string): Promise<FakeCustomer[]> {
    return (await control(inject("stripeBaseUrl"), `/_fake/customers?scope=${encodeURIComponent(orgId)}`)).json();
  },
  /** The buyer pays on the Checkout page: the session, and for a plan its subscription and first invoice. */
  async completeCheckout(sessionId: string): Promise<{ session: FakeCheckoutSession; subscription?: FakeSubscription; invoice?: FakeInvoice }> {
    return (await postJson(inject("stripeBaseUrl"), "/_fake/checkout/complete", { session_id: sessionId })).json();
  },
  /** Stripe bills the next period: the invoice is paid, or its payment fails (the subscription turns past_due). */
  async renewSubscription(subscriptionId: string, outcome: "paid" | "failed"): Promise<{ subscription: FakeSubscription; invoice: FakeInvoice }> {
    return (await postJson(inject("stripeBaseUrl"), "/_fake/subscriptions/renew", { subscription_id: subscriptionId, outcome })).json();
  },
  /** The subscription ends now (canceled in the portal, or after the last failed retry). */
  async cancelSubscription(subscriptionId: string): Promise<{ subscription: FakeSubscription }> {
    return (await postJson(inject("stripeBaseUrl"), "/_fake/subscriptions/cancel", { subscription_id: subscriptionId })).json();
  },
};

/** STRIPE_WEBHOOK_SECRET as vitest.config.ts binds it. */
export const STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_secret";

export interface StripeTestEvent {
  id: string;
  object: "event";
  type: string;
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
}

/** An event as Stripe posts it to a webhook endpoint, wrapping `object` (a session, an invoice, ...). */
export function stripeEvent(
  type: string,
  object: unknown,
  options: { id?: string; created?: number; previousAttributes?: Record<string, unknown> } = {},
): StripeTestEvent {
  return {
    id: options.id ?? `evt_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
    object: "event",
    type,
    api_version: Stripe.API_VERSION,
    created: options.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object, ...(options.previousAttributes ? { previous_attributes: options.previousAttributes } : {}) },
  };
}

/** `Stripe-Signature` for a body, by Stripe's scheme (the SDK's own test helper, with SubtleCrypto as in workerd). */
export function stripeSignature(payload: string, options: { secret?: string; timestamp?: number } = {}): Promise<string> {
  return Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? STRIPE_TEST_WEBHOOK_SECRET,
    timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
}

/**
 * Delivers an event to the Worker's `POST /v1/webhooks/stripe` as Stripe would: the JSON body,
 * signed now with the test secret unless `secret`, `timestamp` or a literal `signature` say otherwise.
 */
export async function sendStripeEvent(
  event: StripeTestEvent | string,
  options: { secret?: string; timestamp?: number; signature?: string | null } = {},
): Promise<Response> {
  const body = typeof event === "string" ? event : JSON.stringify(event, null, 2);
  const signature = options.signature === undefined ? await stripeSignature(body, options) : options.signature;
  const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)" };
  if (signature !== null) headers["Stripe-Signature"] = signature;
  return SELF.fetch("http://api.test/v1/webhooks/stripe", { method: "POST", headers, body });
}

/**
 * A service context whose OUTBOUND queue binding holds jobs instead of handing them to
 * Miniflare's queue, so a test delivers them itself with `deliverOutbound` and chooses the
 * attempt number. Everything else (sendMessage, the consumer, the adapters) is the real code.
 * `env` is the environment it built, so later deliveries can run with the same overrides.
 */
export function outboundOnHold(overrides: Partial<Env> = {}): { ctx: ServiceCtx; env: Env; jobs: QueueJob[] } {
  const jobs: QueueJob[] = [];
  const outbound = {
    async send(job: QueueJob) {
      jobs.push(job);
    },
    async sendBatch(batch: Iterable<{ body: QueueJob }>) {
      for (const message of batch) jobs.push(message.body);
    },
  };
  const env: Env = { ...testEnv, ...overrides, OUTBOUND: outbound as unknown as Queue<QueueJob> };
  return { ctx: createServiceCtx(env, () => {}), env, jobs };
}

/**
 * Sends `input` through `outboundOnHold(overrides)` and returns the message with the one job it
 * queued, for the test to deliver itself (the real queue would otherwise race it).
 */
export async function heldMessage(input: SendInput, overrides: Partial<Env> = {}): Promise<{ message: MessageRow; job: QueueJob; ctx: ServiceCtx; env: Env }> {
  const { ctx, env, jobs } = outboundOnHold(overrides);
  const { message } = await sendMessage(ctx, input);
  const [job] = jobs;
  if (!job) throw new Error("sendMessage queued no job");
  return { message, job, ctx, env };
}

/** The `messages` row of `id`, as it stands now. */
export async function messageRow(id: string): Promise<MessageRow | undefined> {
  const [row] = await testCtx().db.select().from(messages).where(eq(messages.id, id));
  return row;
}

/** One message handed to a queue consumer, as the platform would on its delivery number `attempts`. */
export interface QueueDeliveryInput {
  id: string;
  attempts: number;
  body: QueueJob;
}

/** What a consumer did with a delivered batch. */
export interface QueueBatchResult {
  /** Ids of the messages it acknowledged one by one. */
  explicitAcks: string[];
  /** The messages it asked to have retried. */
  retryMessages: { msgId: string }[];
  /** What it passed to each `message.retry()`, in message order: `getQueueResult` does not report the delay. */
  retryOptions: (QueueRetryOptions | undefined)[];
}

/** Hands `deliveries` as one batch to the Worker's queue handler for `queue`. */
export async function deliverQueueBatch(queue: string, deliveries: QueueDeliveryInput[], env: Env = testEnv): Promise<QueueBatchResult> {
  const batch = createMessageBatch<QueueJob>(
    queue,
    deliveries.map((delivery) => ({ ...delivery, timestamp: new Date() })),
  );
  const retries = batch.messages.map((message) => vi.spyOn(message, "retry"));
  const exec = createExecutionContext();
  await worker.queue(batch, env, exec);
  const result = await getQueueResult(batch, exec);
  return {
    explicitAcks: result.explicitAcks,
    retryMessages: result.retryMessages,
    retryOptions: retries.flatMap((retry) => retry.mock.calls.map(([options]) => options)),
  };
}

export interface OutboundDelivery extends QueueBatchResult {
  acked: boolean;
  retried: boolean;
  /** The delay of the first `message.retry()`, if any. */
  retryDelaySeconds: number | undefined;
}

/** Hands one job to the Worker's outbound queue handler as delivery number `attempts` of `deliveryId`. */
export async function deliverOutbound(
  job: QueueJob,
  attempts: number,
  deliveryId = `delivery-${String(job.messageId)}`,
  env: Env = testEnv,
): Promise<OutboundDelivery> {
  const result = await deliverQueueBatch(QUEUES.outbound, [{ id: deliveryId, attempts, body: job }], env);
  return {
    ...result,
    acked: result.explicitAcks.includes(deliveryId),
    retried: result.retryMessages.some((m) => m.msgId === deliveryId),
    retryDelaySeconds: result.retryOptions[0]?.delaySeconds,
  };
}
