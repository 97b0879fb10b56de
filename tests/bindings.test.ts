import { createExecutionContext, createScheduledController, runInDurableObject } from "cloudflare:test";
import { desc, eq } from "drizzle-orm";
import { describe, expect, it, onTestFinished } from "vitest";
import type { CallSession } from "../durable-objects/CallSession";
import { cronRuns, deadLetters } from "../src/db/schema";
import worker, { QUEUES } from "../src/index";
import { MAX_ATTEMPTS, outboundHandlers } from "../src/queues/outbound";
import { deliverQueueBatch } from "./harness/fakes";
import { testCtx, testEnv } from "./harness/helpers";

describe("Durable Objects", () => {
  it("CallSession keeps an ordered event log in its SQLite storage", async () => {
    const sessions = testEnv.CALL_SESSION as unknown as DurableObjectNamespace<CallSession>;
    const stub = sessions.get(sessions.idFromName("CA-smoke-1"));
    expect(await stub.appendEvent("start", { from: "+15550100" })).toBe(1);
    expect(await stub.appendEvent("media", { bytes: 160 })).toBe(2);
    const events = await stub.events();
    expect(events.map((e) => [e.seq, e.type, e.payload])).toEqual([
      [1, "start", { from: "+15550100" }],
      [2, "media", { bytes: 160 }],
    ]);
    const version = await runInDurableObject(
      stub,
      (_instance, state) => state.storage.sql.exec<{ version: number }>("SELECT version FROM _schema").one().version,
    );
    expect(version).toBe(1);
  });

  it("SalesConversation remembers the chat and starts at the greeting stage", async () => {
    const stub = testEnv.SALES_CONVERSATION.get(testEnv.SALES_CONVERSATION.idFromName("telegram:42"));
    await stub.remember("user", "hi, do you ship to Lagos?");
    await stub.remember("assistant", "Hello! Yes, we do.");
    const snapshot = await stub.snapshot();
    expect(snapshot.stage).toBe("greeting");
    expect(snapshot.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
  });

  it("KnowledgeBase ranks chunks by full-text relevance and replaces updated chunks", async () => {
    const stub = testEnv.KNOWLEDGE_BASE.get(testEnv.KNOWLEDGE_BASE.idFromName("asst_smoke"));
    expect(
      await stub.upsertChunks([
        { id: "c1", documentId: "doc1", text: "We are open Monday to Friday from 9am to 6pm." },
        { id: "c2", documentId: "doc1", text: "On Saturday the salon opens at 10am and closes at 2pm." },
        { id: "c3", documentId: "doc2", text: "Haircuts cost 25 dollars; colouring starts at 60 dollars." },
      ]),
    ).toEqual({ upserted: 3 });
    const hours = await stub.search({ query: "what time do you open on saturday?" });
    expect(hours.mode).toBe("lexical");
    expect(hours.hits[0]?.chunkId).toBe("c2");
    expect(hours.hits.map((h) => h.chunkId)).not.toContain("c3");

    await stub.upsertChunks([{ id: "c3", documentId: "doc2", text: "Haircuts now cost 30 dollars." }]);
    const prices = await stub.search({ query: "haircut cost" });
    expect(prices.hits).toHaveLength(1);
    expect(prices.hits[0]?.text).toBe("Haircuts now cost 30 dollars.");
    // FTS syntax in a question is treated as words, never as a query language.
    expect((await stub.search({ query: 'cost" OR NEAR(' })).hits).toHaveLength(1);
  });
});

describe("R2 bucket FILES", () => {
  it("stores, reads back, lists and deletes an object", async () => {
    const key = "org_smoke/recordings/CA123.ulaw";
    const audio = new Uint8Array(160).fill(0xff);
    await testEnv.FILES.put(key, audio, { httpMetadata: { contentType: "audio/basic" }, customMetadata: { callSid: "CA123" } });
    const object = await testEnv.FILES.get(key);
    expect(object?.httpMetadata?.contentType).toBe("audio/basic");
    expect(object?.customMetadata).toEqual({ callSid: "CA123" });
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(audio);
    const listed = await testEnv.FILES.list({ prefix: "org_smoke/" });
    expect(listed.objects.map((o) => o.key)).toEqual([key]);
    await testEnv.FILES.delete(key);
    expect(await testEnv.FILES.get(key)).toBeNull();
  });
});

describe("outbound queue", () => {
  it("dead-letters a job of an unknown kind at once and acknowledges it", async () => {
    const result = await deliverQueueBatch(QUEUES.outbound, [{ id: "msg-unknown-1", attempts: 1, body: { kind: "no.such.kind", to: "+15550100" } }]);
    expect(result.explicitAcks).toEqual(["msg-unknown-1"]);
    expect(result.retryMessages).toEqual([]);
    const rows = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "msg-unknown-1"));
    expect(rows).toMatchObject([{ queue: QUEUES.outbound, kind: "no.such.kind", reason: 'unknown job kind "no.such.kind"', attempts: 1 }]);
  });

  it("retries a failing job with backoff, then dead-letters it on the last attempt", async () => {
    outboundHandlers["test.flaky"] = async () => {
      throw new Error("provider timed out");
    };
    onTestFinished(() => {
      delete outboundHandlers["test.flaky"];
    });
    const early = await deliverQueueBatch(QUEUES.outbound, [{ id: "msg-flaky-1", attempts: 1, body: { kind: "test.flaky" } }]);
    expect(early.retryMessages).toEqual([{ msgId: "msg-flaky-1" }]);
    expect(early.explicitAcks).toEqual([]);

    const last = await deliverQueueBatch(QUEUES.outbound, [{ id: "msg-flaky-1", attempts: MAX_ATTEMPTS, body: { kind: "test.flaky" } }]);
    expect(last.explicitAcks).toEqual(["msg-flaky-1"]);
    const rows = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "msg-flaky-1"));
    expect(rows).toMatchObject([{ reason: "provider timed out", attempts: MAX_ATTEMPTS }]);
  });

  it("one bad message does not hold back the others in its batch", async () => {
    const handled: string[] = [];
    outboundHandlers["test.ok"] = async (_ctx, job) => {
      handled.push(String(job.ref));
    };
    onTestFinished(() => {
      delete outboundHandlers["test.ok"];
    });
    const result = await deliverQueueBatch(QUEUES.outbound, [
      { id: "m-a", attempts: 1, body: { kind: "test.ok", ref: "a" } },
      { id: "m-b", attempts: 1, body: { kind: "broken" } },
      { id: "m-c", attempts: 1, body: { kind: "test.ok", ref: "c" } },
    ]);
    expect(handled).toEqual(["a", "c"]);
    expect(result.explicitAcks.sort()).toEqual(["m-a", "m-b", "m-c"]);
  });

  it("records what reaches the dead-letter queue", async () => {
    const result = await deliverQueueBatch(QUEUES.outboundDeadLetter, [{ id: "msg-dlq-1", attempts: 6, body: { kind: "message.send", messageId: "msg_1" } }]);
    expect(result.explicitAcks).toEqual(["msg-dlq-1"]);
    const rows = await testCtx().db.select().from(deadLetters).where(eq(deadLetters.messageId, "msg-dlq-1"));
    expect(rows).toMatchObject([
      { queue: QUEUES.outboundDeadLetter, kind: "message.send", reason: "delivery attempts exhausted", body: { messageId: "msg_1" } },
    ]);
  });

  it("delivers a job sent through the OUTBOUND binding to the consumer", async () => {
    await testEnv.OUTBOUND.send({ kind: "smoke.via-binding", ref: "real-queue" });
    const db = testCtx().db;
    // Miniflare's queue delivers asynchronously (max_batch_timeout = 1 s).
    await expect
      .poll(async () => (await db.select().from(deadLetters).where(eq(deadLetters.kind, "smoke.via-binding"))).length, { timeout: 10_000, interval: 200 })
      .toBe(1);
  });
});

describe("cron", () => {
  it("runs the jobs of the fired schedule and records the run", async () => {
    const db = testCtx().db;
    const now = Date.now();
    await db.insert(deadLetters).values([
      { id: "dlq_old", queue: "q", messageId: "old", kind: "k", body: {}, reason: "r", attempts: 6, createdAt: new Date(now - 40 * 86_400_000) },
      { id: "dlq_new", queue: "q", messageId: "new", kind: "k", body: {}, reason: "r", attempts: 6, createdAt: new Date(now - 86_400_000) },
    ]);
    const controller = createScheduledController({ cron: "0 3 * * *", scheduledTime: new Date(now) });
    await worker.scheduled(controller, testEnv, createExecutionContext());

    const remaining = await db.select({ id: deadLetters.id }).from(deadLetters).where(eq(deadLetters.queue, "q"));
    expect(remaining.map((r) => r.id)).toEqual(["dlq_new"]);
    const [run] = await db.select().from(cronRuns).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run).toMatchObject({
      cron: "0 3 * * *",
      status: "ok",
      jobs: [
        { job: "dead-letters.purge", ok: true, detail: "1 purged" },
        { job: "audio.expire", ok: true },
      ],
    });
    expect(run?.scheduledAt.getTime()).toBe(now);
  });
});
