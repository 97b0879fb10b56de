import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, invitations, memberships, roles } from "../src/db/schema";
import { call, expectJson, joinOrgAs, type Member, type SignedUp, signUp, uniqueEmail } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface Role {
  id: string;
  name: string;
  description: string | null;
  permissions: string[];
  system: boolean;
  created_at: string | null;
  updated_at: string | null;
}

function createRole(caller: SignedUp, orgId: string, role: { name: string; description?: string; permissions: string[] }): Promise<Response> {
  return call("/v1/roles", { token: caller.access_token, orgId, body: role });
}

function changeRole(caller: SignedUp, orgId: string, userId: string, roleId: string): Promise<Response> {
  return call(`/v1/users/${userId}/change-role/${roleId}`, { method: "POST", token: caller.access_token, orgId });
}

async function roleOf(orgId: string, userId: string): Promise<string | undefined> {
  const [row] = await testCtx()
    .db.select()
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
  return row?.role;
}

describe("roles", () => {
  it("lists the four system roles, marked system, then the organisation's custom roles", async () => {
    const ada = await signUp("ada");
    const clerk = await expectJson<Role>(
      await createRole(ada, ada.orgId, { name: "Clerk", description: "Front desk", permissions: ["members:read", "api_keys:*"] }),
      201,
    );
    expect(clerk).toEqual({
      id: expect.stringMatching(/^role_/),
      name: "Clerk",
      description: "Front desk",
      permissions: ["members:read", "api_keys:*"],
      system: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });

    const list = await expectJson<{ data: Role[]; next_cursor: string | null }>(await call("/v1/roles", { token: ada.access_token }), 200);
    expect(list.data.map((r) => [r.id, r.system])).toEqual([
      ["owner", true],
      ["admin", true],
      ["member", true],
      ["viewer", true],
      [clerk.id, false],
    ]);
    expect(list.next_cursor).toBeNull();
    const [owner, admin, , viewer] = list.data;
    expect(owner?.permissions).toContain("org:delete");
    expect(admin?.permissions).not.toContain("org:delete");
    expect(viewer?.permissions).toContain("members:read");
    expect(viewer?.permissions).not.toContain("members:write");

    const page = await expectJson<{ data: Role[]; next_cursor: string | null }>(await call("/v1/roles?limit=3", { token: ada.access_token }), 200);
    expect(page).toMatchObject({ data: [{ id: "owner" }, { id: "admin" }, { id: "member" }], next_cursor: "member" });
    const rest = await expectJson<{ data: Role[]; next_cursor: string | null }>(
      await call("/v1/roles?limit=3&cursor=member", { token: ada.access_token }),
      200,
    );
    expect(rest).toMatchObject({ data: [{ id: "viewer" }, { id: clerk.id }], next_cursor: null });
  });

  it("refuses a role with an unknown permission with 422 naming the entry, and stores nothing", async () => {
    const ada = await signUp("ada");
    const response = await createRole(ada, ada.orgId, { name: "Odd", permissions: ["members:read", "teleport:now", "members:*", "*:read", "nothing:*"] });
    const problem = await expectProblem(response, 422);
    expect(problem.errors).toEqual([
      { path: "permissions.1", message: 'unknown permission "teleport:now"' },
      { path: "permissions.4", message: 'unknown permission "nothing:*"' },
    ]);
    expect(await testCtx().db.select().from(roles).where(eq(roles.orgId, ada.orgId))).toEqual([]);
  });

  it("refuses a duplicate name, whatever its case, and the name of a system role with 409", async () => {
    const ada = await signUp("ada");
    await expectJson(await createRole(ada, ada.orgId, { name: "Clerk", permissions: ["members:read"] }), 201);
    expect((await expectProblem(await createRole(ada, ada.orgId, { name: "CLERK", permissions: [] }), 409)).detail).toBe("A role named CLERK already exists");
    await expectProblem(await createRole(ada, ada.orgId, { name: "Admin", permissions: [] }), 409);
    expect(await testCtx().db.select().from(roles).where(eq(roles.orgId, ada.orgId))).toHaveLength(1);
  });

  it("lets a member whose custom role holds only roles:read list roles but not create one (403)", async () => {
    const ada = await signUp("ada");
    const reader = await expectJson<Role>(await createRole(ada, ada.orgId, { name: "Role reader", permissions: ["roles:read"] }), 201);
    const grace = await joinOrgAs(ada, reader.id, "grace");
    expect(await roleOf(ada.orgId, grace.user.id)).toBe(reader.id);

    const list = await call("/v1/roles", { token: grace.access_token, orgId: ada.orgId });
    expect((await expectJson<{ data: Role[] }>(list, 200)).data.map((r) => r.id)).toContain(reader.id);
    const create = await createRole(grace, ada.orgId, { name: "Mine", permissions: ["roles:read"] });
    expect((await expectProblem(create, 403)).detail).toBe("This needs the roles:write permission");
    await expectProblem(await call(`/v1/orgs/${ada.orgId}/members`, { token: grace.access_token, orgId: ada.orgId }), 403);

    // Changing the role changes what its holders may do at once.
    const update = await call(`/v1/roles/${reader.id}`, { method: "PUT", token: ada.access_token, body: { name: "Role editor", permissions: ["roles:*"] } });
    expect(await expectJson<Role>(update, 200)).toMatchObject({ id: reader.id, name: "Role editor", permissions: ["roles:*"] });
    expect((await createRole(grace, ada.orgId, { name: "Mine", permissions: ["roles:read"] })).status).toBe(201);
  });

  it("does not let anyone create or edit a role with rights they do not hold (403)", async () => {
    const ada = await signUp("ada");
    const admin = await joinOrgAs(ada, "admin", "admin");
    const everything = await createRole(admin, ada.orgId, { name: "Everything", permissions: ["*"] });
    expect((await expectProblem(everything, 403)).detail).toBe("You cannot grant the role Everything: it allows org:delete, which you do not hold");
    const own = await expectJson<Role>(await createRole(admin, ada.orgId, { name: "Admin-ish", permissions: ["members:*"] }), 201);
    const widened = await call(`/v1/roles/${own.id}`, {
      method: "PUT",
      token: admin.access_token,
      orgId: ada.orgId,
      body: { name: "Admin-ish", permissions: ["org:*"] },
    });
    await expectProblem(widened, 403);
    const [row] = await testCtx().db.select().from(roles).where(eq(roles.id, own.id));
    expect(row?.permissions).toEqual(["members:*"]);
  });

  it("does not change or delete system roles", async () => {
    const ada = await signUp("ada");
    const put = await call("/v1/roles/viewer", { method: "PUT", token: ada.access_token, body: { name: "Viewer", permissions: ["*"] } });
    expect((await expectProblem(put, 403)).detail).toBe("System roles cannot be changed or deleted");
    await expectProblem(await call("/v1/roles/owner", { method: "DELETE", token: ada.access_token }), 403);
  });

  it("refuses to delete a role while a member holds it (409), then deletes it and cancels invitations offering it", async () => {
    const ada = await signUp("ada");
    const clerk = await expectJson<Role>(await createRole(ada, ada.orgId, { name: "Clerk", permissions: ["members:read"] }), 201);
    const grace = await joinOrgAs(ada, clerk.id, "grace");
    await expectJson(await call(`/v1/orgs/${ada.orgId}/members`, { token: ada.access_token, body: { email: uniqueEmail("later"), role: clerk.id } }), 201);

    const refused = await call(`/v1/roles/${clerk.id}`, { method: "DELETE", token: ada.access_token });
    expect((await expectProblem(refused, 409)).detail).toBe("1 member(s) still hold the role Clerk; give them another role first");
    expect(await testCtx().db.select().from(roles).where(eq(roles.id, clerk.id))).toHaveLength(1);

    await expectJson(await changeRole(ada, ada.orgId, grace.user.id, "viewer"), 200);
    expect((await call(`/v1/roles/${clerk.id}`, { method: "DELETE", token: ada.access_token })).status).toBe(204);
    expect(await testCtx().db.select().from(roles).where(eq(roles.id, clerk.id))).toEqual([]);
    // Grace's accepted invitation stays as history; the pending one is gone.
    const offering = await testCtx().db.select().from(invitations).where(eq(invitations.role, clerk.id));
    expect(offering.map((i) => i.email)).toEqual([grace.user.email]);
    const actions = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.targetId, clerk.id)).orderBy(auditEvents.id);
    expect(actions.map((e) => e.action)).toEqual(["role.created", "role.deleted"]);
    expect(actions[1]?.metadata).toEqual({ name: "Clerk", cancelled_invitations: 1 });
  });

  it("never lets a role be deleted while it is being given to someone", async () => {
    const ada = await signUp("ada");
    const clerk = await expectJson<Role>(await createRole(ada, ada.orgId, { name: "Clerk", permissions: ["members:read"] }), 201);
    const grace = await joinOrgAs(ada, "viewer", "grace");
    const [changed, deleted] = await Promise.all([
      changeRole(ada, ada.orgId, grace.user.id, clerk.id),
      call(`/v1/roles/${clerk.id}`, { method: "DELETE", token: ada.access_token }),
    ]);
    const outcome = [changed.status, deleted.status];
    // Either the change came first and the delete was refused, or the delete came first and the role was gone.
    expect([
      [200, 409],
      [404, 204],
    ]).toContainEqual(outcome);
    const role = await roleOf(ada.orgId, grace.user.id);
    const stillThere = (await testCtx().db.select().from(roles).where(eq(roles.id, clerk.id))).length === 1;
    expect(role === clerk.id ? stillThere : role === "viewer" && !stillThere).toBe(true);
  });
});

describe("changing a member's role", () => {
  it("gives a member another role and audits the old and new role", async () => {
    const ada = await signUp("ada");
    const grace = await joinOrgAs(ada, "viewer", "grace");
    const response = await changeRole(ada, ada.orgId, grace.user.id, "admin");
    expect(await expectJson<Member>(response, 200)).toMatchObject({ user_id: grace.user.id, email: grace.user.email, role: "admin" });
    expect(await roleOf(ada.orgId, grace.user.id)).toBe("admin");
    const [event] = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, ada.orgId), eq(auditEvents.action, "member.role_changed")));
    expect(event).toMatchObject({ actorUserId: ada.user.id, targetType: "user", targetId: grace.user.id, metadata: { from: "viewer", to: "admin" } });
    // Grace's next request already has the new rights.
    expect((await call(`/v1/orgs/${ada.orgId}`, { method: "PATCH", token: grace.access_token, orgId: ada.orgId, body: { name: "By Grace" } })).status).toBe(
      200,
    );
  });

  it("accepts a custom role id of the organisation, and answers 404 for another organisation's role or a non-member", async () => {
    const ada = await signUp("ada");
    const eve = await signUp("eve");
    const evesRole = await expectJson<Role>(await createRole(eve, eve.orgId, { name: "Eve's", permissions: ["members:read"] }), 201);
    const adasRole = await expectJson<Role>(await createRole(ada, ada.orgId, { name: "Ada's", permissions: ["members:read"] }), 201);
    const grace = await joinOrgAs(ada, "viewer", "grace");

    await expectProblem(await changeRole(ada, ada.orgId, grace.user.id, evesRole.id), 404);
    await expectProblem(await changeRole(ada, ada.orgId, eve.user.id, "viewer"), 404);
    await expectProblem(await changeRole(eve, eve.orgId, grace.user.id, "viewer"), 404);
    expect(await roleOf(ada.orgId, grace.user.id)).toBe("viewer");
    expect(await expectJson<Member>(await changeRole(ada, ada.orgId, grace.user.id, adasRole.id), 200)).toMatchObject({ role: adasRole.id });
  });

  it("lets only an owner grant owner (403 for an admin)", async () => {
    const ada = await signUp("ada");
    const admin = await joinOrgAs(ada, "admin", "admin");
    const grace = await joinOrgAs(ada, "member", "grace");
    const response = await changeRole(admin, ada.orgId, grace.user.id, "owner");
    expect((await expectProblem(response, 403)).detail).toBe("Only an owner may grant the owner role");
    const self = await changeRole(admin, ada.orgId, admin.user.id, "owner");
    await expectProblem(self, 403);
    expect(await roleOf(ada.orgId, grace.user.id)).toBe("member");
    expect(await expectJson<Member>(await changeRole(ada, ada.orgId, grace.user.id, "owner"), 200)).toMatchObject({ role: "owner" });
  });

  it("refuses to demote the last owner (409)", async () => {
    const ada = await signUp("ada");
    const response = await changeRole(ada, ada.orgId, ada.user.id, "admin");
    expect((await expectProblem(response, 409)).detail).toBe("The last owner cannot be demoted; make another member owner first");
    expect(await roleOf(ada.orgId, ada.user.id)).toBe("owner");
  });

  it("leaves one owner when two owners demote each other at the same time", async () => {
    for (let round = 0; round < 3; round++) {
      const ada = await signUp("ada");
      const grace = await joinOrgAs(ada, "owner", "grace");
      const results = await Promise.all([changeRole(ada, ada.orgId, grace.user.id, "admin"), changeRole(grace, ada.orgId, ada.user.id, "admin")]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const loser = results.find((r) => r.status === 409) as Response;
      expect((await expectProblem(loser, 409)).detail).toMatch(/last owner/);
      const owners = await testCtx()
        .db.select()
        .from(memberships)
        .where(and(eq(memberships.orgId, ada.orgId), eq(memberships.role, "owner")));
      expect(owners).toHaveLength(1);
    }
  });
});

describe("a member's profile", () => {
  it("shows a member's public profile and role to those with users:read, and 404 for anyone outside the organisation", async () => {
    const ada = await signUp("ada");
    const eve = await signUp("eve");
    const grace = await joinOrgAs(ada, "viewer", "grace");
    const profile = await expectJson<Member>(await call(`/v1/users/${grace.user.id}`, { token: ada.access_token, orgId: ada.orgId }), 200);
    expect(profile).toEqual({ user_id: grace.user.id, email: grace.user.email, name: grace.user.name, role: "viewer", joined_at: expect.any(String) });
    expect(JSON.stringify(profile)).not.toMatch(/password|is_super_admin/);

    await expectProblem(await call(`/v1/users/${eve.user.id}`, { token: ada.access_token }), 404);
    await expectProblem(await call(`/v1/users/${grace.user.id}`, { token: eve.access_token }), 404);
    const byViewer = await call(`/v1/users/${ada.user.id}`, { token: grace.access_token, orgId: ada.orgId });
    expect((await expectProblem(byViewer, 403)).detail).toBe("This needs the users:read permission");
  });
});
