import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, users } from "../src/db/schema";
import { call, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

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
