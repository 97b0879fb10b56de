import type { FieldError } from "../../../lib/errors";
import {
  AGENT_ID_MAX,
  BatchEvent,
  type BatchEventInput,
  CURRENCY_PATTERN,
  EVENT_ID_MAX,
  EVENT_ID_PATTERN,
  EVENT_METADATA_MAX_BYTES,
  EVENT_TYPE_MAX,
  eventFieldErrors,
  MAX_MINOR_UNITS,
  normaliseQuantity,
  parseOccurredAt,
} from "./schemas";

/**
 * Checks one event of a batch. A batch carries up to 1,000 events and zod's union of strict
 * objects costs about 14 µs an event, most of a batch's CPU in the Worker; nearly every event
 * is valid. So a plain-code quick path accepts the events that satisfy every rule of
 * `BatchEvent` and builds the very value zod would; anything else (a bad field, a missing one,
 * something it is unsure of) goes through `BatchEvent` itself, which alone writes the errors.
 * The quick path can only say yes: an event it refuses is judged by zod, never rejected by it.
 * tests/events.test.ts checks that both agree on valid and broken events.
 */
export function checkBatchEvent(raw: unknown): { event: BatchEventInput } | { errors: FieldError[] } {
  const quick = quickParse(raw);
  if (quick) return { event: quick };
  const result = BatchEvent.safeParse(raw);
  return result.success ? { event: result.data } : { errors: eventFieldErrors(result.error) };
}

/** The fields each kind allows besides `kind` itself; any other key sends the event to zod. */
const FIELDS = {
  activity: new Set(["id", "agent_id", "kind", "type", "occurred_at", "metadata", "quantity"]),
  cost: new Set(["id", "agent_id", "kind", "type", "occurred_at", "metadata", "amount", "currency"]),
  outcome: new Set(["id", "agent_id", "kind", "type", "occurred_at", "metadata", "success", "value", "currency"]),
} as const;

const encoder = new TextEncoder();

/** `BatchEvent.parse(raw)` when `raw` is valid by every rule; undefined when it is not, or may not be. */
export function quickParse(raw: unknown): BatchEventInput | undefined {
  if (!isPlainObject(raw)) return undefined;
  const kind = raw.kind;
  if (kind !== "activity" && kind !== "cost" && kind !== "outcome") return undefined;
  const allowed = FIELDS[kind];
  for (const key in raw) if (!allowed.has(key)) return undefined;

  const { id, agent_id: agentId, type, occurred_at: occurredAtText } = raw;
  if (typeof id !== "string" || id.length < 1 || id.length > EVENT_ID_MAX || !EVENT_ID_PATTERN.test(id)) return undefined;
  if (typeof agentId !== "string" || agentId.length > AGENT_ID_MAX) return undefined;
  if (typeof type !== "string") return undefined;
  const trimmedType = type.trim();
  if (trimmedType.length < 1 || trimmedType.length > EVENT_TYPE_MAX) return undefined;
  if (typeof occurredAtText !== "string") return undefined;
  const occurredAt = parseOccurredAt(occurredAtText);
  if (!occurredAt) return undefined;
  let metadata: Record<string, unknown> | undefined;
  if (raw.metadata !== undefined) {
    if (!isPlainObject(raw.metadata) || !isSmallMetadata(raw.metadata)) return undefined;
    metadata = raw.metadata;
  }
  // Optional fields left out stay undefined, as in zod's output; one object shape per kind.
  switch (kind) {
    case "activity": {
      let quantity: string | undefined;
      if (raw.quantity !== undefined) {
        const given = raw.quantity;
        if (typeof given === "number" ? !Number.isFinite(given) : typeof given !== "string") return undefined;
        const text = normaliseQuantity(typeof given === "string" ? given.trim() : (given as number));
        if (text === null) return undefined;
        quantity = text;
      }
      return { id, agent_id: agentId, kind, type: trimmedType, quantity, occurred_at: occurredAt, metadata };
    }
    case "cost": {
      const currency = currencyOf(raw.currency);
      if (!isMinorUnits(raw.amount) || currency === undefined) return undefined;
      return { id, agent_id: agentId, kind, type: trimmedType, amount: raw.amount, currency, occurred_at: occurredAt, metadata };
    }
    case "outcome": {
      if (typeof raw.success !== "boolean") return undefined;
      let value: number | undefined;
      if (raw.value !== undefined) {
        if (!isMinorUnits(raw.value)) return undefined;
        value = raw.value;
      }
      let currency: string | undefined;
      if (raw.currency !== undefined) {
        currency = currencyOf(raw.currency);
        if (currency === undefined) return undefined;
      }
      return { id, agent_id: agentId, kind, type: trimmedType, success: raw.success, value, currency, occurred_at: occurredAt, metadata };
    }
  }
}

/** A JSON object as `JSON.parse` makes them; arrays, null and class instances go to zod. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Metadata zod would keep unchanged: a plain object within the size cap. An own `__proto__`
 * key (JSON.parse makes one) goes to zod, whose copy of the record may treat it otherwise.
 */
function isSmallMetadata(value: Record<string, unknown>): boolean {
  if (Object.hasOwn(value, "__proto__")) return false;
  const json = JSON.stringify(value);
  // Each UTF-16 unit is at most 3 UTF-8 bytes: only long JSON needs counting.
  return json.length * 3 <= EVENT_METADATA_MAX_BYTES || encoder.encode(json).length <= EVENT_METADATA_MAX_BYTES;
}

function isMinorUnits(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_MINOR_UNITS;
}

/** The upper-cased code, or undefined when `value` is not one. */
function currencyOf(value: unknown): string | undefined {
  return typeof value === "string" && CURRENCY_PATTERN.test(value) ? value.toUpperCase() : undefined;
}
