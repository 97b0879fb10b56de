import { describe, expect, inject, it } from "vitest";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, fakeOpenAI } from "./harness/helpers";

const tag = Math.floor(Math.random() * 0xffffff).toString(16);
const readerUrl = inject("chinookReaderUrl");

interface Tool {
  id: string;
  name: string;
  sql: string;
  parameter_order: string[];
  usage: { credits: number } | null;
}

interface ToolResult {
  columns: { name: string }[];
  rows: unknown[][];
  row_count: number;
}

const BY_COUNTRY = {
  name: "customers_by_country",
  description: "Customers of a country",
  sql: "SELECT first_name, last_name FROM customer WHERE country = $1 ORDER BY customer_id LIMIT $2",
  parameters: {
    type: "object",
    properties: { country: { type: "string", minLength: 2 }, limit: { type: "integer", minimum: 1, maximum: 50 } },
    required: ["country", "limit"],
  },
};

async function linkChinook(owner: SignedUp): Promise<string> {
  return (await expectJson<{ id: string }>(await call("/v1/databases", { token: owner.access_token, body: { name: "Chinook", url: readerUrl } }), 201)).id;
}

function createTool(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/tools", { token: who.access_token, orgId: who.orgId, body });
}

function execute(who: SignedUp, id: string, params: Record<string, unknown>): Promise<Response> {
  return call(`/v1/tools/${id}/execute`, { token: who.access_token, orgId: who.orgId, body: { params } });
}

describe("SQL tools", () => {
  it("runs a template with validated parameters bound as values, never as SQL", async () => {
    const owner = await signUp("tools-run");
    const database_id = await linkChinook(owner);
    const tool = await expectJson<Tool>(await createTool(owner, { database_id, ...BY_COUNTRY }), 201);
    expect(tool).toMatchObject({ name: "customers_by_country", parameter_order: ["country", "limit"], usage: null });

    const result = await expectJson<ToolResult>(await execute(owner, tool.id, { country: "Brazil", limit: 2 }), 200);
    expect(result).toMatchObject({
      row_count: 2,
      rows: [
        ["Luís", "Gonçalves"],
        ["Eduardo", "Martins"],
      ],
    });
    expect(result.columns.map((c) => c.name)).toEqual(["first_name", "last_name"]);

    // An injection attempt is just a country nobody lives in.
    const injected = await expectJson<ToolResult>(await execute(owner, tool.id, { country: "Brazil' OR '1'='1", limit: 50 }), 200);
    expect(injected.row_count).toBe(0);
  });

  it("refuses parameters that do not fit the schema, naming each", async () => {
    const owner = await signUp("tools-params");
    const database_id = await linkChinook(owner);
    const tool = await expectJson<Tool>(await createTool(owner, { database_id, ...BY_COUNTRY }), 201);
    const wrongType = await expectProblem(await execute(owner, tool.id, { country: "Brazil", limit: "5; DROP TABLE customer" }), 422);
    expect(wrongType.errors?.map((e) => e.path)).toContain("params.limit");
    const missing = await expectProblem(await execute(owner, tool.id, { limit: 5 }), 422);
    expect(missing.errors?.length).toBeGreaterThan(0);
    await expectProblem(await execute(owner, tool.id, { country: "Brazil", limit: 500 }), 422);
    await expectProblem(await execute(owner, tool.id, { country: "Brazil", limit: 5, extra: 1 }), 422);
  });

  it("refuses templates the guard refuses, placeholders without parameters, and a duplicate name", async () => {
    const owner = await signUp("tools-refuse");
    const database_id = await linkChinook(owner);
    const drop = await expectProblem(
      await createTool(owner, {
        database_id,
        name: "wipe",
        description: "x",
        sql: "DELETE FROM customer WHERE country = $1",
        parameters: BY_COUNTRY.parameters,
      }),
      422,
    );
    expect(drop.errors?.[0]?.path).toBe("sql");
    const mismatch = await expectProblem(
      await createTool(owner, {
        database_id,
        name: "one_param",
        description: "x",
        sql: "SELECT * FROM customer WHERE country = $1 LIMIT $3",
        parameters: BY_COUNTRY.parameters,
      }),
      422,
    );
    expect(mismatch.errors?.map((e) => e.message).join(" ")).toContain("$2");
    await expectProblem(await createTool(owner, { database_id, name: "both", description: "x", sql: "SELECT 1", prompt: "one" }), 422);
    await expectProblem(await createTool(owner, { database_id, name: "Bad Name", description: "x", sql: "SELECT 1" }), 422);
    await expectJson(await createTool(owner, { database_id, ...BY_COUNTRY }), 201);
    await expectProblem(await createTool(owner, { database_id, ...BY_COUNTRY }), 409);
  });

  it("has the model write a tool from a prompt, charged in credits", async () => {
    const owner = await signUp("tools-prompt");
    const database_id = await linkChinook(owner);
    const model = `sql-tools-${tag}`;
    await fakeOpenAI.script(model, [
      {
        tool_calls: [
          {
            name: "define_sql_tool",
            arguments: {
              sql: "SELECT count(*)::int AS tracks FROM track WHERE genre_id = $1",
              parameters: { type: "object", properties: { genre_id: { type: "integer" } }, required: ["genre_id"] },
            },
          },
        ],
      },
    ]);
    const tool = await expectJson<Tool>(
      await createTool(owner, { database_id, name: "tracks_in_genre", description: "Tracks in a genre", prompt: "Count tracks of a genre", model }),
      201,
    );
    expect(tool.parameter_order).toEqual(["genre_id"]);
    expect(tool.usage?.credits).toBeGreaterThan(0);
    const sent = JSON.stringify((await fakeOpenAI.requests(model))[0]?.body.messages);
    expect(sent).toContain("CREATE TABLE public.track");
    expect(await expectJson<ToolResult>(await execute(owner, tool.id, { genre_id: 1 }), 200)).toMatchObject({ rows: [[1297]] });
  });

  it("keeps tools to their organisation and their permissions, and deletes them", async () => {
    const owner = await signUp("tools-access");
    const database_id = await linkChinook(owner);
    const tool = await expectJson<Tool>(await createTool(owner, { database_id, ...BY_COUNTRY }), 201);
    const stranger = await signUp("tools-stranger");
    await expectProblem(await execute(stranger, tool.id, { country: "Brazil", limit: 1 }), 404);
    await expectProblem(await call(`/v1/tools/${tool.id}`, { token: stranger.access_token }), 404);

    const viewer = { ...(await joinOrgAs(owner, "viewer", "tools-viewer")), orgId: owner.orgId };
    const listed = await expectJson<{ data: Tool[] }>(await call("/v1/tools", { token: viewer.access_token, orgId: owner.orgId }), 200);
    expect(listed.data.map((t) => t.id)).toEqual([tool.id]);
    await expectProblem(await createTool(viewer, { database_id, ...BY_COUNTRY, name: "viewer_tool" }), 403);
    await expectProblem(await execute(viewer, tool.id, { country: "Brazil", limit: 1 }), 403);

    expect((await call(`/v1/tools/${tool.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);
    await expectProblem(await execute(owner, tool.id, { country: "Brazil", limit: 1 }), 404);
  });
});
