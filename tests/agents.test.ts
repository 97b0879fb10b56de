import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agents, auditEvents } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Agent {
  id: string;
  name: string;
  description: string | null;
  external_id: string | null;
  customer_id: string | null;
  metadata: Record<string, unknown>;
  status: string;
  created_at: string;
  updated_at: string;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

function postAgent(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/agents", { token: who.access_token, orgId: who.orgId, body });
}

async function createAgent(who: SignedUp, body: Record<string, unknown>): Promise<Agent> {
  return expectJson<Agent>(await postAgent(who, body), 201);
}

async function createCustomer(who: SignedUp, name = "Asha Traders"): Promise<{ id: string }> {
  return expectJson(await call("/v1/customers", { token: who.access_token, orgId: who.orgId, body: { name } }), 201);
}

async function listAgents(who: SignedUp, query = ""): Promise<Page<Agent>> {
  return expectJson<Page<Agent>>(await call(`/v1/agents${query}`, { token: who.access_token, orgId: who.orgId }), 200);
}

function patchAgent(who: SignedUp, id: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/agents/${id}`, { method: "PATCH", token: who.access_token, orgId: who.orgId, body });
}

describe("adding an agent", () => {
  it("answers the agent with its defaults, stores it in the organisation and audits it", async () => {
    const owner = await signUp("agt-create");
    const customer = await createCustomer(owner);
    const created = await createAgent(owner, {
      name: "  Support triage bot ",
      description: "Answers first-line emails",
      external_id: "bot-eu-1",
      customer_id: customer.id,
      metadata: { region: "eu", tier: 2 },
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^agt_/),
      name: "Support triage bot",
      description: "Answers first-line emails",
      external_id: "bot-eu-1",
      customer_id: customer.id,
      metadata: { region: "eu", tier: 2 },
      status: "active",
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const [row] = await testCtx().db.select().from(agents).where(eq(agents.id, created.id));
    expect(row).toMatchObject({ orgId: owner.orgId, customerId: customer.id, externalId: "bot-eu-1", status: "active" });
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.targetId, created.id)));
    expect(audit.map((a) => a.action)).toEqual(["agent.created"]);
  });

  it("needs only a name, and may start paused", async () => {
    const owner = await signUp("agt-minimal");
    const created = await createAgent(owner, { name: "Night shift", status: "paused" });
    expect(created).toMatchObject({ description: null, external_id: null, customer_id: null, metadata: {}, status: "paused" });
  });

  it("refuses an external id another agent of the organisation has, but not one of another organisation", async () => {
    const owner = await signUp("agt-ext");
    const other = await signUp("agt-ext-other");
    await createAgent(owner, { name: "First", external_id: "bot-1" });
    const problem = await expectProblem(await postAgent(owner, { name: "Second", external_id: "bot-1" }), 409);
    expect(problem.detail).toContain("bot-1");
    await createAgent(other, { name: "Elsewhere", external_id: "bot-1" });
    expect((await listAgents(owner)).data.map((a) => a.name)).toEqual(["First"]);
  });

  it("refuses a customer of another organisation, an unknown one and an archived one with 422 on customer_id", async () => {
    const owner = await signUp("agt-cus");
    const other = await signUp("agt-cus-other");
    const foreign = await createCustomer(other, "Not yours");
    const archived = await createCustomer(owner, "Gone");
    expect((await call(`/v1/customers/${archived.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    for (const customerId of [foreign.id, "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZZZ", archived.id]) {
      const problem = await expectProblem(await postAgent(owner, { name: "Bot", customer_id: customerId }), 422);
      expect(problem.errors).toEqual([{ path: "customer_id", message: expect.stringContaining(customerId) }]);
    }
    expect((await listAgents(owner)).data).toEqual([]);
  });

  it("refuses bad fields with their paths", async () => {
    const owner = await signUp("agt-bad");
    const problem = await expectProblem(await postAgent(owner, { name: " ", status: "sleeping", metadata: { blob: "x".repeat(9000) }, external_id: "" }), 422);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(["external_id", "metadata", "name", "status"]);
    const notObject = await expectProblem(await postAgent(owner, { name: "Bot", metadata: ["a"] }), 422);
    expect(notObject.errors?.map((e) => e.path)).toEqual(["metadata"]);
  });

  it("needs agents:write: a viewer may list but not add", async () => {
    const owner = await signUp("agt-perm");
    const viewer = await joinOrgAs(owner, "viewer");
    // The viewer also has an organisation of their own, so they name the owner's.
    const asViewer = { ...viewer, orgId: owner.orgId };
    await expectProblem(await postAgent(asViewer, { name: "Bot" }), 403);
    await createAgent(owner, { name: "Bot" });
    expect((await listAgents(asViewer)).data.map((a) => a.name)).toEqual(["Bot"]);
  });
});

describe("listing agents", () => {
  it("searches name and external id, filters by status and customer, hides archived agents unless asked, and pages", async () => {
    const owner = await signUp("agt-list");
    const customer = await createCustomer(owner);
    const support = await createAgent(owner, { name: "Support bot", external_id: "crm-7", customer_id: customer.id });
    const sales = await createAgent(owner, { name: "Sales bot", external_id: "SUPPORT-legacy", status: "paused" });
    const old = await createAgent(owner, { name: "Old support bot" });
    expect((await call(`/v1/agents/${old.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);

    expect((await listAgents(owner)).data.map((a) => a.id)).toEqual([support.id, sales.id]);
    expect((await listAgents(owner, "?q=support")).data.map((a) => a.id)).toEqual([support.id, sales.id]);
    expect((await listAgents(owner, "?q=crm")).data.map((a) => a.id)).toEqual([support.id]);
    expect((await listAgents(owner, "?q=50%25")).data).toEqual([]);
    expect((await listAgents(owner, "?status=paused")).data.map((a) => a.id)).toEqual([sales.id]);
    expect((await listAgents(owner, "?status=archived")).data.map((a) => a.id)).toEqual([old.id]);
    expect((await listAgents(owner, `?customer_id=${customer.id}`)).data.map((a) => a.id)).toEqual([support.id]);

    const first = await listAgents(owner, "?limit=1");
    expect(first.data.map((a) => a.id)).toEqual([support.id]);
    expect(first.next_cursor).toBe(support.id);
    const second = await listAgents(owner, `?limit=1&cursor=${first.next_cursor}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: sales.id })], next_cursor: null });
  });
});

describe("changing and archiving an agent", () => {
  it("changes the given fields, clears nulls, and audits", async () => {
    const owner = await signUp("agt-patch");
    const customer = await createCustomer(owner);
    const agent = await createAgent(owner, { name: "Bot", description: "old", external_id: "x-1", customer_id: customer.id, metadata: { a: 1 } });
    const updated = await expectJson<Agent>(
      await patchAgent(owner, agent.id, { name: "Better bot", description: null, customer_id: null, metadata: { b: 2 }, status: "paused" }),
      200,
    );
    expect(updated).toMatchObject({ name: "Better bot", description: null, external_id: "x-1", customer_id: null, metadata: { b: 2 }, status: "paused" });
    const [row] = await testCtx().db.select().from(agents).where(eq(agents.id, agent.id));
    expect(row).toMatchObject({ name: "Better bot", description: null, customerId: null, metadata: { b: 2 }, status: "paused" });
    const audit = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.targetId, agent.id));
    expect(audit.map((a) => a.action).sort()).toEqual(["agent.created", "agent.updated"]);
  });

  it("refuses a taken external id (409) and a foreign customer (422), leaving the agent as it was", async () => {
    const owner = await signUp("agt-patch-bad");
    const other = await signUp("agt-patch-bad-other");
    const foreign = await createCustomer(other);
    await createAgent(owner, { name: "One", external_id: "taken" });
    const agent = await createAgent(owner, { name: "Two", external_id: "mine" });
    await expectProblem(await patchAgent(owner, agent.id, { external_id: "taken" }), 409);
    const problem = await expectProblem(await patchAgent(owner, agent.id, { customer_id: foreign.id }), 422);
    expect(problem.errors?.[0]?.path).toBe("customer_id");
    const fetched = await expectJson<Agent>(await call(`/v1/agents/${agent.id}`, { token: owner.access_token }), 200);
    expect(fetched).toMatchObject({ external_id: "mine", customer_id: null });
    await expectProblem(await patchAgent(owner, "agt_01JD3X6W6X8Q3M1B0V4T2Y9ZZZ", { name: "x" }), 404);
  });

  it("archives with DELETE: 204, still readable, twice is fine, and an unknown id is 404", async () => {
    const owner = await signUp("agt-archive");
    const agent = await createAgent(owner, { name: "Bot" });
    const remove = () => call(`/v1/agents/${agent.id}`, { method: "DELETE", token: owner.access_token });
    expect((await remove()).status).toBe(204);
    expect((await remove()).status).toBe(204);
    const fetched = await expectJson<Agent>(await call(`/v1/agents/${agent.id}`, { token: owner.access_token }), 200);
    expect(fetched.status).toBe("archived");
    const audit = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.targetId, agent.id));
    expect(audit.filter((a) => a.action === "agent.archived")).toHaveLength(1);
    await expectProblem(await call("/v1/agents/agt_01JD3X6W6X8Q3M1B0V4T2Y9ZZZ", { method: "DELETE", token: owner.access_token }), 404);
    const back = await expectJson<Agent>(await patchAgent(owner, agent.id, { status: "active" }), 200);
    expect(back.status).toBe("active");
  });
});

describe("agents of another organisation", () => {
  it("are invisible and untouchable", async () => {
    const a = await signUp("agt-iso-a");
    const b = await signUp("agt-iso-b");
    const agent = await createAgent(a, { name: "A's bot", external_id: "a-1" });
    await expectProblem(await call(`/v1/agents/${agent.id}`, { token: b.access_token }), 404);
    await expectProblem(await patchAgent(b, agent.id, { name: "mine now" }), 404);
    await expectProblem(await call(`/v1/agents/${agent.id}`, { method: "DELETE", token: b.access_token }), 404);
    await expectProblem(await call(`/v1/agents/${agent.id}/stats`, { token: b.access_token }), 404);
    expect((await listAgents(b, "?q=a-1")).data).toEqual([]);
    const [row] = await testCtx().db.select().from(agents).where(eq(agents.id, agent.id));
    expect(row).toMatchObject({ name: "A's bot", status: "active" });
  });
});
