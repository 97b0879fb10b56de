import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeys, auditEvents } from "../src/db/schema";
import { sha256Hex } from "../src/lib/crypto";
import { call, expectJson, joinOrgAs, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface CreatedKey {
  id: string;
  name: string;
  key: string;
  prefix: string;
  permissions: string[];
  created_at: string;
}

interface ListedKey {
  id: string;
  name: string;
  prefix: string;
  permissions: string[];
  last_used_at: string | null;
  created_at: string;
  revoked_at: string | null;
}

async function createKey(token: string, body: { name: string; permissions?: string[] }, orgId?: string): Promise<CreatedKey> {
  return expectJson<CreatedKey>(await call("/v1/api-keys", { token, orgId, body }), 201);
}

async function listKeys(token: string, query = ""): Promise<{ data: ListedKey[]; next_cursor: string | null }> {
  return expectJson<{ data: ListedKey[]; next_cursor: string | null }>(await call(`/v1/api-keys${query}`, { token }), 200);
}

async function keyRows(orgId: string) {
  return testCtx().db.select().from(apiKeys).where(eq(apiKeys.orgId, orgId));
}

describe("creating an API key", () => {
  it("shows the secret once, stores only its hash, and the key authenticates", async () => {
    const owner = await signUp("keys-owner");
    const response = await call("/v1/api-keys", { token: owner.access_token, body: { name: "CI deploy" } });
    expect(response.status).toBe(201);
    const created = (await response.json()) as CreatedKey;
    expect(created).toEqual({
      id: expect.stringMatching(/^key_/),
      name: "CI deploy",
      key: expect.stringMatching(/^bx_[A-Za-z0-9_-]{43}$/),
      prefix: created.key.slice(0, 12),
      permissions: expect.arrayContaining(["api_keys:read", "api_keys:write", "org:delete", "audit:read"]),
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    expect(created.permissions).toEqual([...created.permissions].sort());

    const [row] = await keyRows(owner.orgId);
    expect(row).toMatchObject({ id: created.id, keyHash: await sha256Hex(created.key), prefix: created.prefix, createdBy: owner.user.id });
    expect(JSON.stringify(row)).not.toContain(created.key);

    const used = await call("/v1/api-keys", { token: created.key });
    expect(used.status).toBe(200);
    expect(((await used.json()) as { data: ListedKey[] }).data.map((k) => k.id)).toEqual([created.id]);

    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.action, "api_key.created")));
    expect(audit).toEqual([expect.objectContaining({ actorUserId: owner.user.id, targetType: "api_key", targetId: created.id })]);
    expect(JSON.stringify(audit)).not.toContain(created.key);
  });

  it("expands a wildcard into the permissions it stands for", async () => {
    const owner = await signUp("wildcard");
    const created = await createKey(owner.access_token, { name: "keys admin", permissions: ["api_keys:*"] });
    expect(created.permissions).toEqual(["api_keys:read", "api_keys:write"]);
  });

  it("refuses an unknown permission with 422 naming the entry, and creates nothing", async () => {
    const owner = await signUp("unknown-perm");
    const response = await call("/v1/api-keys", { token: owner.access_token, body: { name: "bad", permissions: ["api_keys:read", "spaceships:launch"] } });
    const problem = await expectProblem(response, 422);
    expect(problem.errors).toEqual([{ path: "permissions.1", message: "Unknown permission spaceships:launch" }]);
    const malformed = await call("/v1/api-keys", { token: owner.access_token, body: { name: "bad", permissions: ["EVERYTHING"] } });
    expect((await expectProblem(malformed, 422)).errors?.[0]?.path).toBe("permissions.0");
    expect(await keyRows(owner.orgId)).toEqual([]);
  });

  it("refuses a member without api_keys:write with 403", async () => {
    const owner = await signUp("org-with-viewer");
    const viewer = await joinOrgAs(owner, "viewer");
    const response = await call("/v1/api-keys", { token: viewer.access_token, orgId: owner.orgId, body: { name: "sneaky" } });
    expect((await expectProblem(response, 403)).detail).toBe("This needs the api_keys:write permission");
    // Reading is within a viewer's role; keys of the organisation stay untouched.
    expect((await call("/v1/api-keys", { token: viewer.access_token, orgId: owner.orgId })).status).toBe(200);
    expect(await keyRows(owner.orgId)).toEqual([]);
  });

  it("refuses a permission the creator does not hold, with 403 naming it", async () => {
    const owner = await signUp("org-with-admin");
    const admin = await joinOrgAs(owner, "admin");
    const response = await call("/v1/api-keys", { token: admin.access_token, orgId: owner.orgId, body: { name: "too much", permissions: ["*"] } });
    expect((await expectProblem(response, 403)).detail).toBe("You cannot give a key org:delete: you do not hold it in this organisation");
    expect(await keyRows(owner.orgId)).toEqual([]);

    // By default an admin's key gets what the admin holds, which leaves out deleting the organisation.
    const defaulted = await createKey(admin.access_token, { name: "admin default" }, owner.orgId);
    expect(defaulted.permissions).toContain("api_keys:write");
    expect(defaulted.permissions).not.toContain("org:delete");
  });
});

describe("API keys creating API keys", () => {
  it("a key scoped to read cannot write", async () => {
    const owner = await signUp("read-key");
    const readOnly = await createKey(owner.access_token, { name: "dashboard", permissions: ["api_keys:read"] });
    expect((await call("/v1/api-keys", { token: readOnly.key })).status).toBe(200);
    const response = await call("/v1/api-keys", { token: readOnly.key, body: { name: "escalate", permissions: ["api_keys:read"] } });
    expect((await expectProblem(response, 403)).detail).toBe("This needs the api_keys:write permission");
    expect((await keyRows(owner.orgId)).map((r) => r.id)).toEqual([readOnly.id]);
  });

  it("a key can only hand out permissions it holds itself", async () => {
    const owner = await signUp("key-makes-key");
    const keyAdmin = await createKey(owner.access_token, { name: "key admin", permissions: ["api_keys:write", "api_keys:read"] });

    const wider = await call("/v1/api-keys", { token: keyAdmin.key, body: { name: "wider", permissions: ["org:write"] } });
    expect((await expectProblem(wider, 403)).detail).toBe("You cannot give a key org:write: you do not hold it in this organisation");
    const everything = await call("/v1/api-keys", { token: keyAdmin.key, body: { name: "everything", permissions: ["*"] } });
    await expectProblem(everything, 403);

    const child = await createKey(keyAdmin.key, { name: "child" });
    expect(child.permissions).toEqual(["api_keys:read", "api_keys:write"]);
    const narrower = await createKey(keyAdmin.key, { name: "narrower", permissions: ["api_keys:read"] });
    expect(narrower.permissions).toEqual(["api_keys:read"]);
    const [row] = await testCtx().db.select().from(apiKeys).where(eq(apiKeys.id, child.id));
    expect(row?.createdBy).toBeNull();
    const [audit] = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, child.id), eq(auditEvents.action, "api_key.created")));
    expect(audit?.actorApiKeyId).toBe(keyAdmin.id);
  });
});

describe("listing API keys", () => {
  it("never shows the secret or its hash", async () => {
    const owner = await signUp("list");
    const created = await createKey(owner.access_token, { name: "reporting", permissions: ["api_keys:read"] });
    const response = await call("/v1/api-keys", { token: owner.access_token });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(await sha256Hex(created.key));
    expect(JSON.parse(text)).toEqual({
      data: [
        {
          id: created.id,
          name: "reporting",
          prefix: created.prefix,
          permissions: ["api_keys:read"],
          last_used_at: null,
          created_at: created.created_at,
          revoked_at: null,
        },
      ],
      next_cursor: null,
    });
  });

  it("pages with limit and cursor, oldest first", async () => {
    const owner = await signUp("paging");
    const ids: string[] = [];
    for (const name of ["one", "two", "three"]) ids.push((await createKey(owner.access_token, { name, permissions: ["api_keys:read"] })).id);
    const first = await listKeys(owner.access_token, "?limit=2");
    expect(first.data.map((k) => k.id)).toEqual(ids.slice(0, 2));
    expect(first.next_cursor).toBe(ids[1]);
    const second = await listKeys(owner.access_token, `?limit=2&cursor=${first.next_cursor}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: ids[2], name: "three" })], next_cursor: null });
    await expectProblem(await call("/v1/api-keys?limit=0", { token: owner.access_token }), 422);
  });

  it("records when a key was last used", async () => {
    const owner = await signUp("last-used");
    const created = await createKey(owner.access_token, { name: "cron", permissions: ["api_keys:read"] });
    expect((await listKeys(owner.access_token)).data[0]?.last_used_at).toBeNull();
    const before = Date.now();
    expect((await call("/v1/api-keys", { token: created.key })).status).toBe(200);
    // The timestamp is written after the response (waitUntil), so give it a moment to land.
    let lastUsed: string | null = null;
    for (let attempt = 0; attempt < 40 && !lastUsed; attempt++) {
      lastUsed = (await listKeys(owner.access_token)).data[0]?.last_used_at ?? null;
      if (!lastUsed) await new Promise((r) => setTimeout(r, 50));
    }
    expect(lastUsed).not.toBeNull();
    expect(Date.parse(lastUsed as string)).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe("revoking an API key", () => {
  it("makes the key answer 401 from the next request, and audits it", async () => {
    const owner = await signUp("revoke");
    const created = await createKey(owner.access_token, { name: "old", permissions: ["api_keys:read"] });
    expect((await call("/v1/api-keys", { token: created.key })).status).toBe(200);

    const response = await call(`/v1/api-keys/${created.id}`, { method: "DELETE", token: owner.access_token });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    const refused = await call("/v1/api-keys", { token: created.key });
    expect((await expectProblem(refused, 401)).detail).toBe("The API key is invalid or has been revoked");

    const [listed] = (await listKeys(owner.access_token)).data;
    expect(listed).toMatchObject({ id: created.id, revoked_at: expect.any(String) });
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, created.id), eq(auditEvents.action, "api_key.revoked")));
    expect(audit).toEqual([expect.objectContaining({ orgId: owner.orgId, actorUserId: owner.user.id })]);
  });

  it("keeps the first revocation when two race, with one audit event", async () => {
    const owner = await signUp("revoke-race");
    const created = await createKey(owner.access_token, { name: "raced", permissions: ["api_keys:read"] });
    const results = await Promise.all([1, 2, 3].map(() => call(`/v1/api-keys/${created.id}`, { method: "DELETE", token: owner.access_token })));
    expect(results.map((r) => r.status)).toEqual([204, 204, 204]);
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, created.id), eq(auditEvents.action, "api_key.revoked")));
    expect(audit).toHaveLength(1);
  });

  it("answers 404 for an unknown key", async () => {
    const owner = await signUp("revoke-unknown");
    await expectProblem(await call("/v1/api-keys/key_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", { method: "DELETE", token: owner.access_token }), 404);
  });
});

describe("API keys and organisations", () => {
  it("a key of org B cannot reach org A, nor revoke A's keys", async () => {
    const orgA = await signUp("org-a");
    const orgB = await signUp("org-b");
    const keyA = await createKey(orgA.access_token, { name: "A's key", permissions: ["api_keys:read"] });
    const keyB = await createKey(orgB.access_token, { name: "B's key" });

    await expectProblem(await call("/v1/api-keys", { token: keyB.key, orgId: orgA.orgId }), 404);
    await expectProblem(await call(`/v1/api-keys/${keyA.id}`, { method: "DELETE", token: keyB.key }), 404);
    await expectProblem(await call(`/v1/api-keys/${keyA.id}`, { method: "DELETE", token: orgB.access_token }), 404);

    const seenByB = await listKeys(keyB.key);
    expect(seenByB.data.map((k) => k.id)).toEqual([keyB.id]);
    expect((await call("/v1/api-keys", { token: keyA.key })).status).toBe(200);
    const [rowA] = await keyRows(orgA.orgId);
    expect(rowA?.revokedAt).toBeNull();
  });
});
