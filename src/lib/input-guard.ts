import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context";
import { type FieldError, NotFound, Unprocessable } from "./errors";

const NUL = "\u0000";
const NUL_MESSAGE = "NUL characters are not allowed";
/** How JSON spells a NUL inside a string; a raw NUL byte is not valid JSON at all. */
const ESCAPED_NUL = /\\u0000/i;
const MAX_REPORTED = 20;
/** Deeper than any body of ours; past it the route's own validation answers. */
const MAX_DEPTH = 64;

/**
 * Postgres refuses NUL in text ("invalid byte sequence for encoding UTF8: 0x00"), so a NUL that
 * reached a query used to be a 500. This guard refuses it at the door, for every route at once:
 * in the path a 404 (no id of ours holds one), in the query or a JSON body a 422 naming the field.
 * The body is read from a clone, so routes that check a signature over the raw bytes still get them.
 */
export const refuseNul: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (safeDecode(c.req.path).includes(NUL)) throw new NotFound("resource");
  // A provider's callback is what a chat user typed or a provider sent: its route cleans the text
  // itself, and refusing it would lose the message (or make the provider retry it forever).
  if (isProviderCallback(c.req.path)) return next();
  const query = new URL(c.req.url).searchParams;
  const queryErrors: FieldError[] = [];
  for (const [name, value] of query) {
    if (name.includes(NUL) || value.includes(NUL)) queryErrors.push({ path: name.replaceAll(NUL, "\\u0000"), message: NUL_MESSAGE });
  }
  if (queryErrors.length > 0) throw new Unprocessable(queryErrors.slice(0, MAX_REPORTED));
  if (c.req.raw.body && isJson(c.req.header("Content-Type"))) {
    const text = await c.req.raw.clone().text();
    if (ESCAPED_NUL.test(text)) {
      const errors = nulPaths(parseOrUndefined(text));
      if (errors.length > 0) throw new Unprocessable(errors.slice(0, MAX_REPORTED));
    }
  }
  await next();
};

/**
 * Providers' callbacks (Stripe, Twilio, Telegram, WhatsApp): signed requests we do not get to
 * refuse for their content, and whose failures must stay 5xx so the provider sends them again.
 */
const PROVIDER_CALLBACK = /^\/v1\/(?:webhooks\/|voice\/|channels\/[^/]+\/[^/]+\/webhook\/?$)/;

export function isProviderCallback(path: string): boolean {
  return PROVIDER_CALLBACK.test(path);
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType.trim());
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: the route's own parsing answers 400.
    return undefined;
  }
}

/** Dotted paths (as validation errors name them) of every string, or key, holding a NUL. */
function nulPaths(value: unknown, path: string[] = [], out: FieldError[] = []): FieldError[] {
  if (out.length >= MAX_REPORTED || path.length > MAX_DEPTH) return out;
  if (typeof value === "string") {
    if (value.includes(NUL)) out.push({ path: path.join(".") || "(root)", message: NUL_MESSAGE });
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) nulPaths(item, [...path, String(index)], out);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes(NUL)) out.push({ path: [...path, key.replaceAll(NUL, "\\u0000")].join("."), message: "NUL characters are not allowed in a key" });
      else nulPaths(item, [...path, key], out);
    }
  }
  return out;
}
