import type { Context } from "hono";
import type { AppEnv } from "../../../lib/context";
import { runSalesTurn, type SalesTurnInput } from "./service";
import { sseResponse } from "./sse";

type PreparedTurn = Omit<SalesTurnInput, "signal" | "onDelta" | "onThinking">;

/**
 * A turn as Server-Sent Events: `thinking`, `content` deltas, `meta`, `done`. `showCost` puts
 * the turn's usage and cost in `meta`: for staff, not for a website's visitors.
 */
export function streamSalesTurn(c: Context<AppEnv>, turn: PreparedTurn, options: { showCost: boolean }): Response {
  const ctx = c.var.ctx;
  return sseResponse(c, async (emit, signal) => {
    const result = await runSalesTurn(ctx, {
      ...turn,
      signal,
      onThinking: (step) => emit("thinking", step),
      onDelta: (delta) => emit("content", { delta }),
    });
    const { reply, usage, cost, ...meta } = result;
    emit("meta", options.showCost ? { ...meta, usage, cost } : meta);
    emit("done", { reply });
  });
}
