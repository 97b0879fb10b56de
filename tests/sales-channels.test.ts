import { SELF } from "cloudflare:test";
import { and, eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, inject, it } from "vitest";
import { messages, SALES_AGENTS, salesAgentConfigs, salesChannels, salesChannelUpdates } from "../src/db/schema";
import { hubSignature256 } from "../src/lib/signatures";
import { answerStuckChats } from "../src/modules/sales/channels/sweep";
import { DEFAULT_FLOW } from "../src/modules/sales/flows/default-flow";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { deliverOutbound, fakeTelegram, fakeWhatsApp, heldMessage, messageRow, webhookData } from "./harness/fakes";
import { expectProblem, fakeOpenAI, testCtx } from "./harness/helpers";

// The LLM fake keys scripts, delays and requests by model: this file's agents use models of their own.
const tag = Math.floor(Math.random() * 0xffffff).toString(16);
let counter = 0;
const next = () => ++counter;

type Agent = (typeof SALES_AGENTS)[number];

/** Points every agent of `owner`'s organisation at models of this test's own (unscripted: the planner moves one stage on, the reply says "You said: ..."). */
async function useOwnModels(owner: SignedUp): Promise<Record<Agent, string>> {
  const n = next();
  const models = Object.fromEntries(SALES_AGENTS.map((agent) => [agent, `s17c-${tag}-${n}-${agent}`])) as Record<Agent, string>;
  await testCtx()
    .db.insert(salesAgentConfigs)
    .values(SALES_AGENTS.map((agent) => ({ orgId: owner.orgId, agent, provider: "openai" as const, model: models[agent] })));
  return models;
}

/** Holds the next `count` answers of `model` for `ms` (the fake's delays), so a turn stays in flight. */
async function holdModel(model: string, ms: number, count = 1) {
  const response = await fetch(`${inject("openaiBaseUrl")}/_fake/delays`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ scope: model, ms, count }),
  });
  expect(response.status).toBe(204);
}

interface ChannelView {
  id: string;
  type: "telegram" | "whatsapp";
  external_id: string;
  display_name: string;
  webhook_url: string;
  created_at: string;
}

/** Channels this test connected: it ends only when their work has (no answer left running into the next test or past the run). */
const connected = new Set<string>();

afterEach(async () => {
  const ids = [...connected];
  connected.clear();
  if (ids.length === 0) return;
  const busy = async () => {
    const updates = await testCtx().db.select().from(salesChannelUpdates).where(inArray(salesChannelUpdates.channelId, ids));
    const replies = await testCtx().db.select().from(messages).where(inArray(messages.salesChannelId, ids));
    return (
      updates.filter((u) => u.status === "pending" || u.status === "processing").length +
      replies.filter((m) => m.status === "queued" || m.status === "sending").length
    );
  };
  await expect.poll(busy, { timeout: 15_000, interval: 200 }).toBe(0);
});

/** A Telegram chat id no other test uses (the fake records requests by chat). */
const uniqueChatId = () => String(700_000_000 + Math.floor(Math.random() * 100_000_000) + next());

// ------------------------------------------------------------------ Telegram

interface TelegramChannel {
  channel: ChannelView;
  token: string;
  secret: string;
  botId: number;
}

async function connectTelegram(owner: SignedUp): Promise<TelegramChannel> {
  const botId = 5_000_000 + Math.floor(Math.random() * 1_000_000) + next();
  const token = `${botId}:AAH-${tag}-bot-${next()}`;
  await fakeTelegram.registerBot(token);
  const channel = await expectJson<ChannelView>(await call("/v1/channels", { token: owner.access_token, body: { type: "telegram", bot_token: token } }), 201);
  connected.add(channel.id);
  const webhook = await fakeTelegram.webhook(token);
  if (!webhook?.secret_token) throw new Error("setWebhook stored no secret token");
  return { channel, token, secret: webhook.secret_token, botId };
}

/** The shared sample Update (`../shared/data/webhooks/telegram-update.json`) in another chat, with another update_id and text. */
async function telegramUpdate(updateId: number, chatId: string, text?: string): Promise<string> {
  const sample = JSON.parse(await webhookData("telegram-update.json")) as {
    _source?: string;
    update_id: number;
    message: { chat: { id: number }; from: { id: number }; text: string };
  };
  delete sample._source;
  sample.update_id = updateId;
  sample.message.chat.id = Number(chatId);
  sample.message.from.id = Number(chatId);
  if (text !== undefined) sample.message.text = text;
  return JSON.stringify(sample);
}

function postTelegram(channelId: string, body: string, secret: string | null) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (secret !== null) headers["X-Telegram-Bot-Api-Secret-Token"] = secret;
  return SELF.fetch(`http://api.test/v1/channels/telegram/${channelId}/webhook`, { method: "POST", headers, body });
}

/** What the bot sent to the chat (texts and photos), oldest first. */
async function telegramSent(chatId: string) {
  const requests = await fakeTelegram.requests(chatId);
  return requests.filter((r) => /\/send(Message|Photo)$/.test(r.path));
}

const sentText = (request: { body: unknown }) => {
  const body = request.body as { text?: string; caption?: string };
  return body.text ?? body.caption;
};

async function updatesOf(channelId: string) {
  return testCtx().db.select().from(salesChannelUpdates).where(eq(salesChannelUpdates.channelId, channelId)).orderBy(salesChannelUpdates.seq);
}

async function repliesOf(channelId: string) {
  return testCtx().db.select().from(messages).where(eq(messages.salesChannelId, channelId)).orderBy(messages.id);
}

interface ConversationDetail {
  id: string;
  channel: string;
  contact_id: string;
  messages: { role: string; content: string; stage: string }[];
}

async function conversation(owner: SignedUp, id: string) {
  return expectJson<ConversationDetail>(await call(`/v1/chatbot/conversations/${id}`, { token: owner.access_token }), 200);
}

describe("POST /v1/channels (Telegram)", () => {
  it("checks the token with getMe, points the bot's webhook at us with a generated secret, and returns no secret", async () => {
    const owner = await signUp("tg-connect");
    const { channel, token, secret, botId } = await connectTelegram(owner);
    expect(channel).toMatchObject({
      type: "telegram",
      external_id: String(botId),
      display_name: `@fake_${botId}_bot`,
      webhook_url: `https://api.billx.test/v1/channels/telegram/${channel.id}/webhook`,
    });
    expect(channel.id).toMatch(/^sch_/);
    const webhook = await fakeTelegram.webhook(token);
    expect(webhook).toMatchObject({ url: channel.webhook_url, allowed_updates: ["message"] });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32,256}$/);
    expect((await fakeTelegram.botRequests(botId)).map((r) => r.path.replace(token, "<token>"))).toEqual(["/bot<token>/getMe", "/bot<token>/setWebhook"]);

    const listed = await expectJson<{ data: ChannelView[]; next_cursor: string | null }>(await call("/v1/channels", { token: owner.access_token }), 200);
    expect(listed).toEqual({ data: [channel], next_cursor: null });
    const one = await call(`/v1/channels/${channel.id}`, { token: owner.access_token });
    const text = await one.text();
    expect(one.status).toBe(200);
    expect(JSON.parse(text)).toEqual(channel);
    // Neither the token nor the secret leaves, and the row holds them sealed only.
    expect(text).not.toContain(token.split(":")[1]);
    expect(text).not.toContain(secret);
    const [row] = await testCtx().db.select().from(salesChannels).where(eq(salesChannels.id, channel.id));
    expect(row?.credentialsSealed).toMatch(/^v1\./);
    expect(row?.credentialsSealed).not.toContain(token.split(":")[1]);
  });

  it("refuses a token Telegram does not know, bad input and a bot already connected, storing nothing more", async () => {
    const owner = await signUp("tg-refuse");
    const unknown = await expectProblem(
      await call("/v1/channels", { token: owner.access_token, body: { type: "telegram", bot_token: `999${next()}:not-a-registered-bot` } }),
      422,
    );
    expect(unknown.errors?.[0]?.path).toBe("bot_token");
    for (const body of [
      { type: "telegram", bot_token: "no-colon" },
      { type: "telegram", bot_token: "123:bad\u0000token" },
      { type: "telegram" },
      { type: "fax", bot_token: "1:x" },
      { type: "whatsapp", phone_number_id: "12ab", access_token: "t", app_secret: "s", verify_token: "v" },
      { type: "whatsapp", phone_number_id: "1234567", access_token: "has space", app_secret: "s", verify_token: "v" },
    ]) {
      await expectProblem(await call("/v1/channels", { token: owner.access_token, body }), 422);
    }
    await expectProblem(await call("/v1/channels", { token: owner.access_token, body: "{not json" }), 400);
    await expectProblem(await call("/v1/channels/not-a-channel-id", { token: owner.access_token }), 404);
    await expectProblem(await call("/v1/channels/sch_%00", { token: owner.access_token }), 404);
    await expectProblem(await call(`/v1/channels/sch_${"0".repeat(26)}`, { token: owner.access_token }), 404);

    const { token } = await connectTelegram(owner);
    const again = await expectProblem(await call("/v1/channels", { token: owner.access_token, body: { type: "telegram", bot_token: token } }), 409);
    expect(again.detail).toMatch(/already connected/);
    const other = await signUp("tg-refuse-other");
    await expectProblem(await call("/v1/channels", { token: other.access_token, body: { type: "telegram", bot_token: token } }), 409);
    const rows = await testCtx().db.select().from(salesChannels).where(eq(salesChannels.orgId, owner.orgId));
    expect(rows).toHaveLength(1);
  });

  it("undoes the connection when Telegram refuses setWebhook", async () => {
    const owner = await signUp("tg-setwebhook-fails");
    const botId = 6_000_000 + next();
    const token = `${botId}:AAH-${tag}-refused`;
    await fakeTelegram.registerBot(token);
    // getMe answers, setWebhook is refused.
    await fakeTelegram.failBot(botId, [
      { status: 200, body: { ok: true, result: { id: botId, is_bot: true, first_name: "Refused", username: `refused_${botId}_bot` } } },
      { status: 400, body: { ok: false, error_code: 400, description: "Bad Request: bad webhook: Failed to resolve host" } },
    ]);
    await expectProblem(await call("/v1/channels", { token: owner.access_token, body: { type: "telegram", bot_token: token } }), 502);
    expect(await testCtx().db.select().from(salesChannels).where(eq(salesChannels.orgId, owner.orgId))).toEqual([]);
  });
});

describe("POST /v1/channels/telegram/{channel_id}/webhook", () => {
  it("answers the shared sample update in its chat's conversation, replying with the bot's own token through the queue", async () => {
    const owner = await signUp("tg-answer");
    await useOwnModels(owner);
    const { channel, token, secret } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    const response = await postTelegram(channel.id, await telegramUpdate(10000, chatId), secret);
    expect(response.status).toBe(200);

    await expect.poll(async () => (await telegramSent(chatId)).length, { timeout: 15_000, interval: 200 }).toBe(1);
    const [sent] = await telegramSent(chatId);
    expect(sent?.path).toBe(`/bot${token}/sendMessage`);
    expect(sentText(sent as { body: unknown })).toBe("You said: /start");
    // The typing indicator went out through the queue too, with the same bot.
    await expect
      .poll(async () => (await fakeTelegram.requests(chatId)).filter((r) => r.path === `/bot${token}/sendChatAction`).map((r) => r.body), { timeout: 10_000 })
      .toEqual([expect.objectContaining({ chat_id: chatId, action: "typing" })]);

    const [update] = await updatesOf(channel.id);
    expect(update).toMatchObject({ externalId: "10000", chatId, status: "done", text: "/start" });
    const detail = await conversation(owner, update?.conversationId as string);
    expect(detail).toMatchObject({ channel: "telegram", contact_id: chatId });
    expect(detail.messages.map((m) => [m.role, m.content])).toEqual([
      ["user", "/start"],
      ["assistant", "You said: /start"],
    ]);
    await expect
      .poll(async () => (await repliesOf(channel.id)).map((m) => [m.channel, m.recipient, m.status]), { timeout: 10_000 })
      .toEqual([["telegram", chatId, "sent"]]);

    // The next message of the chat continues the same conversation.
    expect((await postTelegram(channel.id, await telegramUpdate(10001, chatId, "And the price?"), secret)).status).toBe(200);
    await expect
      .poll(async () => (await telegramSent(chatId)).map(sentText), { timeout: 15_000, interval: 200 })
      .toEqual(["You said: /start", "You said: And the price?"]);
    const updates = await updatesOf(channel.id);
    expect(new Set(updates.map((u) => u.conversationId))).toEqual(new Set([update?.conversationId]));
  });

  it("refuses a forged or missing secret token with 403 and stores nothing", async () => {
    const owner = await signUp("tg-forged");
    await useOwnModels(owner);
    const { channel, secret } = await connectTelegram(owner);
    const other = await connectTelegram(await signUp("tg-forged-other"));
    const chatId = uniqueChatId();
    const body = await telegramUpdate(20000, chatId);
    for (const forged of [null, "", `${secret}x`, secret.slice(1), other.secret]) {
      await expectProblem(await postTelegram(channel.id, body, forged), 403);
    }
    expect(await updatesOf(channel.id)).toEqual([]);
    expect(await fakeTelegram.requests(chatId)).toEqual([]);
  });

  it("answers an update delivered three times at once exactly once", async () => {
    const owner = await signUp("tg-repeat");
    await useOwnModels(owner);
    const { channel, secret } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    const body = await telegramUpdate(30000, chatId, "Hello there");
    const responses = await Promise.all([1, 2, 3].map(() => postTelegram(channel.id, body, secret)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);

    await expect.poll(async () => (await updatesOf(channel.id)).map((u) => u.status), { timeout: 15_000, interval: 200 }).toEqual(["done"]);
    await expect.poll(async () => (await repliesOf(channel.id)).map((m) => m.status), { timeout: 10_000 }).toEqual(["sent"]);
    expect((await telegramSent(chatId)).map(sentText)).toEqual(["You said: Hello there"]);
    // A redelivery after it was answered changes nothing either.
    expect((await postTelegram(channel.id, body, secret)).status).toBe(200);
    expect(await updatesOf(channel.id)).toHaveLength(1);
    expect(await repliesOf(channel.id)).toHaveLength(1);
  });

  it("answers the messages of one chat one at a time, in order, while a turn is still running", async () => {
    const owner = await signUp("tg-order");
    const models = await useOwnModels(owner);
    const { channel, secret } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    // The first reply takes a while: the next messages arrive while its turn is in flight.
    await holdModel(models.reply, 1500);
    expect((await postTelegram(channel.id, await telegramUpdate(40001, chatId, "first"), secret)).status).toBe(200);
    const racing = await Promise.all([
      postTelegram(channel.id, await telegramUpdate(40002, chatId, "second"), secret),
      postTelegram(channel.id, await telegramUpdate(40003, chatId, "third"), secret),
    ]);
    expect(racing.map((r) => r.status)).toEqual([200, 200]);

    await expect.poll(async () => (await telegramSent(chatId)).length, { timeout: 20_000, interval: 250 }).toBe(3);
    const sent = (await telegramSent(chatId)).map(sentText);
    expect(sent[0]).toBe("You said: first");
    expect(new Set(sent.slice(1))).toEqual(new Set(["You said: second", "You said: third"]));
    // One turn at a time: every reply follows its own message, none interleaved.
    const [first] = await updatesOf(channel.id);
    const detail = await conversation(owner, first?.conversationId as string);
    const lines = detail.messages.map((m) => `${m.role}:${m.content}`);
    expect(lines).toHaveLength(6);
    for (let i = 0; i < lines.length; i += 2) {
      const said = lines[i]?.replace(/^user:/, "");
      expect(lines[i + 1]).toBe(`assistant:You said: ${said}`);
    }
    expect(lines[0]).toBe("user:first");
    // The stages moved on once per turn.
    expect(detail.messages.filter((m) => m.role === "assistant").map((m) => m.stage)).toEqual(["opening", "consultation", "testimony"]);
  });

  it("answers different chats in parallel: one chat's slow turn does not hold another's", async () => {
    const owner = await signUp("tg-parallel");
    const models = await useOwnModels(owner);
    const { channel, secret } = await connectTelegram(owner);
    const slowChat = uniqueChatId();
    const quickChat = uniqueChatId();
    await holdModel(models.reply, 6000);
    expect((await postTelegram(channel.id, await telegramUpdate(45001, slowChat, "slow"), secret)).status).toBe(200);
    // The slow chat's reply call is at the model (and held there) before the other chat writes.
    await expect.poll(async () => (await fakeOpenAI.requests(models.reply)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    expect((await postTelegram(channel.id, await telegramUpdate(45002, quickChat, "quick"), secret)).status).toBe(200);
    await expect.poll(async () => (await telegramSent(quickChat)).map(sentText), { timeout: 10_000, interval: 100 }).toEqual(["You said: quick"]);
    expect(await telegramSent(slowChat)).toEqual([]);
    await expect.poll(async () => (await telegramSent(slowChat)).map(sentText), { timeout: 15_000, interval: 200 }).toEqual(["You said: slow"]);
  });

  it("while staff have the conversation, the bot stays quiet and the staff member's reply reaches the chat", async () => {
    const owner = await signUp("tg-takeover");
    await useOwnModels(owner);
    const { channel, token, secret } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    expect((await postTelegram(channel.id, await telegramUpdate(47001, chatId, "hello"), secret)).status).toBe(200);
    await expect.poll(async () => (await updatesOf(channel.id)).map((u) => u.status), { timeout: 15_000, interval: 200 }).toEqual(["done"]);
    const conversationId = (await updatesOf(channel.id))[0]?.conversationId as string;
    await expectJson(await call(`/v1/chatbot/conversations/${conversationId}/takeover`, { method: "POST", token: owner.access_token }), 200);

    expect((await postTelegram(channel.id, await telegramUpdate(47002, chatId, "is a person there?"), secret)).status).toBe(200);
    await expect.poll(async () => (await updatesOf(channel.id)).map((u) => u.status), { timeout: 15_000, interval: 200 }).toEqual(["done", "done"]);
    await expectJson(
      await call(`/v1/chatbot/conversations/${conversationId}/reply`, { token: owner.access_token, body: { content: "Hi, Ana from the shop here." } }),
      200,
    );
    await expect
      .poll(async () => (await telegramSent(chatId)).map(sentText), { timeout: 15_000, interval: 200 })
      .toEqual(["You said: hello", "Hi, Ana from the shop here."]);
    expect((await telegramSent(chatId)).map((r) => r.path)).toEqual([`/bot${token}/sendMessage`, `/bot${token}/sendMessage`]);
    // "typing…" only for the message the bot answered.
    expect((await fakeTelegram.requests(chatId)).filter((r) => r.path.endsWith("/sendChatAction"))).toHaveLength(1);
    const detail = await conversation(owner, conversationId);
    expect(detail.messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "staff"]);
  });

  it("sends the stage's image with the reply as a captioned photo", async () => {
    const owner = await signUp("tg-image");
    await useOwnModels(owner);
    const image = "https://cdn.example.com/happy-customer.jpg";
    // The unscripted planner moves greeting -> opening on the first turn.
    const stages = DEFAULT_FLOW.map((s) => ({ name: s.name, goal: s.goal, next: s.next, ...(s.name === "opening" ? { attachment: image } : {}) }));
    await expectJson(await call("/v1/chatbot/flow", { method: "PUT", token: owner.access_token, body: { stages } }), 200);
    const { channel, token, secret } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    expect((await postTelegram(channel.id, await telegramUpdate(50000, chatId, "Hi!"), secret)).status).toBe(200);
    await expect.poll(async () => (await telegramSent(chatId)).length, { timeout: 15_000, interval: 200 }).toBe(1);
    const [photo] = await telegramSent(chatId);
    expect(photo?.path).toBe(`/bot${token}/sendPhoto`);
    expect(photo?.body).toMatchObject({ chat_id: chatId, photo: image, caption: "You said: Hi!" });
  });

  it("takes bad input without a 500: not JSON, not an update, an id that cannot be one, NUL bytes in the text", async () => {
    const owner = await signUp("tg-bad-input");
    await useOwnModels(owner);
    const { channel, secret } = await connectTelegram(owner);
    await expectProblem(await postTelegram(channel.id, "{not json", secret), 400);
    await expectProblem(await postTelegram(channel.id, JSON.stringify({ update_id: "x" }), secret), 400);
    await expectProblem(await postTelegram(channel.id, JSON.stringify({ update_id: 1e300 }), secret), 400);
    await expectProblem(await postTelegram("not-an-id", await telegramUpdate(1, uniqueChatId()), secret), 404);
    await expectProblem(await postTelegram(`sch_${"0".repeat(26)}`, await telegramUpdate(1, uniqueChatId()), secret), 404);
    // An update without text (a sticker, an edit) is received and needs no answer.
    expect((await postTelegram(channel.id, JSON.stringify({ update_id: 60000, edited_message: { chat: { id: 1 } } }), secret)).status).toBe(200);

    const chatId = uniqueChatId();
    expect((await postTelegram(channel.id, await telegramUpdate(60001, chatId, "nul\u0000byte"), secret)).status).toBe(200);
    await expect.poll(async () => (await telegramSent(chatId)).map(sentText), { timeout: 15_000, interval: 200 }).toEqual(["You said: nulbyte"]);
    expect((await updatesOf(channel.id)).map((u) => u.text)).toEqual(["nulbyte"]);
  });
});

describe("DELETE /v1/channels/{id}", () => {
  it("disconnects: Telegram's webhook is deleted, the channel is gone and its webhook processes nothing", async () => {
    const owner = await signUp("tg-disconnect");
    await useOwnModels(owner);
    const { channel, token, secret } = await connectTelegram(owner);
    expect((await call(`/v1/channels/${channel.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    expect(await fakeTelegram.webhook(token)).toBeNull();
    await expectProblem(await call(`/v1/channels/${channel.id}`, { token: owner.access_token }), 404);
    await expectProblem(await call(`/v1/channels/${channel.id}`, { method: "DELETE", token: owner.access_token }), 404);
    expect((await expectJson<{ data: unknown[] }>(await call("/v1/channels", { token: owner.access_token }), 200)).data).toEqual([]);
    const [row] = await testCtx().db.select().from(salesChannels).where(eq(salesChannels.id, channel.id));
    expect(row?.credentialsSealed).toBeNull();

    const chatId = uniqueChatId();
    await expectProblem(await postTelegram(channel.id, await telegramUpdate(70000, chatId), secret), 404);
    expect(await updatesOf(channel.id)).toEqual([]);
    expect(await fakeTelegram.requests(chatId)).toEqual([]);
    // The bot may be connected again afterwards.
    await expectJson(await call("/v1/channels", { token: owner.access_token, body: { type: "telegram", bot_token: token } }), 201);
  });
});

describe("lost answering", () => {
  it("a cron job answers messages whose answering was lost, and marks turns that died as failed", async () => {
    expect(cronJobs["*/5 * * * *"]?.map((job) => job.name)).toContain("sales-channels.answer-stuck");
    const owner = await signUp("tg-stuck");
    await useOwnModels(owner);
    const { channel } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    const longAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    // Stored by a webhook whose Worker went away before answering, and one that died mid-turn.
    await testCtx()
      .db.insert(salesChannelUpdates)
      .values([
        {
          id: `scu_${tag}lost${next()}`,
          orgId: owner.orgId,
          channelId: channel.id,
          externalId: "80001",
          chatId,
          position: 80001,
          text: "anyone there?",
          createdAt: longAgo(3),
        },
        {
          id: `scu_${tag}dead${next()}`,
          orgId: owner.orgId,
          channelId: channel.id,
          externalId: "80000",
          chatId,
          position: 80000,
          text: "earlier",
          status: "processing" as const,
          createdAt: longAgo(20),
        },
      ]);
    expect(await answerStuckChats(testCtx())).toMatchObject({ interrupted: 1 });
    await expect.poll(async () => (await telegramSent(chatId)).map(sentText), { timeout: 15_000, interval: 200 }).toEqual(["You said: anyone there?"]);
    expect((await updatesOf(channel.id)).map((u) => [u.externalId, u.status])).toEqual([
      ["80001", "done"],
      ["80000", "failed"],
    ]);
  });

  it("a reply still queued when its channel is disconnected fails, never sent with the platform's bot", async () => {
    const owner = await signUp("tg-queued-after-disconnect");
    const { channel } = await connectTelegram(owner);
    const chatId = uniqueChatId();
    const { message, job } = await heldMessage({ orgId: owner.orgId, channel: "telegram", recipient: chatId, body: "late reply", salesChannelId: channel.id });
    expect((await call(`/v1/channels/${channel.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    const delivery = await deliverOutbound(job, 1);
    expect(delivery.acked).toBe(true);
    expect(await messageRow(message.id)).toMatchObject({ status: "failed", lastError: expect.stringMatching(/disconnected/) });
    expect(await fakeTelegram.requests(chatId)).toEqual([]);
  });
});

// ------------------------------------------------------------------ WhatsApp

interface WhatsAppChannel {
  channel: ChannelView;
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
}

async function connectWhatsApp(owner: SignedUp): Promise<WhatsAppChannel> {
  const phoneNumberId = String(100_000_000_000_000 + Math.floor(Math.random() * 1_000_000_000) + next());
  const accessToken = `EAAG-${tag}-${next()}`;
  const appSecret = `app-secret-${tag}-${next()}`;
  const verifyToken = `verify-${tag}-${next()}`;
  await fakeWhatsApp.addAccount(phoneNumberId, accessToken);
  const channel = await expectJson<ChannelView>(
    await call("/v1/channels", {
      token: owner.access_token,
      body: { type: "whatsapp", phone_number_id: phoneNumberId, access_token: accessToken, app_secret: appSecret, verify_token: verifyToken },
    }),
    201,
  );
  connected.add(channel.id);
  return { channel, phoneNumberId, accessToken, appSecret, verifyToken };
}

const uniqueWaId = () => String(16_505_000_000 + Math.floor(Math.random() * 900_000) + next());

/** The shared sample inbound message (`whatsapp-message.json`) for another number, sender and message id. */
async function whatsappMessage(phoneNumberId: string, from: string, wamid: string, text: string): Promise<string> {
  const sample = JSON.parse(await webhookData("whatsapp-message.json"));
  delete sample._source;
  const value = sample.entry[0].changes[0].value;
  value.metadata.phone_number_id = phoneNumberId;
  value.contacts[0].wa_id = from;
  Object.assign(value.messages[0], { from, id: wamid, text: { body: text } });
  return JSON.stringify(sample);
}

/** The shared sample status (`whatsapp-status.json`) of one of our messages. */
async function whatsappStatus(phoneNumberId: string, wamid: string, status: string, recipient: string): Promise<string> {
  const sample = JSON.parse(await webhookData("whatsapp-status.json"));
  delete sample._source;
  const value = sample.entry[0].changes[0].value;
  value.metadata.phone_number_id = phoneNumberId;
  Object.assign(value.statuses[0], { id: wamid, status, recipient_id: recipient });
  return JSON.stringify(sample);
}

async function postWhatsApp(channelId: string, body: string, appSecret: string | null) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (appSecret !== null) headers["X-Hub-Signature-256"] = await hubSignature256(appSecret, body);
  return SELF.fetch(`http://api.test/v1/channels/whatsapp/${channelId}/webhook`, { method: "POST", headers, body });
}

describe("WhatsApp channels", () => {
  it("the shared signature vector is the scheme the webhook checks", async () => {
    const vector = JSON.parse(await webhookData("hub-signature-256.json")) as { secret: string; body: string; expected: string };
    expect(await hubSignature256(vector.secret, vector.body)).toBe(vector.expected);
  });

  it("checks the number and its access token with Meta before connecting, and names the number", async () => {
    const owner = await signUp("wa-connect");
    const { channel, phoneNumberId, accessToken } = await connectWhatsApp(owner);
    expect(channel).toMatchObject({
      type: "whatsapp",
      external_id: phoneNumberId,
      webhook_url: `https://api.billx.test/v1/channels/whatsapp/${channel.id}/webhook`,
    });
    expect(channel.display_name).toMatch(/^\+1 \d{3}-\d{3}-\d{4}$/);
    const other = String(Number(phoneNumberId) + 7);
    const connect = (phone_number_id: string, access_token: string) =>
      call("/v1/channels", { token: owner.access_token, body: { type: "whatsapp", phone_number_id, access_token, app_secret: "s", verify_token: "v" } });
    const wrongToken = await expectProblem(await connect(other, "EAAG-nobody-knows-this"), 422);
    expect(wrongToken.errors?.[0]?.path).toBe("access_token");
    // A real token, but for a number it may not use.
    const wrongNumber = await expectProblem(await connect(other, accessToken), 422);
    expect(wrongNumber.errors?.[0]?.path).toBe("phone_number_id");
    await expectProblem(await connect(phoneNumberId, accessToken), 409);
    expect(await testCtx().db.select().from(salesChannels).where(eq(salesChannels.orgId, owner.orgId))).toHaveLength(1);
  });

  it("answers the verify-token handshake with the channel's own token only", async () => {
    const owner = await signUp("wa-handshake");
    const { channel, verifyToken } = await connectWhatsApp(owner);
    const other = await connectWhatsApp(await signUp("wa-handshake-other"));
    const verify = (id: string, token: string, mode = "subscribe") =>
      SELF.fetch(
        `http://api.test/v1/channels/whatsapp/${id}/webhook?${new URLSearchParams({ "hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444" })}`,
      );
    const ok = await verify(channel.id, verifyToken);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("1158201444");
    await expectProblem(await verify(channel.id, `${verifyToken}-wrong`), 403);
    await expectProblem(await verify(channel.id, other.verifyToken), 403);
    await expectProblem(await verify(channel.id, verifyToken, "unsubscribe"), 403);
    await expectProblem(await verify(`sch_${"0".repeat(26)}`, verifyToken), 404);
    await expectProblem(await SELF.fetch(`http://api.test/v1/channels/whatsapp/${channel.id}/webhook`), 422);
  });

  it("answers the shared sample message with the number's own credentials, and its delivery status updates the reply's row", async () => {
    const owner = await signUp("wa-answer");
    await useOwnModels(owner);
    const { channel, phoneNumberId, accessToken, appSecret } = await connectWhatsApp(owner);
    const from = uniqueWaId();
    const wamid = `wamid.${tag}${next()}inbound`;
    const sample = JSON.parse(await whatsappMessage(phoneNumberId, from, wamid, "Does it come in another color?"));
    // An image beside it in the same delivery needs no answer, and does not hide the text.
    sample.entry[0].changes[0].value.messages.unshift({ from, id: `${wamid}img`, timestamp: "1749416380", type: "image", image: { id: "1" } });
    const body = JSON.stringify(sample);
    // Meta retries: the same message id twice is answered once.
    const responses = await Promise.all([postWhatsApp(channel.id, body, appSecret), postWhatsApp(channel.id, body, appSecret)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);

    await expect.poll(async () => (await fakeWhatsApp.messages(from)).length, { timeout: 15_000, interval: 200 }).toBe(1);
    const [accepted] = await fakeWhatsApp.messages(from);
    expect(accepted).toMatchObject({ phoneNumberId, message: { to: from, type: "text", text: { body: "You said: Does it come in another color?" } } });
    const [request] = await fakeWhatsApp.requests(from);
    expect(request?.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(request?.path).toBe(`/v22.0/${phoneNumberId}/messages`);

    await expect.poll(async () => (await repliesOf(channel.id)).map((m) => m.status), { timeout: 10_000 }).toEqual(["sent"]);
    // The inbound message was marked read with a typing indicator, as the same number.
    await expect
      .poll(async () => (await fakeWhatsApp.requests(wamid)).map((r) => [r.headers.authorization, r.body]), { timeout: 10_000 })
      .toEqual([[`Bearer ${accessToken}`, { messaging_product: "whatsapp", status: "read", message_id: wamid, typing_indicator: { type: "text" } }]]);
    const [reply] = await repliesOf(channel.id);
    expect(reply).toMatchObject({ channel: "whatsapp", recipient: `+${from}`, providerMessageId: accepted?.id });
    const [update] = await updatesOf(channel.id);
    expect(await conversation(owner, update?.conversationId as string)).toMatchObject({ channel: "whatsapp", contact_id: `+${from}` });

    // The same Meta callback URL carries the reply's statuses.
    expect((await postWhatsApp(channel.id, await whatsappStatus(phoneNumberId, accepted?.id as string, "delivered", from), appSecret)).status).toBe(200);
    expect((await repliesOf(channel.id))[0]?.status).toBe("delivered");
    // Forged, or about another number: nothing changes.
    await expectProblem(await postWhatsApp(channel.id, await whatsappStatus(phoneNumberId, accepted?.id as string, "read", from), "not-the-secret"), 403);
    expect((await postWhatsApp(channel.id, await whatsappStatus("999", accepted?.id as string, "read", from), appSecret)).status).toBe(200);
    expect((await repliesOf(channel.id))[0]?.status).toBe("delivered");
    expect((await postWhatsApp(channel.id, await whatsappStatus(phoneNumberId, accepted?.id as string, "read", from), appSecret)).status).toBe(200);
    expect((await repliesOf(channel.id))[0]?.status).toBe("read");
  });

  it("refuses a forged signature with 403 and stores nothing; ignores other numbers' messages", async () => {
    const owner = await signUp("wa-forged");
    await useOwnModels(owner);
    const { channel, phoneNumberId, appSecret } = await connectWhatsApp(owner);
    const other = await connectWhatsApp(await signUp("wa-forged-other"));
    const from = uniqueWaId();
    const body = await whatsappMessage(phoneNumberId, from, `wamid.${tag}${next()}forged`, "hello");
    for (const secret of [null, `${appSecret}x`, other.appSecret]) await expectProblem(await postWhatsApp(channel.id, body, secret), 403);
    // Signed right, but for a number that is not this channel's.
    expect((await postWhatsApp(channel.id, await whatsappMessage(other.phoneNumberId, from, `wamid.${tag}${next()}x`, "hi"), appSecret)).status).toBe(200);
    await expectProblem(await postWhatsApp(channel.id, "{not json", appSecret), 400);
    expect((await postWhatsApp(channel.id, JSON.stringify({ entry: 5 }), appSecret)).status).toBe(200);
    expect(await updatesOf(channel.id)).toEqual([]);
    expect(await fakeWhatsApp.requests(from)).toEqual([]);
  });
});

// ------------------------------------------------------------------ tenancy and permissions

describe("channels and tenancy", () => {
  it("org B cannot see, disconnect or take over org A's channel", async () => {
    const a = await signUp("tenant-a");
    const b = await signUp("tenant-b");
    const { channel } = await connectTelegram(a);
    const wa = await connectWhatsApp(a);
    await expectProblem(await call(`/v1/channels/${channel.id}`, { token: b.access_token }), 404);
    await expectProblem(await call(`/v1/channels/${channel.id}`, { token: b.access_token, orgId: a.orgId }), 404);
    await expectProblem(await call(`/v1/channels/${channel.id}`, { method: "DELETE", token: b.access_token }), 404);
    expect((await expectJson<{ data: unknown[] }>(await call("/v1/channels", { token: b.access_token }), 200)).data).toEqual([]);
    // The same number connected elsewhere would receive A's messages: refused.
    await expectProblem(
      await call("/v1/channels", {
        token: b.access_token,
        body: { type: "whatsapp", phone_number_id: wa.phoneNumberId, access_token: "EAAG-b", app_secret: "b-secret", verify_token: "b-verify" },
      }),
      409,
    );
    // A's channels are untouched.
    const listed = await expectJson<{ data: ChannelView[] }>(await call("/v1/channels", { token: a.access_token }), 200);
    expect(listed.data.map((c) => c.id).sort()).toEqual([channel.id, wa.channel.id].sort());
    const rows = await testCtx()
      .db.select()
      .from(messages)
      .where(and(eq(messages.orgId, b.orgId), eq(messages.channel, "telegram")));
    expect(rows).toEqual([]);
  });

  it("lists channels newest first in cursor pages", async () => {
    const owner = await signUp("tg-pages");
    const first = await connectTelegram(owner);
    const second = await connectWhatsApp(owner);
    const third = await connectTelegram(owner);
    const page1 = await expectJson<{ data: ChannelView[]; next_cursor: string | null }>(await call("/v1/channels?limit=2", { token: owner.access_token }), 200);
    expect(page1.data.map((c) => c.id)).toEqual([third.channel.id, second.channel.id]);
    const page2 = await expectJson<{ data: ChannelView[]; next_cursor: string | null }>(
      await call(`/v1/channels?limit=2&cursor=${page1.next_cursor}`, { token: owner.access_token }),
      200,
    );
    expect(page2).toEqual({ data: [first.channel], next_cursor: null });
    await expectProblem(await call("/v1/channels?limit=0", { token: owner.access_token }), 422);
    await expectProblem(await call("/v1/channels?limit=1000000000000", { token: owner.access_token }), 422);
  });

  it("needs channels:write to connect and disconnect, and a token at all", async () => {
    const owner = await signUp("perm-owner");
    const { channel } = await connectTelegram(owner);
    const keyResponse = await call("/v1/api-keys", { token: owner.access_token, body: { name: "reader", permissions: ["channels:read"] } });
    const { key } = await expectJson<{ key: string }>(keyResponse, 201);
    expect((await call(`/v1/channels/${channel.id}`, { token: key })).status).toBe(200);
    await expectProblem(await call("/v1/channels", { token: key, body: { type: "telegram", bot_token: "1:abc" } }), 403);
    await expectProblem(await call(`/v1/channels/${channel.id}`, { method: "DELETE", token: key }), 403);
    await expectProblem(await call("/v1/channels"), 401);
  });
});
