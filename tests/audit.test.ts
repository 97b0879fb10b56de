import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface AuditEvent {
  id: string;
  action: string;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
}

interface EventPage {
  data: AuditEvent[];
  next_cursor: string | null;
}

function events(caller: SignedUp, query = "", orgId?: string): Promise<Response> {
  return call(`/v1/audit-events${query}`, { token: caller.access_token, orgId });
}

describe("audit events", () => {
  it("show a role change with its old and new role, newest first", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "viewer", "grace");
    const ip = "203.0.113.7";
    const changed = await call(`/v1/users/${grace.user.id}/change-role/member`, { method: "POST", token: ada.access_token, ip });
    expect(changed.status).toBe(200);

    const page = await expectJson<EventPage>(await events(ada), 200);
    expect(page.data[0]).toEqual({
      id: expect.stringMatching(/^aud_/),
      action: "member.role_changed",
      actor_user_id: ada.user.id,
      actor_api_key_id: null,
      target_type: "user",
      target_id: grace.user.id,
      ip,
      metadata: { from: "viewer", to: "member" },
      created_at: expect.any(String),
    });
    const ids = page.data.map((e) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect(page.data.map((e) => e.action)).toEqual(["member.role_changed", "member.joined", "member.invited", "user.signed_up"]);
  });

  it("record the organisation, member and role lifecycle, filterable by action and paged by cursor", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "viewer", "grace");
    await expectJson(await call(`/v1/orgs/${ada.orgId}`, { method: "PATCH", token: ada.access_token, body: { name: "Renamed" } }), 200);
    const role = await expectJson<{ id: string }>(
      await call("/v1/roles", { token: ada.access_token, body: { name: "Clerk", permissions: ["members:read"] } }),
      201,
    );
    await expectJson(await call(`/v1/roles/${role.id}`, { method: "PUT", token: ada.access_token, body: { name: "Clerk", permissions: ["members:*"] } }), 200);
    expect((await call(`/v1/roles/${role.id}`, { method: "DELETE", token: ada.access_token })).status).toBe(204);
    expect((await call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: ada.access_token })).status).toBe(204);

    const all = await expectJson<EventPage>(await events(ada, "?limit=100"), 200);
    expect(all.data.map((e) => e.action).reverse()).toEqual([
      "user.signed_up",
      "member.invited",
      "member.joined",
      "org.updated",
      "role.created",
      "role.updated",
      "role.deleted",
      "member.removed",
    ]);

    const filtered = await expectJson<EventPage>(await events(ada, "?action=role.updated"), 200);
    expect(filtered.data).toHaveLength(1);
    expect(filtered.data[0]?.metadata).toEqual({
      before: { name: "Clerk", permissions: ["members:read"] },
      after: { name: "Clerk", permissions: ["members:*"] },
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: EventPage = await expectJson<EventPage>(await events(ada, `?limit=3${cursor ? `&cursor=${cursor}` : ""}`), 200);
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((e) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.data.map((e) => e.id));
  });

  it("records the creation of an organisation in that organisation", async () => {
    const ada = await signUp("ada");
    const org = await expectJson<{ id: string }>(await call("/v1/orgs", { token: ada.access_token, body: { name: "Second" } }), 201);
    const page = await expectJson<EventPage>(await events(ada, "", org.id), 200);
    expect(page.data.map((e) => [e.action, e.target_id])).toEqual([["org.created", org.id]]);
  });

  it("of org A are invisible to org B", async () => {
    const ada = await signUp("ada");
    const eve = await signUp("eve");
    const grace = await joinOrgAs(ada, "viewer", "grace");
    await expectJson(await call(`/v1/users/${grace.user.id}/change-role/member`, { method: "POST", token: ada.access_token }), 200);

    const evesOwn = await expectJson<EventPage>(await events(eve, "?limit=100"), 200);
    expect(evesOwn.data.map((e) => e.action)).toEqual(["user.signed_up"]);
    expect(JSON.stringify(evesOwn)).not.toContain(ada.user.id);
    expect(JSON.stringify(evesOwn)).not.toContain(grace.user.id);
    await expectProblem(await events(eve, "", ada.orgId), 404);
    // A's newest event as a cursor does not open A's history to B either.
    const adas = await expectJson<EventPage>(await events(ada), 200);
    const viaCursor = await expectJson<EventPage>(await events(eve, `?cursor=${adas.data[0]?.id}`), 200);
    expect(viaCursor.data.every((e) => !adas.data.some((a) => a.id === e.id))).toBe(true);
  });

  it("need audit:read: members and viewers get 403", async () => {
    const ada = await signUp("ada");
    const member = await joinOrgAs(ada, "member", "member");
    const response = await events(member, "", ada.orgId);
    expect((await expectProblem(response, 403)).detail).toBe("This needs the audit:read permission");
    await expectProblem(await events(ada, "?limit=0"), 422);
  });

  it("are written for invitations without the token in them", async () => {
    const ada = await signUp("ada");
    const email = uniqueEmail("invitee");
    const invited = await expectJson<{ id: string }>(
      await call(`/v1/orgs/${ada.orgId}/members`, { token: ada.access_token, body: { email, role: "member" } }),
      201,
    );
    const [message] = await testCtx().db.select().from(messages).where(eq(messages.entityId, invited.id));
    const token = /token=([^\s]+)/.exec(message?.body ?? "")?.[1] as string;
    const page = await expectJson<EventPage>(await events(ada, "?action=member.invited"), 200);
    expect(page.data).toEqual([expect.objectContaining({ target_type: "invitation", target_id: invited.id, metadata: { email, role: "member" } })]);
    expect(JSON.stringify(page)).not.toContain(token);
  });
});
