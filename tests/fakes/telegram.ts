/**
 * A fake of the Telegram Bot API (`POST /bot<token>/<method>`, JSON or form-encoded):
 * - `sendMessage {chat_id, text, parse_mode?}` and `sendPhoto {chat_id, photo: <url>, caption?,
 *   parse_mode?}` answer `{ok: true, result: Message}` with per-chat message ids, as Telegram does;
 *   with `parse_mode: "HTML"` the text is parsed like Telegram parses it (supported tags only,
 *   `&lt; &gt; &amp; &quot;` and numeric entities) and a stray `<` or `&` is refused with
 *   "Bad Request: can't parse entities: ...", so escaping mistakes show up in tests.
 * - `sendChatAction {chat_id, action}` answers `{ok: true, result: true}`.
 * - `getMe`, `setWebhook {url, secret_token?, allowed_updates?}`, `deleteWebhook` and
 *   `getWebhookInfo` per bot (scope `bot:<bot id>`): setWebhook wants an HTTPS URL (plain http only
 *   to this machine) and a secret token of 1-256 `A-Z a-z 0-9 _ -`, as Telegram does.
 * Bots: the one given, more with `POST /_fake/bots {token}` (answers the bot), or, with `anyBot`
 * (local development), every well-formed token. `GET /_fake/webhook?token=` shows what setWebhook
 * stored, secret included; `POST /_fake/deliver {token, update}` posts an Update to that webhook
 * with its secret header, as Telegram would, and answers the webhook's status.
 * Errors use Telegram's envelope `{ok: false, error_code, description, parameters?}`: 401
 * "Unauthorized" for a token other than the bot's, 404 "Not Found" for an unknown method,
 * 400 "Bad Request: chat not found" for chats marked unknown with `POST /_fake/unknown-chats
 * {chat_id}`. Scope = `chat_id` as a string: `/_fake/failures` (e.g. 429 with
 * `parameters.retry_after`) and `/_fake/requests?scope=` are per chat.
 */
import type { ServerResponse } from "node:http";
import { type FakeState, recordAndMaybeFail, sendJson, startFake } from "./kit.ts";

/** The bot tests/harness binds as TELEGRAM_BOT_TOKEN in vitest.config.ts. */
export const FAKE_TELEGRAM_BOT_TOKEN = "123456:TEST-token";

const BOT = { id: 123456, is_bot: true, first_name: "Billx Test Bot", username: "billx_test_bot" };
const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);
const CHAT_ID = /^(-?\d{1,20}|@[A-Za-z]\w{4,31})$/;
// Limits after entity parsing, as documented for sendMessage and captions.
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

type Entity = { type: string; offset: number; length: number; url?: string };

type FakeBot = typeof BOT & { webhook: { url: string; secret_token?: string; allowed_updates?: unknown } | null };

const BOT_TOKEN = /^(\d{1,20}):[A-Za-z0-9_-]{1,200}$/;
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function startFakeTelegram(botToken = FAKE_TELEGRAM_BOT_TOKEN, options: { anyBot?: boolean } = {}) {
  const bots = new Map<string, FakeBot>([[botToken, { ...BOT, webhook: null }]]);
  const unknownChats = new Set<string>();

  function register(token: string): FakeBot | undefined {
    const id = BOT_TOKEN.exec(token)?.[1];
    if (!id) return undefined;
    const bot = bots.get(token) ?? { id: Number(id), is_bot: true, first_name: `Fake Bot ${id}`, username: `fake_${id}_bot`, webhook: null };
    bots.set(token, bot);
    return bot;
  }

  const publicBot = ({ webhook: _webhook, ...bot }: FakeBot) => bot;

  type BotMethod = (params: Record<string, unknown>, bot: FakeBot, res: ServerResponse) => void;
  const botMethods: Record<string, BotMethod> = {
    getme(_params, bot, res) {
      sendJson(res, 200, {
        ok: true,
        result: { ...publicBot(bot), can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false },
      });
    },
    setwebhook(params, bot, res) {
      const url = typeof params.url === "string" ? params.url : "";
      if (url === "") {
        bot.webhook = null;
        return sendJson(res, 200, { ok: true, result: true, description: "Webhook was deleted" });
      }
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {}
      const local = parsed && ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
      if (!parsed || (parsed.protocol !== "https:" && !(local && parsed.protocol === "http:"))) {
        return telegramError(res, 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
      }
      const secret = params.secret_token;
      if (secret !== undefined && (typeof secret !== "string" || !SECRET_TOKEN.test(secret))) {
        return telegramError(res, 400, "Bad Request: secret token contains unallowed characters");
      }
      bot.webhook = { url, ...(typeof secret === "string" ? { secret_token: secret } : {}), allowed_updates: params.allowed_updates };
      return sendJson(res, 200, { ok: true, result: true, description: "Webhook was set" });
    },
    deletewebhook(_params, bot, res) {
      const had = bot.webhook !== null;
      bot.webhook = null;
      sendJson(res, 200, { ok: true, result: true, description: had ? "Webhook was deleted" : "Webhook is already deleted" });
    },
    getwebhookinfo(_params, bot, res) {
      sendJson(res, 200, { ok: true, result: { url: bot.webhook?.url ?? "", has_custom_certificate: false, pending_update_count: 0 } });
    },
  };

  async function deliver(token: string, update: unknown, res: ServerResponse) {
    const webhook = bots.get(token)?.webhook;
    if (!webhook) return sendJson(res, 404, { error: "no webhook set for this bot" });
    const response = await fetch(webhook.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(webhook.secret_token ? { "X-Telegram-Bot-Api-Secret-Token": webhook.secret_token } : {}) },
      body: JSON.stringify(update),
    });
    return sendJson(res, 200, { status: response.status });
  }
  const lastMessageId = new Map<string, number>();
  let fileCounter = 0;

  function chatOf(chatId: string) {
    if (chatId.startsWith("@")) {
      // A public channel: Telegram answers with the channel's numeric id, not the @name.
      let hash = 0;
      for (const char of chatId) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_000_000;
      return { id: -1_000_000_000_000 - hash, title: chatId.slice(1), username: chatId.slice(1), type: "channel" };
    }
    const id = Number(chatId);
    return id < 0 ? { id, title: `Group ${-id}`, type: "group" } : { id, first_name: "Test", last_name: `User ${id}`, type: "private" };
  }

  function nextMessage(chatId: string) {
    const messageId = (lastMessageId.get(chatId) ?? 0) + 1;
    lastMessageId.set(chatId, messageId);
    return { message_id: messageId, from: BOT, chat: chatOf(chatId), date: Math.floor(Date.now() / 1000) };
  }

  type Method = (params: Record<string, unknown>, chatId: string, res: ServerResponse, state: FakeState<never>) => void;
  const methods: Record<string, Method> = {
    sendmessage(params, chatId, res) {
      const text = typeof params.text === "string" ? params.text : "";
      const formatted = format(text, params.parse_mode);
      if ("error" in formatted) return telegramError(res, 400, formatted.error);
      if (formatted.text.trim() === "") return telegramError(res, 400, "Bad Request: message text is empty");
      if (formatted.text.length > MAX_TEXT) return telegramError(res, 400, "Bad Request: message is too long");
      return sendJson(res, 200, {
        ok: true,
        result: { ...nextMessage(chatId), text: formatted.text, ...(formatted.entities.length ? { entities: formatted.entities } : {}) },
      });
    },
    sendphoto(params, chatId, res) {
      if (typeof params.photo !== "string" || !/^https?:\/\//.test(params.photo)) {
        return telegramError(res, 400, "Bad Request: wrong file identifier/HTTP URL specified");
      }
      const formatted = format(typeof params.caption === "string" ? params.caption : "", params.parse_mode);
      if ("error" in formatted) return telegramError(res, 400, formatted.error);
      if (formatted.text.length > MAX_CAPTION) return telegramError(res, 400, "Bad Request: message caption is too long");
      const fileId = `AgACAgQAAxkDAAI${++fileCounter}FakePhoto`;
      return sendJson(res, 200, {
        ok: true,
        result: {
          ...nextMessage(chatId),
          photo: [
            { file_id: `${fileId}_s`, file_unique_id: `AQAD${fileCounter}s`, file_size: 1_024, width: 90, height: 90 },
            { file_id: `${fileId}_m`, file_unique_id: `AQAD${fileCounter}m`, file_size: 16_384, width: 320, height: 320 },
          ],
          ...(formatted.text ? { caption: formatted.text } : {}),
          ...(formatted.entities.length ? { caption_entities: formatted.entities } : {}),
        },
      });
    },
    sendchataction(params, _chatId, res) {
      if (typeof params.action !== "string" || !CHAT_ACTIONS.has(params.action))
        return telegramError(res, 400, "Bad Request: wrong parameter action in request");
      return sendJson(res, 200, { ok: true, result: true });
    },
  };

  return startFake<never>((req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;

    if (req.method === "POST" && url.pathname === "/_fake/unknown-chats") {
      unknownChats.add(String(body.chat_id));
      return sendJson(res, 204, null);
    }
    if (req.method === "POST" && url.pathname === "/_fake/bots") {
      const bot = register(String(body.token));
      return bot ? sendJson(res, 200, publicBot(bot)) : sendJson(res, 400, { error: "a token looks like <digits>:<letters, digits, _ or ->" });
    }
    if (req.method === "GET" && url.pathname === "/_fake/webhook") {
      return sendJson(res, 200, bots.get(url.searchParams.get("token") ?? "")?.webhook ?? null);
    }
    if (req.method === "POST" && url.pathname === "/_fake/deliver") return deliver(String(body.token), body.update, res);

    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!match) return telegramError(res, 404, "Not Found");
    const [, token = "", method] = match;
    const bot = bots.get(token) ?? (options.anyBot ? register(token) : undefined);
    if (!bot) return telegramError(res, 401, "Unauthorized");
    // Telegram reads parameters from the query string too.
    const params: Record<string, unknown> = { ...Object.fromEntries(url.searchParams), ...body };
    const botMethod = botMethods[(method ?? "").toLowerCase()];
    if (botMethod) {
      if (recordAndMaybeFail(req, res, state, `bot:${bot.id}`)) return;
      return botMethod(params, bot, res);
    }
    const handler = methods[(method ?? "").toLowerCase()];
    if (!handler) return telegramError(res, 404, "Not Found");
    const chatId = params.chat_id === undefined || params.chat_id === "" ? "" : String(params.chat_id);
    if (recordAndMaybeFail(req, res, state, chatId)) return;
    if (!chatId) return telegramError(res, 400, "Bad Request: chat_id is empty");
    if (unknownChats.has(chatId) || !CHAT_ID.test(chatId)) return telegramError(res, 400, "Bad Request: chat not found");
    return handler(params, chatId, res, state);
  });
}

function telegramError(res: ServerResponse, status: number, description: string) {
  sendJson(res, status, { ok: false, error_code: status, description });
}

const HTML_TAGS: Record<string, string> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  code: "code",
  pre: "pre",
  a: "text_link",
  "tg-spoiler": "spoiler",
  blockquote: "blockquote",
};
const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

/**
 * Telegram's HTML parse mode: the supported tags become entities, the four named entities and
 * numeric ones are decoded; anything else is an error quoting Telegram's wording.
 */
function format(input: string, parseMode: unknown): { text: string; entities: Entity[] } | { error: string } {
  if (parseMode === undefined || parseMode === "") return { text: input, entities: [] };
  if (parseMode !== "HTML") return { error: `Bad Request: unsupported parse_mode` };
  let text = "";
  const entities: Entity[] = [];
  // Entity offsets and lengths are in UTF-16 code units, which is what a JS string's length counts.
  const open: { tag: string; offset: number; url?: string }[] = [];
  let i = 0;
  const bytesBefore = (index: number) => Buffer.byteLength(input.slice(0, index));
  while (i < input.length) {
    const char = input[i] as string;
    if (char === "<") {
      const end = input.indexOf(">", i);
      const tag = end === -1 ? undefined : /^<(\/?)([a-z-]+)(?:\s+href="([^"]*)")?\s*>$/i.exec(input.slice(i, end + 1));
      if (!tag)
        return {
          error: `Bad Request: can't parse entities: Unsupported start tag "${/^<\/?([^\s>]*)/.exec(input.slice(i))?.[1] ?? ""}" at byte offset ${bytesBefore(i)}`,
        };
      const [, closing, rawName, href] = tag;
      const name = (rawName ?? "").toLowerCase();
      if (!HTML_TAGS[name]) return { error: `Bad Request: can't parse entities: Unsupported start tag "${name}" at byte offset ${bytesBefore(i)}` };
      if (closing) {
        const top = open.pop();
        if (!top || top.tag !== name)
          return {
            error: `Bad Request: can't parse entities: Unmatched end tag at byte offset ${bytesBefore(i)}, expected "</${top?.tag ?? ""}>", found "</${name}>"`,
          };
        const type = HTML_TAGS[name] as string;
        entities.push({ type, offset: top.offset, length: text.length - top.offset, ...(top.url ? { url: top.url } : {}) });
      } else {
        open.push({ tag: name, offset: text.length, url: href });
      }
      i = end + 1;
      continue;
    }
    if (char === "&") {
      const entity = /^&(#x[0-9a-f]+|#\d+|[a-z]+);/i.exec(input.slice(i));
      const name = entity?.[1];
      const decoded = !name
        ? undefined
        : name.startsWith("#x") || name.startsWith("#X")
          ? String.fromCodePoint(Number.parseInt(name.slice(2), 16))
          : name.startsWith("#")
            ? String.fromCodePoint(Number(name.slice(1)))
            : NAMED_ENTITIES[name];
      // Telegram's rule: every `<`, `>` and `&` that is not part of a tag or an entity must be escaped.
      if (!entity || decoded === undefined) {
        return { error: `Bad Request: can't parse entities: Character entity expected at byte offset ${bytesBefore(i)}` };
      }
      text += decoded;
      i += entity[0].length;
      continue;
    }
    if (char === ">") return { error: `Bad Request: can't parse entities: Unexpected end tag at byte offset ${bytesBefore(i)}` };
    text += char;
    i++;
  }
  if (open.length > 0) return { error: `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open.at(-1)?.tag}"` };
  entities.sort((a, b) => a.offset - b.offset);
  return { text, entities };
}
