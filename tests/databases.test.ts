import { eq } from "drizzle-orm";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { linkedDatabases } from "../src/db/schema";
import { parseKeyRing, seal } from "../src/lib/secret-box";
import { withLinkedDatabase } from "../src/modules/data/databases/connection";
import { runReadOnly } from "../src/modules/data/databases/execute";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const readerUrl = inject("chinookReaderUrl");
const ownerUrl = inject("chinookOwnerUrl");
const READER_PASSWORD = new URL(readerUrl).password;

interface Linked {
  id: string;
  name: string;
  host: string;
  database: string;
  table_count: number;
  role_can_write: boolean;
  warnings: string[];
  tables?: {
    schema: string;
    name: string;
    columns: { name: string }[];
    primary_key: string[];
    foreign_keys: { columns: string[]; references: { table: string } }[];
  }[];
}

function link(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/databases", { token: who.access_token, orgId: who.orgId, body: { name: "Chinook", url: readerUrl, ...body } });
}

const limits = { timeoutMs: 2000, maxRows: 1000, maxBytes: 1_000_000, searchPath: "public" };

afterEach(() => {
  vi.restoreAllMocks();
});

describe("linking a database", () => {
  it("connects, reads the schema, and shows host and database but never the URL", async () => {
    const logged: string[] = [];
    for (const method of ["log", "info", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      });
    }
    const owner = await signUp("db-link");
    const response = await link(owner, {});
    const text = await response.clone().text();
    const linked = await expectJson<Linked>(response, 201);
    expect(linked).toMatchObject({ name: "Chinook", host: "127.0.0.1", database: "sample_chinook", table_count: 11, role_can_write: false, warnings: [] });
    expect(text).not.toContain(READER_PASSWORD);

    const detail = await call(`/v1/databases/${linked.id}`, { token: owner.access_token });
    const detailText = await detail.clone().text();
    const withTables = await expectJson<Linked>(detail, 200);
    expect(detailText).not.toContain(READER_PASSWORD);
    const invoiceLine = withTables.tables?.find((t) => t.name === "invoice_line");
    expect(invoiceLine?.primary_key).toEqual(["invoice_line_id"]);
    expect(invoiceLine?.columns.map((c) => c.name)).toContain("unit_price");
    expect(invoiceLine?.foreign_keys.map((f) => f.references.table).sort()).toEqual(["invoice", "track"]);

    const [row] = await testCtx().db.select().from(linkedDatabases).where(eq(linkedDatabases.id, linked.id));
    expect(row?.keyId).toBe("test2");
    expect(row?.urlSealed).not.toContain(READER_PASSWORD);
    expect(row?.urlSealed).not.toContain("chinook_reader");
    expect(logged.join("\n")).not.toContain(READER_PASSWORD);
  });

  it("warns when the linked role can write", async () => {
    const owner = await signUp("db-link-writer");
    const linked = await expectJson<Linked>(await link(owner, { url: ownerUrl }), 201);
    expect(linked.role_can_write).toBe(true);
    expect(linked.warnings[0]).toContain("read-only role");
  });

  it("keeps only the allowed tables, and refuses allow-lists naming what does not exist", async () => {
    const owner = await signUp("db-link-allow");
    const linked = await expectJson<Linked>(await link(owner, { allowed_tables: ["public.invoice", "public.customer"] }), 201);
    expect(linked.table_count).toBe(2);
    const problem = await expectProblem(await link(owner, { name: "Typo", allowed_tables: ["public.invoices"] }), 422);
    expect(problem.errors?.map((e) => e.path)).toEqual(["allowed_tables.0"]);
    await expectProblem(await link(owner, { name: "Typo 2", allowed_schemas: ["sales"] }), 422);
  });

  it("refuses URLs it cannot use, without repeating the password", async () => {
    const owner = await signUp("db-link-bad");
    await expectProblem(await link(owner, { url: "mysql://u:p@example.com/db" }), 422);
    await expectProblem(await link(owner, { url: "not a url" }), 422);
    const wrong = new URL(readerUrl);
    wrong.password = "wrong-password-31337";
    const response = await link(owner, { url: wrong.toString() });
    const text = await response.clone().text();
    const problem = await expectProblem(response, 422);
    expect(problem.errors?.[0]?.message).toContain("Could not connect");
    expect(text).not.toContain("wrong-password-31337");
    expect(await testCtx().db.select().from(linkedDatabases).where(eq(linkedDatabases.orgId, owner.orgId))).toEqual([]);
  });

  it("refuses a duplicate name, lists, unlinks, and hides databases from other organisations", async () => {
    const owner = await signUp("db-link-crud");
    const linked = await expectJson<Linked>(await link(owner, {}), 201);
    await expectProblem(await link(owner, { name: "chinook" }), 409);
    const list = await expectJson<{ data: Linked[] }>(await call("/v1/databases", { token: owner.access_token }), 200);
    expect(list.data.map((d) => d.id)).toEqual([linked.id]);

    const stranger = await signUp("db-link-stranger");
    await expectProblem(await call(`/v1/databases/${linked.id}`, { token: stranger.access_token }), 404);
    await expectProblem(await call(`/v1/databases/${linked.id}`, { method: "DELETE", token: stranger.access_token }), 404);
    const viewer = { ...(await joinOrgAs(owner, "viewer", "db-viewer")), orgId: owner.orgId };
    await expectJson(await call(`/v1/databases/${linked.id}`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectProblem(await call(`/v1/databases/${linked.id}`, { method: "DELETE", token: viewer.access_token, orgId: owner.orgId }), 403);

    const deleted = await call(`/v1/databases/${linked.id}`, { method: "DELETE", token: owner.access_token });
    expect(deleted.status).toBe(204);
    await expectProblem(await call(`/v1/databases/${linked.id}`, { token: owner.access_token }), 404);
  });

  it("still opens a URL sealed with the previous key after rotation", async () => {
    const owner = await signUp("db-link-rotate");
    const linked = await expectJson<Linked>(await link(owner, { allowed_tables: ["public.artist"] }), 201);
    const oldRing = parseKeyRing("test1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE");
    if (typeof oldRing === "string") throw new Error(oldRing);
    const { sealed, keyId } = await seal(oldRing, readerUrl, `linked_database:${owner.orgId}:${linked.id}`);
    await testCtx().db.update(linkedDatabases).set({ urlSealed: sealed, keyId }).where(eq(linkedDatabases.id, linked.id));
    const refreshed = await expectJson<Linked>(await call(`/v1/databases/${linked.id}/refresh-schema`, { token: owner.access_token, body: {} }), 200);
    expect(refreshed.table_count).toBe(1);

    // A sealed URL copied onto another row does not open there.
    const other = await expectJson<Linked>(await link(owner, { name: "Copy" }), 201);
    await testCtx().db.update(linkedDatabases).set({ urlSealed: sealed, keyId }).where(eq(linkedDatabases.id, other.id));
    const moved = await call(`/v1/databases/${other.id}/refresh-schema`, { token: owner.access_token, body: {} });
    expect(moved.status).toBe(500);
  });
});

describe("read-only execution", () => {
  it("returns columns and rows, and caps rows and bytes with truncated", async () => {
    const result = await withLinkedDatabase(readerUrl, (sql) =>
      runReadOnly(sql, "select artist_id, name from artist order by artist_id", [], { ...limits, maxRows: 5 }, () => Date.now()),
    );
    expect(result.columns.map((c) => c.name)).toEqual(["artist_id", "name"]);
    expect(result.rows).toHaveLength(5);
    expect(result.rows[0]).toEqual([1, "AC/DC"]);
    expect(result).toMatchObject({ row_count: 5, truncated: true });

    const small = await withLinkedDatabase(readerUrl, (sql) =>
      runReadOnly(sql, "select name from track order by track_id", [], { ...limits, maxBytes: 2000 }, () => Date.now()),
    );
    expect(small.truncated).toBe(true);
    expect(JSON.stringify(small.rows).length).toBeLessThanOrEqual(2000);

    const all = await withLinkedDatabase(readerUrl, (sql) =>
      runReadOnly(sql, "select count(*)::int from invoice_line where invoice_id = $1", [1], limits, () => Date.now()),
    );
    expect(all).toMatchObject({ rows: [[2]], truncated: false, row_count: 1 });
  });

  it("refuses writes even as a role that could write, and stops a slow statement", async () => {
    await expect(
      withLinkedDatabase(ownerUrl, (sql) => runReadOnly(sql, "delete from invoice_line where invoice_line_id = 1 returning 1", [], limits, () => Date.now())),
    ).rejects.toThrow(/read-only transaction/);
    const [count] = await withLinkedDatabase(ownerUrl, (sql) => sql.unsafe("select count(*)::int as n from invoice_line where invoice_line_id = 1"));
    expect(count?.n).toBe(1);
    await expect(
      withLinkedDatabase(readerUrl, (sql) => runReadOnly(sql, "select pg_sleep(3)", [], { ...limits, timeoutMs: 300 }, () => Date.now())),
    ).rejects.toThrow(/statement timeout/);
  });
});
