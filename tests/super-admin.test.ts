import { and, eq } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { auditEvents, users } from "../src/db/schema";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, fetchWithEnv, testCtx } from "./harness/helpers";

describe("platform super-admin", () => {
  it("may act in another organisation, and every such request is audited there", async () => {
    const staff = await signUp("staff");
    const customer = await signUp("customer");
    await testCtx().db.update(users).set({ isSuperAdmin: true }).where(eq(users.id, staff.user.id));

    const response = await call(`/v1/orgs/${customer.orgId}`, { token: staff.access_token, orgId: customer.orgId });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { id: string }).id).toBe(customer.orgId);

    const audited = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, customer.orgId), eq(auditEvents.action, "super_admin.accessed")));
    expect(audited).toMatchObject([{ actorUserId: staff.user.id, metadata: { method: "GET", path: `/v1/orgs/${customer.orgId}` } }]);
  });

  it("gets 404, not an error, for an organisation that does not exist", async () => {
    const staff = await signUp("staff-404");
    await testCtx().db.update(users).set({ isSuperAdmin: true }).where(eq(users.id, staff.user.id));
    const missing = "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ";
    await expectProblem(await call(`/v1/orgs/${missing}`, { token: staff.access_token, orgId: missing }), 404);
  });

  it("is a flag ordinary users do not have: their X-Org-Id of another org is a 404", async () => {
    const user = await signUp("ordinary");
    const other = await signUp("other");
    await expectProblem(await call(`/v1/orgs/${other.orgId}`, { token: user.access_token, orgId: other.orgId }), 404);
  });
});

describe("the first super-admin, from FIRST_SUPERUSER_EMAIL", () => {
  /** A password sign-in with FIRST_SUPERUSER_EMAIL set to `firstSuperuser`; returns the access token. */
  async function signInWith(person: SignedUp, firstSuperuser: string): Promise<string> {
    const request = new Request("http://api.test/v1/auth/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": uniqueIp() },
      body: JSON.stringify({ email: person.user.email, password: person.password }),
    });
    const body = await expectJson<{ access_token: string }>(await fetchWithEnv(request, { FIRST_SUPERUSER_EMAIL: firstSuperuser }), 200);
    return body.access_token;
  }
  const isSuperAdmin = async (token: string) =>
    (await expectJson<{ user: { is_super_admin: boolean } }>(await call("/v1/auth/me", { token }), 200)).user.is_super_admin;
  const proveMailbox = (person: SignedUp) => testCtx().db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, person.user.id));
  const bootstrapAudits = () => testCtx().db.select().from(auditEvents).where(eq(auditEvents.action, "super_admin.bootstrapped"));

  // This file's own database: start each case with no platform staff at all.
  beforeEach(async () => {
    await testCtx().db.update(users).set({ isSuperAdmin: false }).where(eq(users.isSuperAdmin, true));
  });

  it("is made at a sign-in of that email once its mailbox is proven, and refused once one exists", async () => {
    const operator = await signUp("operator");
    // Signing up (or in) with the address proves nothing: someone else may have typed it first.
    expect(await isSuperAdmin(await signInWith(operator, operator.user.email.toUpperCase()))).toBe(false);

    await proveMailbox(operator);
    expect(await isSuperAdmin(await signInWith(operator, operator.user.email.toUpperCase()))).toBe(true);
    expect(await bootstrapAudits()).toMatchObject([{ actorUserId: operator.user.id, targetId: operator.user.id }]);

    // The variable changed later names someone else: one super-admin exists, so nothing happens.
    const other = await signUp("other-operator");
    await proveMailbox(other);
    expect(await isSuperAdmin(await signInWith(other, other.user.email))).toBe(false);
    expect(await bootstrapAudits()).toHaveLength(1);
  });

  it("makes exactly one when sign-ins race", async () => {
    await testCtx().db.delete(auditEvents).where(eq(auditEvents.action, "super_admin.bootstrapped"));
    const operator = await signUp("racing-operator");
    await proveMailbox(operator);
    const tokens = await Promise.all([1, 2, 3, 4].map(() => signInWith(operator, operator.user.email)));
    for (const token of tokens) expect(await isSuperAdmin(token)).toBe(true);
    expect(await testCtx().db.select({ id: users.id }).from(users).where(eq(users.isSuperAdmin, true))).toEqual([{ id: operator.user.id }]);
    expect(await bootstrapAudits()).toHaveLength(1);
  });

  it("does nothing while the variable is unset", async () => {
    const person = await signUp("no-bootstrap");
    await proveMailbox(person);
    const response = await call("/v1/auth/sign-in", { body: { email: person.user.email, password: person.password } });
    expect(await isSuperAdmin((await expectJson<{ access_token: string }>(response, 200)).access_token)).toBe(false);
  });
});
