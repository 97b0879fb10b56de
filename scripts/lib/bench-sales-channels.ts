import { apiClient, grantBenchCredits, percentile } from "./bench-query.ts";
import type { LocalStack } from "./local-stack.ts";

// Far more than any run spends: a 402 would measure the refusal path instead.
const BENCH_CREDITS = 10_000_000;
const ANSWER_TIMEOUT_MS = 180_000;

export interface SalesChannelFigures {
  updates: number;
  chats: number;
  clients: number;
  non200: number;
  /** Telegram's POST to our webhook until its 200: the secret check and the stored row, not the turn. */
  ackP50Ms: number;
  ackP99Ms: number;
  acksPerSecond: number;
  /** Webhook sent until the reply reached the fake Telegram: the turn (with the fake models) and the outbound queue. */
  replyP50Ms: number;
  replyP99Ms: number;
  answered: number;
}

interface RecordedRequest {
  path: string;
  body: { chat_id?: string; text?: string };
  at: string;
}

/**
 * A connected Telegram bot's webhook under load: `updates` text messages spread over `chats` chats
 * (so each chat's turns queue behind one another while chats run in parallel), posted by `clients`
 * at once as Telegram would, signed with the channel's secret token. The acknowledgement is what
 * Telegram waits for; the reply time is until the answer reached the fake Bot API, read from the
 * fake's own clock (same process as this one).
 */
export async function measureSalesChannels(options: {
  stack: LocalStack;
  baseUrl: string;
  accessToken: string;
  telegramUrl: string;
  updates?: number;
  chats?: number;
  clients?: number;
}): Promise<SalesChannelFigures> {
  const updates = options.updates ?? Number(process.env.BENCH_CHANNEL_UPDATES ?? 200);
  const chats = options.chats ?? Number(process.env.BENCH_CHANNEL_CHATS ?? 20);
  const clients = options.clients ?? Number(process.env.BENCH_CHANNEL_CLIENTS ?? 10);
  const api = apiClient(options.baseUrl, options.accessToken);
  const me = (await api("GET", "/v1/auth/me", undefined, 200)) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("the bench user has no organisation");
  await api("GET", "/v1/credits/balance", undefined, 200);
  await grantBenchCredits(options.stack.databaseUrl, orgId, BENCH_CREDITS, "npm run bench: credits for the sales channels");

  const botId = 900_000_000 + Math.floor(Math.random() * 99_000_000);
  const token = `${botId}:bench-${Date.now()}`;
  await fetchJson(`${options.telegramUrl}/_fake/bots`, { token });
  const channel = (await api("POST", "/v1/channels", { type: "telegram", bot_token: token }, 201)) as { id: string };
  const webhook = (await (await fetch(`${options.telegramUrl}/_fake/webhook?token=${encodeURIComponent(token)}`)).json()) as { secret_token?: string };
  if (!webhook.secret_token) throw new Error("setWebhook stored no secret token");
  const url = `${options.baseUrl}/v1/channels/telegram/${channel.id}/webhook`;

  const chatIds = Array.from({ length: chats }, (_, i) => String(botId * 100 + i));
  const sentAt = new Map<string, number>();
  const acks: number[] = [];
  let non200 = 0;
  let nextUpdate = 0;
  const started = performance.now();
  const client = async () => {
    for (;;) {
      const n = nextUpdate++;
      if (n >= updates) return;
      const chatId = chatIds[n % chats] as string;
      const text = `bench message ${n}`;
      const body = JSON.stringify({
        update_id: 1_000_000 + n,
        message: { message_id: n + 1, date: Math.floor(Date.now() / 1000), chat: { id: Number(chatId), type: "private" }, text },
      });
      const before = performance.now();
      sentAt.set(`${chatId}:${text}`, Date.now());
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": webhook.secret_token as string },
        body,
      });
      await response.arrayBuffer();
      acks.push(performance.now() - before);
      // A 503 here is wrangler dev restarting the Worker (it reloads when a source file changes).
      if (response.status !== 200) non200++;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const ackSeconds = (performance.now() - started) / 1000;

  // Each reply says "You said: <message>" (the fake's unscripted reply model), so it names its message.
  const replyTimes: number[] = [];
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  for (;;) {
    replyTimes.length = 0;
    for (const chatId of chatIds) {
      const requests = (await (await fetch(`${options.telegramUrl}/_fake/requests?scope=${chatId}`)).json()) as RecordedRequest[];
      for (const request of requests) {
        const said = /^You said: (.*)$/s.exec(request.body.text ?? "")?.[1];
        const sent = said === undefined ? undefined : sentAt.get(`${chatId}:${said}`);
        if (sent !== undefined && request.path.endsWith("/sendMessage")) replyTimes.push(Date.parse(request.at) - sent);
      }
    }
    if (replyTimes.length >= updates - non200 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await api("DELETE", `/v1/channels/${channel.id}`, undefined, 204).catch(() => undefined);
  return {
    updates,
    chats,
    clients,
    non200,
    ackP50Ms: percentile(acks, 50),
    ackP99Ms: percentile(acks, 99),
    acksPerSecond: updates / ackSeconds,
    replyP50Ms: percentile(replyTimes, 50),
    replyP99Ms: percentile(replyTimes, 99),
    answered: replyTimes.length,
  };
}

async function fetchJson(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The figures as `npm run bench` prints them, one `name value` a line. */
export function formatSalesChannelFigures(f: SalesChannelFigures): string {
  const round = (value: number) => Math.round(value * 100) / 100;
  return [
    `channel_webhook_updates ${f.updates}`,
    `channel_webhook_chats ${f.chats}`,
    `channel_webhook_clients ${f.clients}`,
    `channel_webhook_non_200 ${f.non200}`,
    `channel_webhook_ack_p50_ms ${round(f.ackP50Ms)}`,
    `channel_webhook_ack_p99_ms ${round(f.ackP99Ms)}`,
    `channel_webhook_acks_per_s ${round(f.acksPerSecond)}`,
    `channel_webhook_answered ${f.answered}`,
    `channel_webhook_to_reply_p50_ms ${round(f.replyP50Ms)}`,
    `channel_webhook_to_reply_p99_ms ${round(f.replyP99Ms)}`,
  ].join("\n");
}
