import { SELF } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { inputProblemOf } from "../src/db/input-problems";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, testCtx, testEnv } from "./harness/helpers";
import { prng, type Rng } from "./harness/prng";

/**
 * Walks every operation of /openapi.json and sends it malformed input: wrong types, missing and
 * extra fields, huge strings, deep nesting, unicode and NUL, numbers past 2^53 and 2^63, impossible
 * dates, bad JSON, the wrong content type, malformed ids, odd headers. The server must never answer
 * 5xx (bar a 503 naming an unconfigured provider), every error must be problem+json, and a rejected
 * write must leave the organisation's rows as they were. `npm run fuzz` runs a longer, reseeded run.
 */

const vars = testEnv as unknown as Record<string, string | undefined>;
const REQUESTS = Number(vars.FUZZ_REQUESTS ?? "") || 600;
const SEED = Number(vars.FUZZ_SEED ?? "") || 20_2026;

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  example?: unknown;
  format?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  $ref?: string;
}
interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  schema?: Schema;
}
interface SpecOperation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema: Schema }> };
}
interface Spec {
  paths: Record<string, Record<string, SpecOperation>>;
  components?: { schemas?: Record<string, Schema> };
}
interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: { contentType: string; schema: Schema };
}

const BAD_IDS = [
  "%00",
  "x%00y",
  "cus_%00",
  "not-an-id",
  "0",
  "-1",
  "1e309",
  "null",
  "%E2%9C%93",
  "..%2F..%2Fetc",
  "%F0%9F%92%A9",
  `bill_${"Z".repeat(26)}`,
  "a".repeat(300),
  "'%20OR%201=1--",
  "%C0%AF",
];
const BAD_QUERY = [
  "",
  "%00",
  "a%00b",
  "-1",
  "0",
  "99999999999999999999",
  "1e309",
  "NaN",
  "true",
  "[]",
  "%FF",
  "2026-02-30",
  "9999-99-99",
  "%F0%9F%92%A9%F0%9F",
  "x".repeat(3000),
];
const HUGE = "x".repeat(40_000);
const WEIRD_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\uFFFF",
  "\uD800",
  "\u{1F4A9}".repeat(50),
  "'; DROP TABLE customers; --",
  "<script>alert(1)</script>",
  "\u202Eevil",
  HUGE,
  "2026-02-30T25:61:00Z",
  "+275760-09-13T00:00:00.001Z",
  "0000-00-00",
  "9".repeat(400),
];
const WEIRD_NUMBERS = [2 ** 53, -(2 ** 63), 1e308, -1e308, -1, 0, 0.5, 1e-320];
/** Numbers a double cannot hold exactly: written into the JSON text as they are (see `raw`). */
const EXACT_NUMBERS = ["9007199254740993", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "1e400", "123456789012345678901234567890"];
const RAW = /"__raw:([^"]+)__"/g;
/** JSON text where each `__raw:N__` marker string becomes the bare number N. */
function raw(value: unknown): string {
  return JSON.stringify(value).replace(RAW, "$1");
}
const ODD_HEADERS: Record<string, string>[] = [
  { "X-Org-Id": "org_00000000000000000000000000" },
  { "X-Org-Id": "x".repeat(500) },
  { "X-Org-Id": "' OR 1=1" },
  { "Idempotency-Key": "k".repeat(1000) },
  { "Idempotency-Key": "" },
  { "Idempotency-Key": "  key with spaces %00 " },
  { Authorization: "Bearer not.a.jwt" },
  { Authorization: "Basic Zm9vOmJhcg==" },
  { Authorization: `Bearer ${"a".repeat(5000)}` },
  { Authorization: "Bearer bx_live_0000000000000000" },
];

/** Operations that would end the session the run relies on, whatever their input. */
const SKIP = /\/(?:sign-out|logout)\b/;

function resolve(spec: Spec, schema: Schema | undefined, depth = 0): Schema {
  if (!schema || depth > 8) return {};
  if (schema.$ref) return resolve(spec, spec.components?.schemas?.[schema.$ref.split("/").pop() ?? ""], depth + 1);
  return schema;
}

function operationsOf(spec: Spec): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method) || SKIP.test(path)) continue;
      const content = op.requestBody?.content;
      const contentType = content ? Object.keys(content)[0] : undefined;
      out.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []).map((p) => ({ ...p, schema: resolve(spec, p.schema) })),
        body: contentType && content ? { contentType, schema: resolve(spec, content[contentType]?.schema) } : undefined,
      });
    }
  }
  return out;
}

/** A plausible value from the schema's example or type, the base each mutation spoils. */
function plausible(spec: Spec, raw: Schema | undefined, rng: Rng, depth = 0): unknown {
  const schema = resolve(spec, raw);
  if (schema.example !== undefined) return schema.example;
  if (schema.enum) return rng.pick(schema.enum);
  const variant = schema.anyOf ?? schema.oneOf;
  if (variant?.length) return plausible(spec, rng.pick(variant), rng, depth + 1);
  if (schema.allOf?.length) return plausible(spec, schema.allOf[0], rng, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (depth > 5) return null;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) out[key] = plausible(spec, value, rng, depth + 1);
      return out;
    }
    case "array":
      return [plausible(spec, schema.items, rng, depth + 1)];
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return true;
    default:
      return "text";
  }
}

function weird(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.pick(WEIRD_STRINGS),
    () => rng.pick(WEIRD_NUMBERS),
    () => `__raw:${rng.pick(EXACT_NUMBERS)}__`,
    () => rng.pick([null, true, false, [], {}, [null], { "": "\u0000" }]),
    () => deepNest(rng.pick([20, 60, 200])),
    () => Array.from({ length: 2000 }, () => 1),
  ])();
}

function deepNest(levels: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** Spoils a body: one field's type, a missing or extra field, or the whole body. */
function spoil(body: unknown, rng: Rng): unknown {
  if (rng.chance(0.1) || body === null || typeof body !== "object") return weird(rng);
  const copy = structuredClone(body) as Record<string, unknown>;
  const keys = Object.keys(copy);
  const moves = rng.int(0, 2) + 1;
  for (let i = 0; i < moves; i++) {
    const key = keys.length ? rng.pick(keys) : "x";
    const move = rng.int(0, 3);
    if (move === 0) delete copy[key];
    else if (move === 1) copy[`extra_${rng.int(0, 999)}`] = weird(rng);
    else if (move === 2 && copy[key] && typeof copy[key] === "object") copy[key] = spoil(copy[key], rng);
    else copy[key] = weird(rng);
  }
  return copy;
}

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

function build(spec: Spec, op: Operation, who: SignedUp, rng: Rng): Sent {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const param = op.parameters.find((p) => p.in === "path" && p.name === name);
    const example = param?.schema?.example;
    // Mostly malformed ids; now and then a well-formed one that belongs to nobody.
    if (typeof example === "string" && rng.chance(0.2)) return example;
    return rng.pick(BAD_IDS);
  });
  const query = op.parameters
    .filter((p) => p.in === "query")
    .filter(() => rng.chance(0.6))
    .map((p) => `${encodeURIComponent(p.name)}=${rng.chance(0.8) ? rng.pick(BAD_QUERY) : encodeURIComponent(String(p.schema?.example ?? "1"))}`);
  if (rng.chance(0.2)) query.push(`${rng.pick(["x", "%00", "limit", "cursor"])}=${rng.pick(BAD_QUERY)}`);
  const headers: Record<string, string> = { "CF-Connecting-IP": uniqueIp(), Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId };
  if (rng.chance(0.2)) Object.assign(headers, rng.pick(ODD_HEADERS));
  let body: string | undefined;
  if (op.method !== "GET" && op.method !== "DELETE") {
    const kind = rng.int(0, 9);
    if (kind === 0) {
      headers["Content-Type"] = "application/json";
      body = rng.pick([
        "{",
        "[1,",
        '{"a":}',
        "nul",
        '{"a":"\\ud800"}',
        "\u0000",
        '{"a":1e99999}',
        `{"a":${"[".repeat(10_000)}`,
        `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`,
      ]);
    } else if (kind === 1) {
      headers["Content-Type"] = rng.pick([
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=latin1",
      ]);
      body = rng.pick(["a=1&b=%00", '--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--x--\r\n', "<a/>", "{}"]);
    } else {
      headers["Content-Type"] = "application/json";
      const base = op.body?.contentType.includes("json") ? plausible(spec, op.body.schema, rng) : {};
      body = raw(spoil(base, rng));
    }
  }
  return { method: op.method, url: `http://api.test${path}${query.length ? `?${query.join("&")}` : ""}`, headers, body };
}

/**
 * A digest of every row of the organisation's own tables, so a rejected write that changed any of
 * them shows. Tables that record attempts by design (audit, rate limits, idempotency) stay out.
 */
const ATTEMPT_TABLES = /^(?:audit_logs?|rate_limits?|idempotency\w*|sessions|refresh_tokens|api_usage\w*)$/;
/** Rows the queue consumers advance in the background (a message's status), whatever request is running. */
const BACKGROUND_TABLES = /^messages$/;
async function orgTables(): Promise<string[]> {
  const result = (await testCtx().db.execute(
    sql`SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'org_id' ORDER BY table_name`,
  )) as unknown as { rows: { table_name: string }[] };
  return result.rows.map((r) => r.table_name).filter((name) => !ATTEMPT_TABLES.test(name) && !BACKGROUND_TABLES.test(name));
}
async function digest(tables: string[], orgId: string): Promise<Record<string, string>> {
  const parts = tables.map(
    (t) => sql`SELECT ${t} AS t, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d FROM ${sql.identifier(t)} x WHERE org_id = ${orgId}`,
  );
  const result = (await testCtx().db.execute(sql.join(parts, sql` UNION ALL `))) as unknown as { rows: { t: string; d: string }[] };
  return Object.fromEntries(result.rows.map((r) => [r.t, r.d]));
}

/**
 * Is `status` allowed: below 500, a 503 that names the provider variable to set, or a 502 when a
 * well-formed request reached a provider whose answer was unusable: the fake models answer
 * unscripted prompts with stock text (e.g. `POST /v1/ai/sql` "The model did not answer with SQL").
 * That is the upstream's fault, reported as such, not the client's input.
 */
function acceptable(status: number, body: string): boolean {
  if (status < 500) return true;
  return (status === 503 && body.includes("/provider-unavailable")) || (status === 502 && body.includes("/bad-gateway"));
}

describe("fuzz over /openapi.json", () => {
  it(`never answers 5xx nor changes rows on a rejected request (seed ${SEED}, ${REQUESTS} requests)`, { timeout: 60_000 + REQUESTS * 100 }, async () => {
    console.log(`fuzz: seed=${SEED} requests=${REQUESTS} (rerun with FUZZ_SEED=${SEED} npm run fuzz)`);
    const rng = prng(SEED);
    // One owner per few hundred requests: per-user rate limits would otherwise answer most of a long run with 429.
    const owners: SignedUp[] = [];
    for (let n = 0; n < Math.ceil(REQUESTS / 300); n++) owners.push(await signUp("fuzz"));
    const spec = (await (await call("/openapi.json")).json()) as Spec;
    const operations = operationsOf(spec);
    expect(operations.length).toBeGreaterThan(100);
    const tables = await orgTables();

    const failures: string[] = [];
    const statuses: Record<number, number> = {};
    for (let i = 0; i < REQUESTS; i++) {
      // Every operation once in order, then at random.
      const op = i < operations.length ? operations[i]! : rng.pick(operations);
      const owner = owners[i % owners.length]!;
      const sent = build(spec, op, owner, rng);
      // Taken just before the write: reads may create rows lazily (the default sales flow), and
      // earlier requests' background work (waitUntil) may still be landing.
      const before = sent.method === "GET" ? undefined : await digest(tables, owner.orgId);
      const response = await SELF.fetch(sent.url, { method: sent.method, headers: sent.headers, body: sent.body });
      const text = await response.text();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      const label = `${sent.method} ${sent.url.slice(15, 200)} [${(sent.body ?? "").slice(0, 120)}] -> ${response.status}`;
      if (!acceptable(response.status, text)) failures.push(`${label} ${text.slice(0, 300)}`);
      if (response.status >= 400 && response.headers.get("content-type") !== "application/problem+json") failures.push(`${label} not problem+json`);
      // A provider's failure (502/503) releases its credit hold, which leaves a released reservation.
      if (!before || response.status < 400 || response.status >= 500) continue;
      const after = await digest(tables, owner.orgId);
      {
        const changed = tables.filter((t) => before[t] !== after[t]);
        if (changed.length > 0) failures.push(`${label} changed ${changed.join(", ")}: ${text.slice(0, 300)}`);
      }
    }
    console.log(`fuzz: ${operations.length} operations, statuses ${JSON.stringify(statuses)}`);
    expect(failures, failures.slice(0, 30).join("\n")).toEqual([]);
    expect((await SELF.fetch("http://api.test/healthz")).status).toBe(200);
    for (const owner of owners) expect((await call("/v1/auth/me", { token: owner.access_token })).status).toBe(200);
  });
});

describe("bad input is refused before Postgres", () => {
  it("answers a NUL in a path id with 404, in the query or a JSON string with 422 naming the field", async () => {
    const owner = await signUp("nul");
    const auth = { token: owner.access_token, orgId: owner.orgId };
    for (const path of ["/v1/customers/cus_%00", "/v1/bills/x%00y", "/v1/customers/%00/ledger"]) await expectProblem(await call(path, auth), 404);
    const query = await expectProblem(await call("/v1/customers?q=a%00b&limit=5", auth), 422);
    expect(query.errors).toEqual([{ path: "q", message: "NUL characters are not allowed" }]);
    const body = await expectProblem(
      await call("/v1/customers", { ...auth, body: { name: "Asha", address: { line1: "x\u0000" }, tags: ["ok", "b\u0000d"] } }),
      422,
    );
    expect(body.errors?.map((e) => e.path)).toEqual(["address.line1", "tags.1"]);
    // An escaped backslash followed by "u0000" is text, not a NUL.
    await expectJson(await call("/v1/customers", { ...auth, body: { name: "Asha \\u0000 Traders" } }), 201);
    expect((await call("/v1/customers?limit=50", auth)).status).toBe(200);
  });

  it("answers a bill for a customer id that cannot exist with a 4xx, never the foreign key's 500", async () => {
    const owner = await signUp("fk");
    const auth = { token: owner.access_token, orgId: owner.orgId };
    const line = { description: "Tea", quantity: "1", unit_price: 500 };
    for (const customer_id of ["", "x".repeat(100), "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", "cus_'--"]) {
      const problem = await expectProblem(await call("/v1/bills", { ...auth, body: { customer_id, items: [line] } }), 422);
      expect(problem.errors?.map((e) => e.path)).toEqual(["customer_id"]);
    }
    const nobody = await call("/v1/bills", { ...auth, body: { customer_id: "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA", items: [line] } });
    expect([404, 422], await nobody.clone().text()).toContain(nobody.status);
    await expectProblem(await call("/v1/bills?customer_id=%27--", auth), 422);
  });

  it("leaves no rows behind when a knowledge search is refused for want of an assistant (fuzz seed 777)", async () => {
    const owner = await signUp("ks");
    const tables = await orgTables();
    const before = await digest(tables, owner.orgId);
    const refused = await call("/v1/chatbot/knowledge-search", {
      token: owner.access_token,
      orgId: owner.orgId,
      body: { query: "Do you deliver on Saturdays?" },
    });
    await expectProblem(refused, 422);
    const after = await digest(tables, owner.orgId);
    expect(tables.filter((t) => before[t] !== after[t])).toEqual([]);
  });

  it("answers a Twilio callback whose multipart body has no boundary with 400, not 500", async () => {
    const response = await call("/v1/voice/twilio/incoming", { body: "<a/>", headers: { "Content-Type": "multipart/form-data; boundary=x" } });
    await expectProblem(response, 400);
  });

  it("answers a path id that cannot be an id of ours with 404, before any query", async () => {
    const owner = await signUp("ids");
    const auth = { token: owner.access_token, orgId: owner.orgId };
    for (const path of [
      "/v1/customers/cus_'--",
      `/v1/bills/${"x".repeat(300)}`,
      "/v1/bills/cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA",
      "/v1/merchants/%E2%9C%93",
      `/v1/orgs/${owner.orgId}x!/members`,
      "/v1/agents/agt_%20",
    ]) {
      await expectProblem(await call(path, auth), 404);
    }
  });

  it("maps an input error that slips through to Postgres to 409 or 422, quoting no value", () => {
    const wrapped = (code: string, extra: Record<string, unknown> = {}) =>
      Object.assign(new Error("Failed query: insert into bills ...\nparams: Asha,+15550001"), { cause: { code, ...extra } });
    const cases: [string, Record<string, unknown>, number][] = [
      ["23503", { message: 'insert or update on table "bills" violates foreign key constraint', detail: "Key (customer_id)=(cus_x) is not present" }, 422],
      [
        "23503",
        {
          message: 'update or delete on table "customers" violates foreign key constraint',
          detail: 'Key (id)=(cus_x) is still referenced from table "bills".',
        },
        409,
      ],
      ["23514", {}, 422],
      ["23502", { column: "name" }, 422],
      ["22001", {}, 422],
      ["22003", {}, 422],
      ["22P02", {}, 422],
      ["22008", {}, 422],
      ["22021", {}, 422],
      ["23505", {}, 409],
    ];
    for (const [code, extra, status] of cases) {
      const problem = inputProblemOf(wrapped(code, extra));
      expect(problem?.status, code).toBe(status);
      expect(JSON.stringify(problem)).not.toMatch(/cus_x|Asha|\+1555/);
    }
    expect(inputProblemOf(wrapped("23502", { column: "name" }))?.errors).toEqual([{ path: "name", message: "A required value is missing" }]);
    expect(inputProblemOf(new Error("boom"))).toBeUndefined();
    expect(inputProblemOf(wrapped("08006"))).toBeUndefined();
  });
});
