import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, invitations, memberships, messages, organizations, users } from "../src/db/schema";
import { sha256Hex } from "../src/lib/crypto";
import { call, expectJson, GOOD_PASSWORD, joinOrgAs, type Member, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { fakeResend, messageRow } from "./harness/fakes";
import { expectProblem, testCtx, testEnv } from "./harness/helpers";

interface Org {
  id: string;
  name: string;
  currency: string;
  role: string | null;
  created_at: string;
  updated_at: string;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  expires_at: string;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

function invite(owner: SignedUp, email: string, role: string): Promise<Response> {
  return call(`/v1/orgs/${owner.orgId}/members`, { token: owner.access_token, orgId: owner.orgId, body: { email, role } });
}

/** The token in the link of the invitation email, read from the outbound message log. */
async function emailedToken(invitationId: string): Promise<string> {
  const rows = await testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "invitation"), eq(messages.entityId, invitationId)));
  expect(rows).toHaveLength(1);
  const match = /\/invitations\/accept\?token=([^\s]+)/.exec(rows[0]?.body ?? "");
  if (!match?.[1]) throw new Error(`no invitation link in ${rows[0]?.body}`);
  return decodeURIComponent(match[1]);
}

function accept(person: SignedUp, token: string): Promise<Response> {
  return call("/v1/invitations/accept", { token: person.access_token, body: { token } });
}

async function members(owner: SignedUp): Promise<Member[]> {
  return (await expectJson<Page<Member>>(await call(`/v1/orgs/${owner.orgId}/members`, { token: owner.access_token, orgId: owner.orgId }), 200)).data;
}

const ownersOf = (orgId: string) =>
  testCtx()
    .db.select()
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")));

async function auditActions(orgId: string | null, targetId: string): Promise<string[]> {
  const rows = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.targetId, targetId)).orderBy(auditEvents.id);
  return rows.filter((r) => r.orgId === orgId).map((r) => r.action);
}

describe("organisations", () => {
  it("creates an organisation with the caller as owner and lists it beside their first one", async () => {
    const ada = await signUp("ada");
    const response = await call("/v1/orgs", { token: ada.access_token, body: { name: "  Ada's Second Shop ", currency: "eur" } });
    const created = await expectJson<Org>(response, 201);
    expect(created).toEqual({
      id: expect.stringMatching(/^org_/),
      name: "Ada's Second Shop",
      currency: "EUR",
      prices_include_tax: false,
      allow_negative_stock: false,
      role: "owner",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.orgId, created.id))).toEqual([
      expect.objectContaining({ userId: ada.user.id, role: "owner" }),
    ]);
    expect(await auditActions(created.id, created.id)).toEqual(["org.created"]);

    const all = await expectJson<Page<Org>>(await call("/v1/orgs", { token: ada.access_token }), 200);
    expect(all.data.map((o) => [o.id, o.role])).toEqual([
      [ada.orgId, "owner"],
      [created.id, "owner"],
    ]);
    expect(all.next_cursor).toBeNull();

    const first = await expectJson<Page<Org>>(await call("/v1/orgs?limit=1", { token: ada.access_token }), 200);
    expect(first).toEqual({ data: [expect.objectContaining({ id: ada.orgId })], next_cursor: ada.orgId });
    const second = await expectJson<Page<Org>>(await call(`/v1/orgs?limit=1&cursor=${first.next_cursor}`, { token: ada.access_token }), 200);
    expect(second).toEqual({ data: [expect.objectContaining({ id: created.id, currency: "EUR" })], next_cursor: null });
  });

  it("refuses a nameless organisation or a bad currency with 422 naming the fields", async () => {
    const ada = await signUp("ada");
    const response = await call("/v1/orgs", { token: ada.access_token, body: { name: " ", currency: "euro" } });
    expect((await expectProblem(response, 422)).errors?.map((e) => e.path).sort()).toEqual(["currency", "name"]);
  });

  it("reads and updates the active organisation, auditing what changed", async () => {
    const ada = await signUp("ada");
    const read = await expectJson<Org>(await call(`/v1/orgs/${ada.orgId}`, { token: ada.access_token }), 200);
    expect(read).toMatchObject({ id: ada.orgId, currency: "USD", role: "owner" });

    const patch = await call(`/v1/orgs/${ada.orgId}`, { method: "PATCH", token: ada.access_token, body: { name: "Ada's Bakery", currency: "GBP" } });
    expect(await expectJson<Org>(patch, 200)).toMatchObject({ id: ada.orgId, name: "Ada's Bakery", currency: "GBP" });
    const [row] = await testCtx().db.select().from(organizations).where(eq(organizations.id, ada.orgId));
    expect(row).toMatchObject({ name: "Ada's Bakery", currency: "GBP" });
    const [event] = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, ada.orgId), eq(auditEvents.action, "org.updated")));
    expect(event?.metadata).toEqual({ changes: { name: { from: read.name, to: "Ada's Bakery" }, currency: { from: "USD", to: "GBP" } } });

    const empty = await call(`/v1/orgs/${ada.orgId}`, { method: "PATCH", token: ada.access_token, body: {} });
    await expectProblem(empty, 422);
  });

  it("answers 404 to a non-member for GET, PATCH, DELETE and the members of an organisation, as if it did not exist", async () => {
    const ada = await signUp("ada");
    const eve = await signUp("eve");
    const missing = "org_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
    const attempts = (orgId: string, headerOrg?: string) => [
      call(`/v1/orgs/${orgId}`, { token: eve.access_token, orgId: headerOrg }),
      call(`/v1/orgs/${orgId}`, { method: "PATCH", token: eve.access_token, orgId: headerOrg, body: { name: "Owned by Eve" } }),
      call(`/v1/orgs/${orgId}`, { method: "DELETE", token: eve.access_token, orgId: headerOrg }),
      call(`/v1/orgs/${orgId}/members`, { token: eve.access_token, orgId: headerOrg }),
      call(`/v1/orgs/${orgId}/members`, { token: eve.access_token, orgId: headerOrg, body: { email: uniqueEmail("eve-friend"), role: "admin" } }),
      call(`/v1/orgs/${orgId}/members/${ada.user.id}`, { method: "DELETE", token: eve.access_token, orgId: headerOrg }),
      call(`/v1/orgs/${orgId}/stats`, { token: eve.access_token, orgId: headerOrg }),
    ];
    // Eve's own organisation is active (her only one), or she names Ada's with X-Org-Id.
    for (const response of [...(await Promise.all(attempts(ada.orgId))), ...(await Promise.all(attempts(ada.orgId, ada.orgId)))]) {
      const problem = await expectProblem(response, 404);
      expect(problem.detail).toBe(`organization ${ada.orgId} was not found`);
    }
    // The same answer as for an organisation that does not exist.
    for (const response of await Promise.all(attempts(missing)))
      expect((await expectProblem(response, 404)).detail).toBe(`organization ${missing} was not found`);

    const [row] = await testCtx().db.select().from(organizations).where(eq(organizations.id, ada.orgId));
    expect(row?.name).toBe("Test ada's organisation");
    expect((await members(ada)).map((m) => m.user_id)).toEqual([ada.user.id]);
    expect(await testCtx().db.select().from(invitations).where(eq(invitations.orgId, ada.orgId))).toEqual([]);
  });

  it("acts only on the active organisation: a member of two must name the one in the path with X-Org-Id", async () => {
    const ada = await signUp("ada");
    const second = await expectJson<Org>(await call("/v1/orgs", { token: ada.access_token, body: { name: "Second" } }), 201);
    const ambiguous = await call(`/v1/orgs/${second.id}`, { token: ada.access_token });
    expect((await expectProblem(ambiguous, 400)).detail).toMatch(/X-Org-Id/);
    await expectProblem(await call(`/v1/orgs/${second.id}`, { token: ada.access_token, orgId: ada.orgId }), 404);
    expect(await expectJson<Org>(await call(`/v1/orgs/${second.id}`, { token: ada.access_token, orgId: second.id }), 200)).toMatchObject({ name: "Second" });
  });

  it("lets a viewer read the organisation but refuses PATCH with 403 and changes nothing", async () => {
    const ada = await signUp("ada");
    const viewer = await joinOrgAs(ada, "viewer");
    const asViewer = { token: viewer.access_token, orgId: ada.orgId };
    expect(await expectJson<Org>(await call(`/v1/orgs/${ada.orgId}`, asViewer), 200)).toMatchObject({ id: ada.orgId, role: "viewer" });
    const response = await call(`/v1/orgs/${ada.orgId}`, { ...asViewer, method: "PATCH", body: { name: "Viewer's now" } });
    expect((await expectProblem(response, 403)).detail).toBe("This needs the org:write permission");
    const [row] = await testCtx().db.select().from(organizations).where(eq(organizations.id, ada.orgId));
    expect(row?.name).toBe("Test ada's organisation");
  });

  it("deletes the organisation with its members, roles and invitations, for owners only", async () => {
    const ada = await signUp("ada");
    const shop = await expectJson<Org>(await call("/v1/orgs", { token: ada.access_token, body: { name: "Closing down" } }), 201);
    const owner = { ...ada, orgId: shop.id };
    const admin = await joinOrgAs(owner, "admin");
    await expectJson(await call("/v1/roles", { token: ada.access_token, orgId: shop.id, body: { name: "Clerk", permissions: ["members:read"] } }), 201);
    await expectJson(await invite(owner, uniqueEmail("pending"), "member"), 201);
    // Files the organisation keeps in R2 (audio, documents), and one of Ada's other organisation.
    for (const key of ["audio/aud_1", "audio/aud_2", "assistants/ast_1/documents/doc_1"]) await testEnv.FILES.put(`orgs/${shop.id}/${key}`, "bytes");
    await testEnv.FILES.put(`orgs/${ada.orgId}/audio/aud_kept`, "bytes");

    const byAdmin = await call(`/v1/orgs/${shop.id}`, { method: "DELETE", token: admin.access_token, orgId: shop.id });
    expect((await expectProblem(byAdmin, 403)).detail).toBe("This needs the org:delete permission");

    const response = await call(`/v1/orgs/${shop.id}`, { method: "DELETE", token: ada.access_token, orgId: shop.id });
    expect(response.status).toBe(204);
    await expectProblem(await call(`/v1/orgs/${shop.id}`, { token: ada.access_token, orgId: shop.id }), 404);
    const db = testCtx().db;
    expect(await db.select().from(organizations).where(eq(organizations.id, shop.id))).toEqual([]);
    expect(await db.select().from(memberships).where(eq(memberships.orgId, shop.id))).toEqual([]);
    expect(await db.select().from(invitations).where(eq(invitations.orgId, shop.id))).toEqual([]);
    // The deletion is recorded outside the organisation, so the record survives the cascade.
    expect(await auditActions(null, shop.id)).toEqual(["org.deleted"]);
    // Ada keeps her first organisation.
    expect((await expectJson<Page<Org>>(await call("/v1/orgs", { token: ada.access_token }), 200)).data.map((o) => o.id)).toEqual([ada.orgId]);
    // Its files leave R2 just after the response; the other organisation's stay.
    await expect.poll(async () => (await testEnv.FILES.list({ prefix: `orgs/${shop.id}/` })).objects.length).toBe(0);
    expect((await testEnv.FILES.list({ prefix: `orgs/${ada.orgId}/` })).objects.map((o) => o.key)).toEqual([`orgs/${ada.orgId}/audio/aud_kept`]);
  });

  it("counts members, pending invitations, API keys and custom roles", async () => {
    const ada = await signUp("ada");
    await joinOrgAs(ada, "member");
    await expectJson(await invite(ada, uniqueEmail("pending"), "viewer"), 201);
    await expectJson(await call("/v1/roles", { token: ada.access_token, body: { name: "Clerk", permissions: ["members:read"] } }), 201);
    const stats = await call(`/v1/orgs/${ada.orgId}/stats`, { token: ada.access_token });
    expect(await expectJson(stats, 200)).toEqual({ members: 2, pending_invitations: 1, api_keys: 0, custom_roles: 1 });
  });
});

describe("invitations", () => {
  it("emails a single-use link; the invited user accepts it and is listed as a member", async () => {
    const ada = await signUp("ada");
    const grace = await signUp("grace");
    const invitation = await expectJson<Invitation>(await invite(ada, grace.user.email.toUpperCase(), "admin"), 201);
    expect(invitation).toEqual({ id: expect.stringMatching(/^inv_/), email: grace.user.email.toUpperCase(), role: "admin", expires_at: expect.any(String) });
    const days = (Date.parse(invitation.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const [message] = await testCtx().db.select().from(messages).where(eq(messages.entityId, invitation.id));
    expect(message).toMatchObject({ orgId: ada.orgId, channel: "email", recipient: grace.user.email.toUpperCase(), entityType: "invitation" });
    expect(message?.body).toContain("https://app.billx.test/invitations/accept?token=");
    const token = await emailedToken(invitation.id);
    const [row] = await testCtx().db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row?.tokenHash).toBe(await sha256Hex(token));
    expect(JSON.stringify(row)).not.toContain(token);

    const joined = await expectJson<Org>(await accept(grace, token), 200);
    expect(joined).toMatchObject({ id: ada.orgId, role: "admin" });
    expect((await members(ada)).map((m) => [m.user_id, m.role]).sort()).toEqual(
      [
        [ada.user.id, "owner"],
        [grace.user.id, "admin"],
      ].sort(),
    );
    // Grace now works in Ada's organisation by naming it.
    expect((await call(`/v1/orgs/${ada.orgId}/members`, { token: grace.access_token, orgId: ada.orgId })).status).toBe(200);
    expect(await auditActions(ada.orgId, invitation.id)).toEqual(["member.invited"]);
    expect(await auditActions(ada.orgId, grace.user.id)).toEqual(["member.joined"]);
  });

  it("refuses acceptance by a signed-in user with another email (403) and the invitation stays usable", async () => {
    const ada = await signUp("ada");
    const grace = await signUp("grace");
    const mallory = await signUp("mallory");
    const invitation = await expectJson<Invitation>(await invite(ada, grace.user.email, "member"), 201);
    const token = await emailedToken(invitation.id);
    const response = await accept(mallory, token);
    expect((await expectProblem(response, 403)).detail).toMatch(/another email address/);
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.userId, mallory.user.id))).toHaveLength(1);
    expect((await accept(grace, token)).status).toBe(200);
  });

  it("works once, even when two accepts race", async () => {
    const ada = await signUp("ada");
    const grace = await signUp("grace");
    const invitation = await expectJson<Invitation>(await invite(ada, grace.user.email, "member"), 201);
    const token = await emailedToken(invitation.id);
    const results = await Promise.all([accept(grace, token), accept(grace, token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const again = await accept(grace, token);
    expect((await expectProblem(again, 409)).detail).toBe("This invitation has already been used");
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.orgId, ada.orgId))).toHaveLength(2);
  });

  it("refuses an unknown or expired token", async () => {
    const ada = await signUp("ada");
    const grace = await signUp("grace");
    await expectProblem(await accept(grace, "not-a-real-token"), 404);
    const invitation = await expectJson<Invitation>(await invite(ada, grace.user.email, "member"), 201);
    await testCtx()
      .db.update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, invitation.id));
    expect((await expectProblem(await accept(grace, await emailedToken(invitation.id)), 409)).detail).toMatch(/expired/);
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.orgId, ada.orgId))).toHaveLength(1);
  });

  it("answers 409 to inviting someone who is already a member, whatever the email's case", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "member", "grace");
    const response = await invite(ada, grace.user.email.toUpperCase(), "admin");
    expect((await expectProblem(response, 409)).detail).toMatch(/already a member/);
  });

  it("replaces a pending invitation when the same address is invited again", async () => {
    const ada = await signUp("ada");
    const grace = await signUp("grace");
    const first = await expectJson<Invitation>(await invite(ada, grace.user.email, "viewer"), 201);
    const firstToken = await emailedToken(first.id);
    const second = await expectJson<Invitation>(await invite(ada, grace.user.email, "member"), 201);
    await expectProblem(await accept(grace, firstToken), 404);
    expect(await expectJson<Org>(await accept(grace, await emailedToken(second.id)), 200)).toMatchObject({ role: "member" });
  });

  it("refuses an unknown role with 422, and an admin granting owner with 403", async () => {
    const ada = await signUp("ada");
    const admin = await joinOrgAs(ada, "admin");
    expect((await expectProblem(await invite(ada, uniqueEmail(), "emperor"), 422)).errors).toEqual([
      { path: "role", message: "no role emperor in this organisation" },
    ]);
    const response = await call(`/v1/orgs/${ada.orgId}/members`, {
      token: admin.access_token,
      orgId: ada.orgId,
      body: { email: uniqueEmail(), role: "owner" },
    });
    expect((await expectProblem(response, 403)).detail).toBe("Only an owner may grant the owner role");
    expect(await testCtx().db.select().from(invitations).where(eq(invitations.orgId, ada.orgId))).toHaveLength(1);
  });

  it("lets someone who signs up after being invited accept with the emailed link", async () => {
    const ada = await signUp("ada");
    const email = uniqueEmail("newcomer");
    const invitation = await expectJson<Invitation>(await invite(ada, email, "viewer"), 201);
    const signedUp = await expectJson<{ access_token: string }>(
      await call("/v1/auth/sign-up", { body: { email, password: GOOD_PASSWORD, name: "Newcomer" } }),
      201,
    );
    const joined = await call("/v1/invitations/accept", { token: signedUp.access_token, body: { token: await emailedToken(invitation.id) } });
    expect(await expectJson<Org>(joined, 200)).toMatchObject({ id: ada.orgId, role: "viewer" });
  });
});

describe("removing members", () => {
  it("removes a member, who loses access at once", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "member", "grace");
    const response = await call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: ada.access_token });
    expect(response.status).toBe(204);
    expect((await members(ada)).map((m) => m.user_id)).toEqual([ada.user.id]);
    await expectProblem(await call(`/v1/orgs/${ada.orgId}`, { token: grace.access_token, orgId: ada.orgId }), 404);
    expect(await auditActions(ada.orgId, grace.user.id)).toEqual(["member.joined", "member.removed"]);
    await expectProblem(await call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: ada.access_token }), 404);
  });

  it("stops a removed member's access token, refresh token and API keys at once, and nobody else's", async () => {
    const ada = await signUp("revoke-owner");
    const grace = await joinOrgAs(ada, "admin", "revoke-admin");
    const createKey = async (person: SignedUp, name: string) =>
      expectJson<{ id: string; key: string }>(await call("/v1/api-keys", { token: person.access_token, orgId: ada.orgId, body: { name } }), 201);
    const graceKey = await createKey(grace, "Grace's sync");
    const adaKey = await createKey(ada, "Ada's sync");
    const readOrg = (token: string) => call(`/v1/orgs/${ada.orgId}`, { token, orgId: ada.orgId });
    const listKeys = (key: string) => call("/v1/api-keys", { token: key });
    expect((await readOrg(grace.access_token)).status).toBe(200);
    expect((await listKeys(graceKey.key)).status).toBe(200);

    expect((await call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: ada.access_token })).status).toBe(204);

    // The very next requests, with no wait: each credential of hers is refused in this organisation.
    await expectProblem(await readOrg(grace.access_token), 404);
    expect((await expectProblem(await listKeys(graceKey.key), 401)).detail).toBe("The API key is invalid or has been revoked");
    const refreshed = await expectJson<{ access_token: string }>(await call("/v1/auth/refresh", { body: { refresh_token: grace.refresh_token } }), 200);
    await expectProblem(await readOrg(refreshed.access_token), 404);
    // She keeps her own account and organisation; the owner's key keeps working.
    expect((await call(`/v1/orgs/${grace.orgId}`, { token: refreshed.access_token, orgId: grace.orgId })).status).toBe(200);
    const keys = await expectJson<Page<{ id: string; revoked_at: string | null }>>(await listKeys(adaKey.key), 200);
    expect(keys.data.find((k) => k.id === graceKey.id)?.revoked_at).toEqual(expect.any(String));
    expect(keys.data.find((k) => k.id === adaKey.id)?.revoked_at).toBeNull();
    expect(await auditActions(ada.orgId, graceKey.id)).toEqual(["api_key.created", "api_key.revoked"]);
  });

  it("never removes the last owner (409)", async () => {
    const ada = await signUp("ada");
    const response = await call(`/v1/orgs/${ada.orgId}/members/${ada.user.id}`, { method: "DELETE", token: ada.access_token });
    expect((await expectProblem(response, 409)).detail).toBe("The last owner cannot be removed; make another member owner first");
    expect(await testCtx().db.select().from(memberships).where(eq(memberships.orgId, ada.orgId))).toEqual([
      expect.objectContaining({ userId: ada.user.id, role: "owner" }),
    ]);
  });

  it("leaves one owner when two owners remove each other at the same time", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "owner", "grace");
    const results = await Promise.all([
      call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: ada.access_token, orgId: ada.orgId }),
      call(`/v1/orgs/${ada.orgId}/members/${ada.user.id}`, { method: "DELETE", token: grace.access_token, orgId: ada.orgId }),
    ]);
    // The loser either saw itself removed already (404 on auth) or that it would remove the last owner.
    const statuses = results.map((r) => r.status).sort();
    expect(statuses[0]).toBe(204);
    expect([404, 409]).toContain(statuses[1]);
    const owners = await ownersOf(ada.orgId);
    expect(owners).toHaveLength(1);
  });

  it("leaves one owner when one owner demotes the other while being removed by them", async () => {
    for (let round = 0; round < 3; round++) {
      const ada = await signUp("ada");
      const grace = await joinOrgAs(ada, "owner", "grace");
      const results = await Promise.all([
        call(`/v1/users/${grace.user.id}/change-role/admin`, { method: "POST", token: ada.access_token, orgId: ada.orgId }),
        call(`/v1/orgs/${ada.orgId}/members/${ada.user.id}`, { method: "DELETE", token: grace.access_token, orgId: ada.orgId }),
      ]);
      // Whoever goes second finds itself no longer an owner (403) or no longer a member (404).
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const owners = await ownersOf(ada.orgId);
      expect(owners).toHaveLength(1);
    }
  });

  it("does not let an admin remove an owner (403)", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "owner", "grace");
    const admin = await joinOrgAs(ada, "admin");
    const response = await call(`/v1/orgs/${ada.orgId}/members/${grace.user.id}`, { method: "DELETE", token: admin.access_token, orgId: ada.orgId });
    expect((await expectProblem(response, 403)).detail).toBe("Only an owner may change or remove an owner");
    expect((await members(ada)).map((m) => m.role).sort()).toEqual(["admin", "owner", "owner"]);
  });
});

describe("plan limits", () => {
  interface PlanProblem {
    type: string;
    detail: string;
    plan: string;
    limit: string;
    allowed: number;
  }

  it("lists every plan publicly with what it gives, written from its credits and limits", async () => {
    const { data } = await expectJson<{
      data: { id: string; monthly_credits: number; limits: { organisations: number; members: number }; features: string[] }[];
    }>(await call("/v1/plans"), 200);
    expect(data.map((p) => p.id)).toEqual(["free", "basic", "pro"]);
    const free = data[0]!;
    expect(free).toMatchObject({ monthly_credits: 1000, support: "community", limits: { organisations: 3, members: 5, phone_numbers: 1 } });
    expect(free.features).toEqual([
      "1,000 credits a month",
      "Every paid feature (AI, voice, ask your data, messaging), charged in credits",
      "Own up to 3 organisations",
      "Up to 5 members per organisation",
      "1 phone number for your assistants",
      "Community support",
    ]);
  });

  it("shows the active organisation's plan and the places its members take", async () => {
    const owner = await signUp("plan-view");
    await expectJson(await invite(owner, uniqueEmail("plan-view-guest"), "viewer"), 201);
    const plan = await expectJson<{ plan: { id: string }; subscription: unknown; usage: { members: number } }>(
      await call("/v1/org/plan", { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(plan).toMatchObject({ plan: { id: "free", limits: { members: 5 } }, subscription: null, usage: { members: 2 } });
  });

  it("lets a person on the free plan own three organisations and answers 403 naming the plan for a fourth", async () => {
    const ada = await signUp("plan-orgs");
    for (const name of ["Second", "Third"]) await expectJson(await call("/v1/orgs", { token: ada.access_token, body: { name } }), 201);
    const refused = await call("/v1/orgs", { token: ada.access_token, body: { name: "Fourth" } });
    const problem = (await expectProblem(refused, 403)) as unknown as PlanProblem;
    expect(problem).toMatchObject({ type: "https://billx.dev/problems/plan-limit", plan: "free", limit: "organisations", allowed: 3 });
    expect(problem.detail).toContain("Free plan");
    const owned = await testCtx()
      .db.select()
      .from(memberships)
      .where(and(eq(memberships.userId, ada.user.id), eq(memberships.role, "owner")));
    expect(owned).toHaveLength(3);
  });

  it("creates exactly two more organisations when eight creations race", async () => {
    const ada = await signUp("plan-orgs-race");
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => call("/v1/orgs", { token: ada.access_token, body: { name: `Race ${i}` } })));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 201, 403, 403, 403, 403, 403, 403]);
    const owned = await testCtx()
      .db.select()
      .from(memberships)
      .where(and(eq(memberships.userId, ada.user.id), eq(memberships.role, "owner")));
    expect(owned).toHaveLength(3);
  });

  it("counts pending invitations against the members limit, but not the one a new invitation replaces", async () => {
    const owner = await signUp("plan-seats");
    const emails = Array.from({ length: 4 }, (_, i) => uniqueEmail(`plan-seat-${i}`));
    for (const email of emails) await expectJson(await invite(owner, email, "viewer"), 201);
    const problem = (await expectProblem(await invite(owner, uniqueEmail("plan-seat-extra"), "viewer"), 403)) as unknown as PlanProblem;
    expect(problem).toMatchObject({ plan: "free", limit: "members", allowed: 5 });
    // Inviting the same address again replaces its invitation: no new place is taken.
    await expectJson(await invite(owner, emails[0]!, "admin"), 201);
    const pending = await testCtx().db.select().from(invitations).where(eq(invitations.orgId, owner.orgId));
    expect(pending).toHaveLength(4);
  });

  it("takes exactly the places left when ten invitations race", async () => {
    const owner = await signUp("plan-seats-race");
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => invite(owner, uniqueEmail(`plan-race-${i}`), "viewer")));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(4);
    expect(responses.filter((r) => r.status === 403)).toHaveLength(6);
    const pending = await testCtx().db.select().from(invitations).where(eq(invitations.orgId, owner.orgId));
    expect(pending).toHaveLength(4);
  });
});

describe("changing a user's name", () => {
  const rename = (caller: SignedUp, userId: string, body: unknown, orgId?: string) =>
    call(`/v1/users/${userId}`, { method: "PATCH", token: caller.access_token, orgId, body });
  const nameOf = async (userId: string) => (await testCtx().db.select({ name: users.name }).from(users).where(eq(users.id, userId)))[0]?.name;

  it("lets a user change their own name, trimmed, and answers the user", async () => {
    const ada = await signUp("rename-self");
    const renamed = await expectJson(await rename(ada, ada.user.id, { name: "  Ada King  " }), 200);
    expect(renamed).toEqual({ id: ada.user.id, email: ada.user.email, name: "Ada King" });
    expect(await expectJson(await call("/v1/auth/me", { token: ada.access_token }), 200)).toMatchObject({ user: { name: "Ada King" } });
    expect(await auditActions(null, ada.user.id)).toContain("user.renamed");
    const docs = await expectJson<{ paths: Record<string, Record<string, { requestBody?: unknown }>> }>(await call("/openapi.json"), 200);
    expect(JSON.stringify(docs.paths["/v1/users/{user_id}"]?.patch?.requestBody)).toContain("RenameUserRequest");
  });

  it("lets an admin rename a member of their organisation, but not an owner, and a member nobody", async () => {
    const ada = await signUp("rename-owner");
    const admin = await joinOrgAs(ada, "admin", "rename-admin");
    const grace = await joinOrgAs(ada, "member", "rename-member");
    const renamed = await expectJson(await rename(admin, grace.user.id, { name: "Grace B. Hopper" }, ada.orgId), 200);
    expect(renamed).toMatchObject({ id: grace.user.id, name: "Grace B. Hopper" });
    const profile = await expectJson<Member>(await call(`/v1/users/${grace.user.id}`, { token: ada.access_token, orgId: ada.orgId }), 200);
    expect(profile.name).toBe("Grace B. Hopper");
    expect(await auditActions(ada.orgId, grace.user.id)).toContain("user.renamed");

    await expectProblem(await rename(admin, ada.user.id, { name: "Not Ada" }, ada.orgId), 403);
    await expectProblem(await rename(grace, admin.user.id, { name: "Not the admin" }, ada.orgId), 403);
    expect(await nameOf(ada.user.id)).toBe(ada.user.name);
    expect(await nameOf(admin.user.id)).toBe(admin.user.name);
  });

  it("answers 404 to anyone outside the user's organisations, exactly as for an unknown user", async () => {
    const ada = await signUp("rename-target");
    const eve = await signUp("rename-outsider");
    // Eve owns her own organisation: members:write there says nothing about Ada.
    const stranger = await expectProblem(await rename(eve, ada.user.id, { name: "Hijacked" }, eve.orgId), 404);
    const unknown = await expectProblem(await rename(eve, "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", { name: "Hijacked" }, eve.orgId), 404);
    expect({ ...stranger, detail: "", request_id: "" }).toEqual({ ...unknown, detail: "", request_id: "" });
    expect(stranger.detail).toBe(unknown.detail?.replace("usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", ada.user.id));
    expect(await nameOf(ada.user.id)).toBe(ada.user.name);
  });

  it("refuses an empty, overlong or NUL-bearing name with 422 on name, and keeps the old one", async () => {
    const ada = await signUp("rename-422");
    for (const name of ["   ", "x".repeat(121), "Ada\u0000King", 42]) {
      const problem = await expectProblem(await rename(ada, ada.user.id, { name }), 422);
      expect(problem.errors).toEqual([expect.objectContaining({ path: "name" })]);
    }
    await expectProblem(await rename(ada, ada.user.id, {}), 422);
    expect(await nameOf(ada.user.id)).toBe(ada.user.name);
    expect(await expectJson(await rename(ada, ada.user.id, { name: "x".repeat(120) }), 200)).toMatchObject({ name: "x".repeat(120) });
  });
});

async function welcomesOf(userId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "user"), eq(messages.entityId, userId)));
}

describe("welcome messages", () => {
  it("welcome a new account with exactly one email, even when the address signs up again", async () => {
    const account = await signUp("welcome-signup");
    const again = await call("/v1/auth/sign-up", { body: { email: account.user.email, password: GOOD_PASSWORD, name: "Twice" } });
    expect(again.status).toBe(409);

    const welcomes = await welcomesOf(account.user.id);
    expect(welcomes).toMatchObject([{ orgId: null, channel: "email", recipient: account.user.email, subject: "Welcome to Billx" }]);
    expect(welcomes[0]?.body).toContain(`Hello ${account.user.name}`);
    await expect.poll(async () => (await messageRow(welcomes[0]?.id ?? ""))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect((await fakeResend.emails(account.user.email)).map((m) => m.subject)).toEqual(["Welcome to Billx"]);
  });

  it("welcome a member who accepted an invitation, naming the organisation they joined", async () => {
    const owner = await signUp("welcome-owner");
    const member = await joinOrgAs(owner, "member", "welcome-member");

    const joined = (await welcomesOf(member.user.id)).filter((m) => m.orgId === owner.orgId);
    expect(joined).toHaveLength(1);
    expect(joined[0]?.subject).toBe("Welcome to Test welcome-owner's organisation on Billx");
    expect(joined[0]?.body).toContain("you are now a member of Test welcome-owner's organisation");
    await expect.poll(async () => (await messageRow(joined[0]?.id ?? ""))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect((await fakeResend.emails(member.user.email)).map((m) => m.subject)).toContain(joined[0]?.subject);
  });
});
