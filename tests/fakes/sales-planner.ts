/**
 * The OpenAI fake's part in the sales chat: what an unscripted planner says, and streams that
 * can be slowed down and watched for a client that goes away.
 *
 * A planner request is recognised by its `response_format` (`json_schema` named `sales_planner`),
 * whose `next_stage` enum lists the current stage first, then where it may go. Unscripted, the
 * fake moves one stage forward in the seven-stage order each turn, so `FAKE_PROVIDERS=1` plays
 * a whole conversation from greeting to farewell. Every other unscripted request keeps the fake's
 * usual "You said: ..." answer.
 */
import type { ServerResponse } from "node:http";
import { sendJson } from "./kit.ts";

const STAGE_ORDER = ["greeting", "opening", "consultation", "testimony", "promo", "closing", "farewell"];

interface PlannerRequest {
  response_format?: { type?: string; json_schema?: { name?: string; schema?: { properties?: { next_stage?: { enum?: unknown } } } } };
}

/** The unscripted planner answer as JSON text, or null when `body` is not a sales planner request. */
export function salesPlannerAnswer(body: unknown): string | null {
  const format = (body as PlannerRequest).response_format;
  if (format?.type !== "json_schema" || format.json_schema?.name !== "sales_planner") return null;
  const choices = format.json_schema.schema?.properties?.next_stage?.enum;
  if (!Array.isArray(choices) || choices.length === 0) return null;
  const [current, ...allowed] = choices.map(String) as [string, ...string[]];
  const position = (stage: string) => STAGE_ORDER.indexOf(stage);
  const forward = allowed.filter((s) => position(s) > position(current)).sort((a, b) => position(a) - position(b))[0];
  return JSON.stringify({
    next_stage: forward ?? current,
    reason: "The fake planner moves the conversation one stage forward.",
    user_leaving: false,
    product_query: null,
    knowledge_query: null,
    order: null,
  });
}

/** How a scope's streamed chat answers go out, and what happened to them. */
export interface ChatStreamWatch {
  gapMs: number;
  started: number;
  completed: number;
  /** Streams whose client went away before the last chunk. */
  aborted: number;
  /** Chunks written after the client had gone (should stay 0: the fake stops writing). */
  chunksAfterClose: number;
}

export class ChatStreams {
  private readonly watches = new Map<string, ChatStreamWatch>();

  watch(scope: string): ChatStreamWatch {
    let watch = this.watches.get(scope);
    if (!watch) {
      watch = { gapMs: 0, started: 0, completed: 0, aborted: 0, chunksAfterClose: 0 };
      this.watches.set(scope, watch);
    }
    return watch;
  }

  /** `POST /_fake/chat-stream {scope, gap_ms}`: streamed answers of `scope` wait `gap_ms` between chunks. */
  configure(body: unknown, res: ServerResponse) {
    const { scope, gap_ms } = (body ?? {}) as { scope?: unknown; gap_ms?: unknown };
    if (typeof scope !== "string" || typeof gap_ms !== "number" || gap_ms < 0)
      return sendJson(res, 400, { error: { message: "chat-stream needs scope and gap_ms >= 0" } });
    this.watch(scope).gapMs = gap_ms;
    return sendJson(res, 204, null);
  }

  /** `GET /_fake/chat-stream?scope=`: the scope's counters. */
  report(scope: string, res: ServerResponse) {
    return sendJson(res, 200, this.watch(scope));
  }
}
