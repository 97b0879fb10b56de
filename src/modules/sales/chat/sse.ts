import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../../../lib/context";
import { AppError, InternalError, problemBody } from "../../../lib/errors";

export type Emit = (event: string, data: unknown) => void;

/**
 * An SSE response whose events `work` emits in order (`event: <name>`, `data: <json>`). A client
 * that disconnects aborts `signal`, so the model call `work` is making stops. A failure after the
 * stream began is an `error` event carrying the problem document, then the stream ends.
 */
export function sseResponse(c: Context<AppEnv>, work: (emit: Emit, signal: AbortSignal) => Promise<void>): Response {
  const aborter = new AbortController();
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => aborter.abort());
    c.req.raw.signal?.addEventListener("abort", () => aborter.abort());
    // Deltas arrive from a callback: writes are chained so events leave in the order they were emitted.
    let writes = Promise.resolve();
    const emit: Emit = (event, data) => {
      writes = writes.then(() => stream.writeSSE({ event, data: JSON.stringify(data) }));
    };
    const run = work(emit, aborter.signal).catch((error: unknown) => {
      if (aborter.signal.aborted) return;
      const problem = error instanceof AppError ? error : new InternalError();
      if (!(error instanceof AppError)) c.var.ctx.log.error("sales chat stream failed", { error: error instanceof Error ? error.message : String(error) });
      emit("error", problemBody(problem, c.var.requestId));
    });
    // A client that goes away cancels what its request is doing; the work is kept alive so it can
    // wind down (stop the model call, release the conversation's turn lock) instead of vanishing.
    c.var.ctx.waitUntil(run);
    await run;
    await writes;
  });
}
