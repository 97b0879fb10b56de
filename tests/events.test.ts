import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentEvents, agents, billingModels, billingModelVersions, invoices, organizations } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { quickParse } from "../src/modules/usage/events/batch-event";
import { BatchEvent } from "../src/modules/usage/events/schemas";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, fetchWithEnv, testCtx } from "./harness/helpers";

interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: { index: number; errors: { path: string; message: string }[] }[];
}

interface Recorded {
  id: string;
  agent_id: string;
  kind: string;
  status: "accepted" | "duplicate";
}

async function createAgent(who: SignedUp, body: Record<string, unknown> = {}): Promise<{ id: string }> {
  return expectJson(await call("/v1/agents", { token: who.access_token, body: { name: "Bot", ...body } }), 201);
}

function postBatch(who: SignedUp, body: unknown): Promise<Response> {
  return call("/v1/events", { token: who.access_token, body });
}

async function ingest(who: SignedUp, events: unknown[]): Promise<BatchResult> {
  return expectJson<BatchResult>(await postBatch(who, { events }), 200);
}

function postOne(who: SignedUp, agentId: string, kind: "activities" | "costs" | "outcomes", body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/agents/${agentId}/${kind}`, { token: who.access_token, body });
}

async function storedEvents(orgId: string) {
  return testCtx().db.select().from(agentEvents).where(eq(agentEvents.orgId, orgId)).orderBy(agentEvents.id);
}

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

describe("recording one event of an agent", () => {
  it("stores an activity with quantity 1 by default, and answers a repeat of its id as a duplicate", async () => {
    const owner = await signUp("evt-one");
    const agent = await createAgent(owner);
    const body = { id: "run-1", type: "email_sent", occurred_at: "2026-05-01T09:30:00+02:00" };
    const first = await expectJson<Recorded>(await postOne(owner, agent.id, "activities", body), 201);
    expect(first).toEqual({ id: "run-1", agent_id: agent.id, kind: "activity", status: "accepted" });
    // Same id, different content: still the first event that counts.
    const again = await expectJson<Recorded>(await postOne(owner, agent.id, "activities", { ...body, quantity: 5 }), 200);
    expect(again.status).toBe("duplicate");
    const rows = await storedEvents(owner.orgId);
    expect(rows).toEqual([
      expect.objectContaining({
        id: "run-1",
        agentId: agent.id,
        kind: "activity",
        type: "email_sent",
        quantity: "1.000",
        amount: null,
        currency: null,
        value: null,
        success: null,
        metadata: null,
        occurredAt: new Date("2026-05-01T07:30:00Z"),
      }),
    ]);
  });

  it("stores a cost and an outcome with their own fields", async () => {
    const owner = await signUp("evt-kinds");
    const agent = await createAgent(owner);
    await expectJson(
      await postOne(owner, agent.id, "costs", {
        id: "c-1",
        type: "llm_tokens",
        amount: 42,
        currency: "eur",
        occurred_at: "2026-05-01T10:00:00Z",
        metadata: { model: "x" },
      }),
      201,
    );
    await expectJson(
      await postOne(owner, agent.id, "outcomes", { id: "o-1", type: "ticket_resolved", success: false, value: 900, occurred_at: "2026-05-01T10:00:00Z" }),
      201,
    );
    const rows = await storedEvents(owner.orgId);
    expect(
      rows.map((r) => ({ id: r.id, kind: r.kind, amount: r.amount, currency: r.currency, value: r.value, success: r.success, metadata: r.metadata })),
    ).toEqual([
      { id: "c-1", kind: "cost", amount: 42, currency: "EUR", value: null, success: null, metadata: { model: "x" } },
      { id: "o-1", kind: "outcome", amount: null, currency: null, value: 900, success: false, metadata: null },
    ]);
  });

  it("refuses a cost without currency, an outcome without success, a field of another kind, and a bad quantity (422)", async () => {
    const owner = await signUp("evt-one-bad");
    const agent = await createAgent(owner);
    const at = "2026-05-01T10:00:00Z";
    const noCurrency = await expectProblem(await postOne(owner, agent.id, "costs", { id: "c", type: "t", amount: 5, occurred_at: at }), 422);
    expect(noCurrency.errors).toEqual([{ path: "currency", message: "Required for cost events" }]);
    const noSuccess = await expectProblem(await postOne(owner, agent.id, "outcomes", { id: "o", type: "t", occurred_at: at }), 422);
    expect(noSuccess.errors).toEqual([{ path: "success", message: "Required for outcome events" }]);
    const foreignField = await expectProblem(await postOne(owner, agent.id, "activities", { id: "a", type: "t", amount: 5, occurred_at: at }), 422);
    expect(foreignField.errors?.[0]?.message).toBe("Not a field of activity events: amount");
    const zero = await expectProblem(await postOne(owner, agent.id, "activities", { id: "a", type: "t", quantity: "0.000", occurred_at: at }), 422);
    expect(zero.errors?.[0]?.path).toBe("quantity");
    const noOffset = await expectProblem(await postOne(owner, agent.id, "activities", { id: "a", type: "t", occurred_at: "2026-05-01T10:00:00" }), 422);
    expect(noOffset.errors?.[0]?.path).toBe("occurred_at");
    expect(await storedEvents(owner.orgId)).toEqual([]);
  });

  it("allows 5 minutes of clock drift into the future, not more", async () => {
    const owner = await signUp("evt-future");
    const agent = await createAgent(owner);
    await expectJson(await postOne(owner, agent.id, "activities", { id: "soon", type: "t", occurred_at: minutesFromNow(2) }), 201);
    const late = await expectProblem(await postOne(owner, agent.id, "activities", { id: "later", type: "t", occurred_at: minutesFromNow(60) }), 422);
    expect(late.errors).toEqual([{ path: "occurred_at", message: expect.stringContaining("More than 5 minutes ahead") }]);
    expect((await storedEvents(owner.orgId)).map((r) => r.id)).toEqual(["soon"]);
  });

  it("answers 404 for an agent of another organisation and 409 for an archived agent, except for a retry", async () => {
    const a = await signUp("evt-one-a");
    const b = await signUp("evt-one-b");
    const agentOfA = await createAgent(a);
    const body = { id: "x", type: "t", occurred_at: "2026-05-01T10:00:00Z" };
    await expectProblem(await postOne(b, agentOfA.id, "activities", body), 404);
    await expectJson(await postOne(a, agentOfA.id, "activities", { ...body, id: "before-archive" }), 201);
    expect((await call(`/v1/agents/${agentOfA.id}`, { method: "DELETE", token: a.access_token })).status).toBe(204);
    const archived = await expectProblem(await postOne(a, agentOfA.id, "activities", body), 409);
    expect(archived.detail).toContain("archived");
    // A retry of what was stored before the agent was archived is answered as a duplicate.
    const retry = await expectJson<Recorded>(await postOne(a, agentOfA.id, "activities", { ...body, id: "before-archive" }), 200);
    expect(retry.status).toBe("duplicate");
    expect((await storedEvents(a.orgId)).map((r) => r.id)).toEqual(["before-archive"]);
    expect(await storedEvents(b.orgId)).toEqual([]);
  });
});

describe("ingesting a batch", () => {
  it("stores the good events and reports each bad one by index with its reasons", async () => {
    const owner = await signUp("evt-batch");
    const agent = await createAgent(owner);
    const archived = await createAgent(owner, { name: "Retired" });
    expect((await call(`/v1/agents/${archived.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    const other = await signUp("evt-batch-other");
    const foreignAgent = await createAgent(other);
    const at = "2026-05-01T10:00:00Z";
    await ingest(owner, [{ id: "before", agent_id: agent.id, kind: "activity", type: "t", occurred_at: at }]);

    const result = await ingest(owner, [
      /* 0 */ { id: "e0", agent_id: agent.id, kind: "activity", type: "email_sent", quantity: "2.5", occurred_at: at },
      /* 1 */ { id: "e1", agent_id: agent.id, kind: "cost", type: "llm_tokens", amount: 120, currency: "usd", occurred_at: at },
      /* 2 */ { id: "e2", agent_id: agent.id, kind: "cost", type: "llm_tokens", amount: 120, occurred_at: at },
      /* 3 */ { id: "e3", agent_id: agent.id, kind: "outcome", type: "resolved", occurred_at: at },
      /* 4 */ { id: "e4", agent_id: archived.id, kind: "activity", type: "t", occurred_at: at },
      /* 5 */ { id: "e5", agent_id: foreignAgent.id, kind: "activity", type: "t", occurred_at: at },
      /* 6 */ { id: "e0", agent_id: agent.id, kind: "activity", type: "email_sent", occurred_at: at },
      /* 7 */ { id: "e7", agent_id: agent.id, kind: "activity", type: "t", amount: 3, occurred_at: at },
      /* 8 */ { id: "e8", agent_id: agent.id, kind: "activity", type: "t", occurred_at: minutesFromNow(60) },
      /* 9 */ { id: "e9", agent_id: agent.id, kind: "bogus", type: "t", occurred_at: at },
      /* 10 */ "not an event",
      /* 11 */ { id: "e11", agent_id: agent.id, kind: "activity", type: "t", quantity: 0, occurred_at: at },
      /* 12 */ { id: "before", agent_id: agent.id, kind: "activity", type: "t", occurred_at: at },
      /* 13 */ { id: "e13", agent_id: agent.id, kind: "outcome", type: "resolved", success: false, value: 500, occurred_at: at },
      /* 14 */ { id: "e14", agent_id: agent.id, kind: "activity", type: "t", occurred_at: minutesFromNow(2) },
      /* 15 */ { agent_id: agent.id, kind: "cost", type: "t", amount: -1, currency: "USD", occurred_at: "yesterday" },
    ]);
    expect(result).toEqual({
      accepted: 4,
      duplicates: 2,
      rejected: [
        { index: 2, errors: [{ path: "currency", message: "Required for cost events" }] },
        { index: 3, errors: [{ path: "success", message: "Required for outcome events" }] },
        { index: 4, errors: [{ path: "agent_id", message: `Agent ${archived.id} is archived and records no events` }] },
        { index: 5, errors: [{ path: "agent_id", message: `No agent ${foreignAgent.id} in this organisation` }] },
        { index: 7, errors: [{ path: "amount", message: "Not a field of activity events: amount" }] },
        { index: 8, errors: [{ path: "occurred_at", message: expect.stringContaining("More than 5 minutes ahead") }] },
        { index: 9, errors: [{ path: "kind", message: "kind must be activity, cost or outcome" }] },
        { index: 10, errors: [{ path: "(root)", message: "An event is a JSON object" }] },
        { index: 11, errors: [{ path: "quantity", message: "A positive decimal with at most 3 decimals" }] },
        {
          index: 15,
          errors: expect.arrayContaining([
            { path: "id", message: "Required" },
            { path: "amount", message: expect.any(String) },
            { path: "occurred_at", message: expect.any(String) },
          ]),
        },
      ],
    });
    const rows = await storedEvents(owner.orgId);
    expect(rows.map((r) => r.id)).toEqual(["before", "e0", "e1", "e13", "e14"]);
    expect(rows.find((r) => r.id === "e0")).toMatchObject({ quantity: "2.500", type: "email_sent" });
    expect(rows.find((r) => r.id === "e1")).toMatchObject({ kind: "cost", amount: 120, currency: "USD" });
    expect(rows.find((r) => r.id === "e13")).toMatchObject({ kind: "outcome", success: false, value: 500 });
    expect(await storedEvents(other.orgId)).toEqual([]);
  });

  it("refuses an envelope without an array of 1 to 1,000 events as a whole (422), storing nothing", async () => {
    const owner = await signUp("evt-envelope");
    const agent = await createAgent(owner);
    const event = (i: number) => ({ id: `e${i}`, agent_id: agent.id, kind: "activity", type: "t", occurred_at: "2026-05-01T10:00:00Z" });
    for (const body of [{ events: "many" }, { events: [] }, {}, [event(0)]]) {
      const problem = await expectProblem(await postBatch(owner, body), 422);
      expect(problem.errors?.[0]?.path).toMatch(/^events|\(root\)$/);
    }
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `${i}` }));
    const problem = await expectProblem(await postBatch(owner, { events: tooMany }), 422);
    expect(problem.errors).toEqual([{ path: "events", message: expect.stringContaining("1000") }]);
    expect(await storedEvents(owner.orgId)).toEqual([]);
  });

  it("stores a 1,000-event batch posted 5 times at once exactly once", async () => {
    const owner = await signUp("evt-race");
    const agents = [await createAgent(owner, { name: "One" }), await createAgent(owner, { name: "Two" })];
    const kinds = [
      { kind: "activity", type: "email_sent", quantity: "1.5" },
      { kind: "cost", type: "llm_tokens", amount: 3, currency: "USD" },
      { kind: "outcome", type: "resolved", success: true, value: 100 },
    ];
    const events = Array.from({ length: 1000 }, (_, i) => ({
      id: `race-${i}`,
      agent_id: agents[i % 2]?.id,
      occurred_at: new Date(Date.UTC(2026, 4, 1, 0, 0, i)).toISOString(),
      ...kinds[i % 3],
    }));
    const body = JSON.stringify({ events });
    // The test Worker caps bodies at 64 KiB (vitest.config.ts); production allows 1 MiB, which a
    // 1,000-event batch needs, so these requests run with the production limit.
    expect(body.length).toBeGreaterThan(65_536);
    const send = () =>
      fetchWithEnv(
        new Request("http://api.test/v1/events", {
          method: "POST",
          headers: { Authorization: `Bearer ${owner.access_token}`, "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp() },
          body,
        }),
        { MAX_BODY_BYTES: "1048576" },
      );
    const answers = await Promise.all(Array.from({ length: 5 }, async () => expectJson<BatchResult>(await send(), 200)));
    expect(answers.every((a) => a.rejected.length === 0)).toBe(true);
    expect(answers.reduce((sum, a) => sum + a.accepted, 0)).toBe(1000);
    expect(answers.reduce((sum, a) => sum + a.duplicates, 0)).toBe(4000);
    const rows = await storedEvents(owner.orgId);
    expect(rows).toHaveLength(1000);
    expect(rows.filter((r) => r.kind === "cost").reduce((sum, r) => sum + (r.amount ?? 0), 0)).toBe(333 * 3);
  });
});

describe("batches racing and repeating ids", () => {
  it("stores overlapping batches sent at once, twice, with each id once", async () => {
    const owner = await signUp("evt-overlap");
    const agents = [await createAgent(owner, { name: "One" }), await createAgent(owner, { name: "Two" })];
    const event = (n: number) => ({
      id: `ov-${n}`,
      agent_id: agents[n % 2]?.id,
      kind: "cost",
      type: "llm_tokens",
      amount: 1,
      currency: "USD",
      occurred_at: "2026-05-01T10:00:00Z",
    });
    // Windows 0-299, 150-449 and 300-599 of the same ids: each shares half of its ids with another.
    const windows = [0, 150, 300].map((start) => Array.from({ length: 300 }, (_, i) => event(start + i)));
    const answers = await Promise.all([...windows, ...windows].map((events) => ingest(owner, events)));
    expect(answers.every((a) => a.rejected.length === 0)).toBe(true);
    expect(answers.reduce((sum, a) => sum + a.accepted, 0)).toBe(600);
    expect(answers.reduce((sum, a) => sum + a.duplicates, 0)).toBe(6 * 300 - 600);
    const rows = await storedEvents(owner.orgId);
    expect(rows).toHaveLength(600);
    expect(rows.reduce((sum, r) => sum + (r.amount ?? 0), 0)).toBe(600);
  });

  it("stores a repeated id from the event that may be stored, counting the refused one as its duplicate", async () => {
    const owner = await signUp("evt-repeat");
    const agent = await createAgent(owner);
    const retired = await createAgent(owner, { name: "Retired" });
    expect((await call(`/v1/agents/${retired.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    const at = "2026-05-01T10:00:00Z";
    const result = await ingest(owner, [
      { id: "same", agent_id: retired.id, kind: "activity", type: "first", occurred_at: at },
      { id: "same", agent_id: agent.id, kind: "activity", type: "second", occurred_at: at },
      { id: "same", agent_id: agent.id, kind: "activity", type: "third", occurred_at: at },
    ]);
    expect(result).toEqual({ accepted: 1, duplicates: 2, rejected: [] });
    expect((await storedEvents(owner.orgId)).map((r) => [r.id, r.agentId, r.type])).toEqual([["same", agent.id, "second"]]);
  });
});

describe("the batch's quick check", () => {
  const at = "2026-05-01T09:30:00.123Z";
  const valid: Record<string, unknown>[] = [
    { id: "a1", agent_id: "agt_1", kind: "activity", type: "email_sent", occurred_at: at },
    { id: "a2", agent_id: "agt_1", kind: "activity", type: "  padded  ", quantity: 2.5, occurred_at: "2026-05-01T09:30:00+02:00" },
    { id: "a3", agent_id: "", kind: "activity", type: "t", quantity: " 1.250 ", occurred_at: "2026-05-01T09:30Z", metadata: { run: 1 } },
    { id: "c1", agent_id: "agt_1", kind: "cost", type: "llm", amount: 0, currency: "usd", occurred_at: at },
    { id: "c2", agent_id: "agt_1", kind: "cost", type: "llm", amount: Number.MAX_SAFE_INTEGER, currency: "EUR", occurred_at: at, metadata: {} },
    { id: "o1", agent_id: "agt_1", kind: "outcome", type: "won", success: false, occurred_at: at },
    { id: "o2", agent_id: "agt_1", kind: "outcome", type: "won", success: true, value: 150, currency: "gbp", occurred_at: at, metadata: { a: [1] } },
  ];
  // Each breaks one rule of BatchEvent.
  const broken: unknown[] = [
    null,
    [valid[0]],
    "event",
    { ...valid[0], kind: "bogus" },
    { ...valid[0], id: "" },
    { ...valid[0], id: "has space" },
    { ...valid[0], id: "x".repeat(201) },
    { ...valid[0], id: 7 },
    { ...valid[0], agent_id: "a".repeat(101) },
    { ...valid[0], type: "   " },
    { ...valid[0], type: "t".repeat(101) },
    { ...valid[0], occurred_at: "2026-02-30T00:00:00Z" },
    { ...valid[0], occurred_at: "2026-05-01T09:30:00" },
    { ...valid[0], occurred_at: "yesterday" },
    { ...valid[0], quantity: 0 },
    { ...valid[0], quantity: "1.2345" },
    { ...valid[0], quantity: null },
    { ...valid[0], quantity: 1e21 },
    { ...valid[0], amount: 1 },
    { ...valid[0], metadata: null },
    { ...valid[0], metadata: [1] },
    { ...valid[0], metadata: { big: "x".repeat(2100) } },
    { ...valid[0], metadata: { big: "é".repeat(1100) } },
    { ...valid[3], amount: -1 },
    { ...valid[3], amount: 1.5 },
    { ...valid[3], amount: "5" },
    { ...valid[3], currency: undefined },
    { ...valid[3], currency: "US" },
    { ...valid[3], quantity: "1" },
    { ...valid[5], success: "yes" },
    { ...valid[5], value: -1 },
    { ...valid[5], value: null },
    { ...valid[5], currency: "dollars" },
    { ...valid[5], amount: 3 },
  ];

  it("takes every valid event without zod and builds what zod builds", () => {
    for (const raw of valid) expect(quickParse(raw), JSON.stringify(raw)).toEqual(BatchEvent.parse(raw));
  });

  it("leaves every broken event to zod", () => {
    for (const raw of broken) {
      expect(BatchEvent.safeParse(raw).success, JSON.stringify(raw)).toBe(false);
      expect(quickParse(raw), JSON.stringify(raw)).toBeUndefined();
    }
  });
});

/**
 * Invoices are written straight into the table: the invoices module is built alongside this one,
 * and closing a period only needs the invoice row (its status, customer and period).
 */
async function closePeriod(
  orgId: string,
  customerId: string,
  period: { start: string; end: string },
  status: "draft" | "open" | "paid" | "void",
  number: string | null,
) {
  const db = testCtx().db;
  const modelId = newId("bmd");
  await db.insert(billingModels).values({ id: modelId, orgId, name: `Model ${modelId}`, currentVersion: 1 });
  await db.insert(billingModelVersions).values({ modelId, version: 1, currency: "USD", components: [] });
  await db.insert(invoices).values({
    id: newId("ivc"),
    orgId,
    customerId,
    modelId,
    modelVersion: 1,
    number,
    status,
    periodStart: period.start,
    periodEnd: period.end,
    currency: "USD",
    subtotal: 1000,
    taxRateBps: 0,
    tax: 0,
    total: 1000,
    issuedAt: status === "draft" ? null : new Date(`${period.end}T00:00:00Z`),
  });
}

describe("closed invoice periods", () => {
  it("refuse events of the customer's agents before the end of the latest open or paid period, naming it", async () => {
    const owner = await signUp("evt-closed");
    const customer = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name: "Billed Co" } }), 201);
    const billed = await createAgent(owner, { name: "Billed", customer_id: customer.id });
    const unbilled = await createAgent(owner, { name: "In-house" });
    const early = { id: "early", agent_id: billed.id, kind: "activity", type: "t", occurred_at: "2026-09-10T00:00:00Z" };
    expect((await ingest(owner, [early])).accepted).toBe(1);
    await closePeriod(owner.orgId, customer.id, { start: "2026-08-01", end: "2026-09-01" }, "paid", "INV-000001");
    await closePeriod(owner.orgId, customer.id, { start: "2026-09-01", end: "2026-10-01" }, "open", "INV-000002");
    // Drafts and void invoices do not close anything.
    await closePeriod(owner.orgId, customer.id, { start: "2026-10-01", end: "2026-11-01" }, "draft", null);

    const ev = (id: string, agentId: string, occurredAt: string) => ({ id, agent_id: agentId, kind: "activity", type: "t", occurred_at: occurredAt });
    const result = await ingest(owner, [
      ev("in-closed", billed.id, "2026-09-15T12:00:00Z"),
      ev("older", billed.id, "2026-07-01T00:00:00Z"),
      ev("last-ms", billed.id, "2026-09-30T23:59:59.999Z"),
      ev("at-end", billed.id, "2026-10-01T00:00:00Z"),
      ev("draft-period", billed.id, "2026-10-15T00:00:00Z"),
      ev("other-agent", unbilled.id, "2026-09-15T12:00:00Z"),
      // A retry of an event stored before the period closed is still just a duplicate.
      early,
    ]);
    const reason = {
      path: "occurred_at",
      message:
        `Falls in a closed invoice period: customer ${customer.id} has invoice INV-000002 (open) for 2026-09-01 to 2026-10-01, ` +
        "so events of this agent before 2026-10-01T00:00:00.000Z can no longer be recorded",
    };
    expect(result).toEqual({
      accepted: 3,
      duplicates: 1,
      rejected: [
        { index: 0, errors: [reason] },
        { index: 1, errors: [reason] },
        { index: 2, errors: [reason] },
      ],
    });
    expect((await storedEvents(owner.orgId)).map((r) => r.id)).toEqual(["at-end", "draft-period", "early", "other-agent"]);

    const one = await expectProblem(
      await postOne(owner, billed.id, "costs", { id: "c", type: "t", amount: 1, currency: "USD", occurred_at: "2026-09-02T00:00:00Z" }),
      422,
    );
    expect(one.errors).toEqual([reason]);
    const retry = await expectJson<Recorded>(
      await postOne(owner, billed.id, "activities", { id: "early", type: "t", occurred_at: "2026-09-10T00:00:00Z" }),
      200,
    );
    expect(retry.status).toBe("duplicate");
  });

  it("are per customer: a void invoice closes nothing", async () => {
    const owner = await signUp("evt-void");
    const customer = await expectJson<{ id: string }>(await call("/v1/customers", { token: owner.access_token, body: { name: "Void Co" } }), 201);
    const agent = await createAgent(owner, { customer_id: customer.id });
    await closePeriod(owner.orgId, customer.id, { start: "2026-09-01", end: "2026-10-01" }, "void", "INV-000001");
    const result = await ingest(owner, [{ id: "x", agent_id: agent.id, kind: "activity", type: "t", occurred_at: "2026-09-15T00:00:00Z" }]);
    expect(result).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const [row] = await testCtx()
      .db.select()
      .from(agentEvents)
      .where(and(eq(agentEvents.orgId, owner.orgId), eq(agentEvents.id, "x")));
    expect(row?.agentId).toBe(agent.id);
  });
});

/** The SQLSTATE of a database error, which drizzle and the Neon driver nest in `cause`. */
function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

async function sqlStateOf(work: Promise<unknown>): Promise<string | undefined> {
  return work.then(
    () => "no error",
    (error: unknown) => sqlState(error),
  );
}

const eventRow = (orgId: string, agentId: string, id: string) => ({
  orgId,
  agentId,
  id,
  kind: "activity" as const,
  type: "email_sent",
  occurredAt: new Date("2026-05-01T10:00:00Z"),
});

// agent_events' references to agents are statement-level triggers, not declared foreign keys
// (migrations/0020_agent_events_statement_checks.sql): these hold them to what the keys did.
describe("an event's agent, as the database keeps it", () => {
  it("must be an agent of the event's own organisation, whoever writes the row", async () => {
    const a = await signUp("evt-fk-a");
    const b = await signUp("evt-fk-b");
    const agentOfA = await createAgent(a);
    const agentOfB = await createAgent(b);
    const db = testCtx().db;
    expect(await sqlStateOf(db.insert(agentEvents).values(eventRow(a.orgId, agentOfB.id, "theirs")))).toBe("23503");
    expect(await sqlStateOf(db.insert(agentEvents).values(eventRow(a.orgId, newId("agt"), "nobody")))).toBe("23503");
    // One bad row refuses the whole statement, the good rows with it.
    const mixed = [eventRow(a.orgId, agentOfA.id, "good"), eventRow(a.orgId, agentOfB.id, "bad")];
    expect(await sqlStateOf(db.insert(agentEvents).values(mixed))).toBe("23503");
    expect(await storedEvents(a.orgId)).toEqual([]);
    await db.insert(agentEvents).values(eventRow(a.orgId, agentOfA.id, "mine"));
    expect(await sqlStateOf(db.update(agentEvents).set({ agentId: agentOfB.id }).where(eq(agentEvents.orgId, a.orgId)))).toBe("23503");
    expect((await storedEvents(a.orgId)).map((r) => [r.id, r.agentId])).toEqual([["mine", agentOfA.id]]);
  });

  it("takes its events with it when it is deleted, or its organisation is, and keeps its id while they exist", async () => {
    const owner = await signUp("evt-fk-del");
    const [kept, dropped] = [await createAgent(owner, { name: "Kept" }), await createAgent(owner, { name: "Dropped" })];
    const at = "2026-05-01T10:00:00Z";
    const events = [kept, dropped, kept].map((agent, i) => ({ id: `del-${i}`, agent_id: agent.id, kind: "activity", type: "email_sent", occurred_at: at }));
    expect(await ingest(owner, events)).toMatchObject({ accepted: 3 });
    const db = testCtx().db;
    expect(
      await sqlStateOf(
        db
          .update(agents)
          .set({ id: newId("agt") })
          .where(eq(agents.id, kept.id)),
      ),
    ).toBe("23503");
    await db.delete(agents).where(eq(agents.id, dropped.id));
    expect((await storedEvents(owner.orgId)).map((r) => r.id)).toEqual(["del-0", "del-2"]);
    await db.delete(organizations).where(eq(organizations.id, owner.orgId));
    expect(await storedEvents(owner.orgId)).toEqual([]);
  });

  it("leaves no event behind when it is deleted while a batch naming it is being stored", async () => {
    const owner = await signUp("evt-fk-race");
    const db = testCtx().db;
    for (let round = 0; round < 3; round++) {
      const agent = await createAgent(owner, { name: `Doomed ${round}` });
      const events = Array.from({ length: 300 }, (_, i) => ({
        id: `doom-${round}-${i}`,
        agent_id: agent.id,
        kind: "activity",
        type: "x",
        occurred_at: "2026-05-01T10:00:00Z",
      }));
      const [result] = await Promise.all([ingest(owner, events), db.delete(agents).where(eq(agents.id, agent.id))]);
      // Whichever went first, the batch was stored and then deleted, or refused for its agent.
      expect(result.accepted + result.rejected.length).toBe(300);
      expect(await db.select().from(agentEvents).where(eq(agentEvents.agentId, agent.id))).toEqual([]);
    }
  });
});
