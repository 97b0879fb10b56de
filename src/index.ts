import { app } from "./app";
import type { Env } from "./env";
import { consumeIngest } from "./queues/ingest";
import type { QueueJob } from "./queues/jobs";
import { consumeDeadLetters, consumeOutbound } from "./queues/outbound";
import { runScheduled } from "./scheduled";

export { CallSession } from "../durable-objects/CallSession";
export { KnowledgeBase } from "../durable-objects/KnowledgeBase";
export { SalesConversation } from "../durable-objects/SalesConversation";

/** Queue names as declared in wrangler.toml. */
export const QUEUES = { outbound: "billx-outbound", outboundDeadLetter: "billx-outbound-dlq", ingest: "billx-ingest" } as const;

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    if (batch.queue === QUEUES.outbound) return consumeOutbound(batch, env, ctx);
    if (batch.queue === QUEUES.outboundDeadLetter) return consumeDeadLetters(batch, env, ctx);
    if (batch.queue === QUEUES.ingest) return consumeIngest(batch, env, ctx);
    throw new Error(`no consumer for queue ${batch.queue}`);
  },
  scheduled: runScheduled,
} satisfies ExportedHandler<Env, QueueJob>;
