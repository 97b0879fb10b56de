/**
 * Typed clients for the provider fakes' control endpoints (tests/fakes/*), used from test files
 * running in workerd. Each reads and scripts only its own scope, so parallel files never collide.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { inject, vi } from "vitest";
import type { Env } from "../../src/env";
import worker, { QUEUES } from "../../src/index";
import type { ServiceCtx } from "../../src/lib/context";
import { createServiceCtx } from "../../src/lib/service-ctx";
import type { QueueJob } from "../../src/queues/jobs";
import type { RecordedRequest } from "../fakes/kit";
import type { AcceptedEmail } from "../fakes/resend";
import type { TwilioMessageResource } from "../fakes/twilio";
import type { AcceptedWhatsAppMessage } from "../fakes/whatsapp";
import { testEnv } from "./helpers";

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
};

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

/**
 * A service context whose OUTBOUND queue binding holds jobs instead of handing them to
 * Miniflare's queue, so a test delivers them itself with `deliverOutbound` and chooses the
 * attempt number. Everything else (sendMessage, the consumer, the adapters) is the real code.
 */
export function outboundOnHold(overrides: Partial<Env> = {}): { ctx: ServiceCtx; jobs: QueueJob[] } {
  const jobs: QueueJob[] = [];
  const outbound = {
    async send(job: QueueJob) {
      jobs.push(job);
    },
    async sendBatch(batch: Iterable<{ body: QueueJob }>) {
      for (const message of batch) jobs.push(message.body);
    },
  };
  const env = { ...testEnv, ...overrides, OUTBOUND: outbound as unknown as Queue<QueueJob> };
  return { ctx: createServiceCtx(env, () => {}), jobs };
}

export interface OutboundDelivery {
  acked: boolean;
  retried: boolean;
  /** What the consumer passed to `message.retry()`: `getQueueResult` does not report the delay. */
  retryDelaySeconds: number | undefined;
}

/** Hands one job to the Worker's queue handler as delivery number `attempts` of `deliveryId`. */
export async function deliverOutbound(job: QueueJob, attempts: number, deliveryId = `delivery-${String(job.messageId)}`): Promise<OutboundDelivery> {
  const batch = createMessageBatch<QueueJob>(QUEUES.outbound, [{ id: deliveryId, timestamp: new Date(), attempts, body: job }]);
  const retry = vi.spyOn(batch.messages[0]!, "retry");
  const exec = createExecutionContext();
  await worker.queue(batch, testEnv, exec);
  const result = await getQueueResult(batch, exec);
  return {
    acked: result.explicitAcks.includes(deliveryId),
    retried: result.retryMessages.some((m: { msgId: string }) => m.msgId === deliveryId),
    retryDelaySeconds: retry.mock.calls[0]?.[0]?.delaySeconds,
  };
}
