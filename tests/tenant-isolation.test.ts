/**
 * Proves that organisation B cannot read, change or create anything in organisation A, through
 * every organisation-scoped operation the API documents. The operations come from the live
 * OpenAPI document (`x-billx-permission`, set by `authed(permission)`), so a route added by a later
 * change is covered without touching this file. The walk:
 * 1. A creates one resource in each collection it can, with a body built from the documented
 *    examples (every schema field carries one by convention), then lists every collection and
 *    reads every item it found, recording A's ids and what A sees.
 * 2. B calls every operation with A's ids in the path: with B's own token, with B's token and
 *    `X-Org-Id: <A>`, with B's API key, and with B's API key and `X-Org-Id: <A>`. Each answer
 *    must be 401, 403 or 404. Operations without path parameters address B's own organisation
 *    when B uses its own credentials, so there only the `X-Org-Id: <A>` variants apply, plus a
 *    check that B's own listings never show an id of A's.
 * 3. A reads everything again: it must see exactly what it saw before.
 */
import { and, eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { call, type SignedUp, signUp } from "./harness/api";
import { testCtx } from "./harness/helpers";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  allOf?: SchemaObject[];
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  enum?: Json[];
  const?: Json;
  example?: Json;
  examples?: Json[];
  default?: Json;
}

interface ParameterObject {
  $ref?: string;
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  example?: Json;
  schema?: SchemaObject;
}

interface OperationObject {
  parameters?: ParameterObject[];
  requestBody?: { content?: Record<string, { schema?: SchemaObject }> };
  "x-billx-permission"?: string;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, SchemaObject>; parameters?: Record<string, ParameterObject> };
}

interface Operation {
  method: string;
  template: string;
  operation: OperationObject;
  /** `METHOD /path/{template}`, the name a failure is reported under. */
  label: string;
}

interface Caller {
  name: string;
  token: string;
  orgId?: string;
}

const HTTP_METHODS = ["get", "post", "put", "patch", "delete"];
const REFUSED = [401, 403, 404];
/** The api-keys routes alone document three operations; fewer means the walk found nothing. */
const MINIMUM_OPERATIONS = 3;
const NO_EXAMPLE = Symbol("no example");
/** A generated id (`key_01J...`): it exists in one organisation only. */
const UNIQUE_ID = /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/;

function resolveRef<T extends { $ref?: string }>(document: OpenApiDocument, value: T): T {
  if (!value.$ref) return value;
  const [, , section, name] = value.$ref.split("/");
  const components = document.components as Record<string, Record<string, T>> | undefined;
  const target = section && name ? components?.[section]?.[name] : undefined;
  if (!target) throw new Error(`unresolvable $ref ${value.$ref}`);
  return resolveRef(document, target);
}

/** A value for `schema` built from the documented examples, or NO_EXAMPLE when one is missing. */
function exampleFor(document: OpenApiDocument, input: SchemaObject, depth = 0): Json | typeof NO_EXAMPLE {
  if (depth > 10) return NO_EXAMPLE;
  const schema = resolveRef(document, input);
  if (schema.example !== undefined) return schema.example;
  if (schema.examples?.length) return schema.examples[0] as Json;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0] as Json;
  if (schema.allOf) {
    const merged: Record<string, Json> = {};
    for (const part of schema.allOf) {
      const value = exampleFor(document, part, depth + 1);
      if (value === NO_EXAMPLE || typeof value !== "object" || value === null || Array.isArray(value)) return NO_EXAMPLE;
      Object.assign(merged, value);
    }
    return merged;
  }
  for (const alternatives of [schema.anyOf, schema.oneOf]) {
    for (const option of alternatives ?? []) {
      const value = exampleFor(document, option, depth + 1);
      if (value !== NO_EXAMPLE) return value;
    }
  }
  if (schema.properties) {
    const value: Record<string, Json> = {};
    for (const [name, property] of Object.entries(schema.properties)) {
      const example = exampleFor(document, property, depth + 1);
      if (example !== NO_EXAMPLE) value[name] = example;
      else if (schema.required?.includes(name)) return NO_EXAMPLE;
    }
    return value;
  }
  if (schema.items) {
    const item = exampleFor(document, schema.items, depth + 1);
    return item === NO_EXAMPLE ? NO_EXAMPLE : [item];
  }
  return NO_EXAMPLE;
}

function exampleBody(document: OpenApiDocument, operation: OperationObject): { body?: Json; built: boolean } {
  const content = operation.requestBody?.content;
  if (!content) return { built: true };
  const schema = content["application/json"]?.schema;
  if (!schema) return { built: false };
  const body = exampleFor(document, schema);
  return body === NO_EXAMPLE ? { built: false } : { body, built: true };
}

function parametersOf(document: OpenApiDocument, operation: OperationObject): ParameterObject[] {
  return (operation.parameters ?? []).map((p) => resolveRef(document, p));
}

function pathParams(template: string): string[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

/** Query string with an example for every required query parameter. */
function requiredQuery(document: OpenApiDocument, operation: OperationObject): string {
  const query = new URLSearchParams();
  for (const parameter of parametersOf(document, operation)) {
    if (parameter.in !== "query" || !parameter.required) continue;
    const example = parameter.example ?? (parameter.schema ? exampleFor(document, parameter.schema) : NO_EXAMPLE);
    if (example !== NO_EXAMPLE && example !== null) query.set(parameter.name, typeof example === "string" ? example : JSON.stringify(example));
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** What the walk knows about org A: its ids, keyed by the collection template they came from. */
class OrgAIds {
  readonly byCollection = new Map<string, string[]>();
  readonly all = new Set<string>();
  placeholders: string[] = [];

  constructor(
    readonly orgId: string,
    readonly ownerId: string,
  ) {}

  /**
   * Records ids listed by a collection. Ids A created (prefixed ULIDs) go first: shared names
   * such as the system role `owner` exist in every organisation, so they prove nothing about A
   * and would make B's own listings look like leaks.
   */
  add(collection: string, ids: string[]): void {
    const unique = ids.filter((id) => UNIQUE_ID.test(id));
    const merged = [...new Set([...unique, ...(this.byCollection.get(collection) ?? []), ...ids])];
    merged.sort((x, y) => Number(UNIQUE_ID.test(y)) - Number(UNIQUE_ID.test(x)));
    if (merged.length > 0) this.byCollection.set(collection, merged);
    for (const id of unique) this.all.add(id);
  }

  /** Ids of the collection a `{thing_id}` parameter names: `role_id` -> `.../roles`, `api_key_id` -> `.../api-keys`. */
  private namedCollection(parameter: string): string[] | undefined {
    if (!parameter.endsWith("_id")) return undefined;
    const resource = parameter.slice(0, -3);
    for (const [collection, list] of this.byCollection) {
      const last = collection.split("/").at(-1)?.replaceAll("-", "_");
      if (last === `${resource}s` || last === resource) return list;
    }
    return undefined;
  }

  /**
   * The template with A's ids in it: `{id}` after a collection takes that collection's first id,
   * `/v1/orgs/{id}` and `{org_id}` take A's org, `{user_id}` A's owner, `{role_id}` an id from
   * the collection ending in `/roles`, anything else any id of A's, or the parameter's documented
   * example as a last resort.
   */
  fill(document: OpenApiDocument, template: string, operation: OperationObject, label: string): string {
    const examples = new Map(parametersOf(document, operation).map((p) => [p.name, p.example ?? p.schema?.example]));
    const segments = template.split("/");
    return segments
      .map((segment, index) => {
        const name = /^\{(.+)\}$/.exec(segment)?.[1];
        if (!name) return segment;
        const collection = segments.slice(0, index).join("/");
        let value: string | undefined;
        if (name === "org_id" || collection === "/v1/orgs") value = this.orgId;
        else if (name === "user_id") value = this.ownerId;
        else value = this.byCollection.get(collection)?.[0] ?? this.namedCollection(name)?.[0] ?? [...this.all][0];
        if (value === undefined) {
          this.placeholders.push(`${label} {${name}}`);
          value = String(examples.get(name) ?? "zzz_01JD3X6W6X8Q3M1B0V4T2Y9ZKA");
        }
        return encodeURIComponent(value);
      })
      .join("/");
  }
}

async function send(document: OpenApiDocument, op: Operation, url: string, caller: Caller, body?: Json): Promise<Response> {
  return call(`${url}${requiredQuery(document, op.operation)}`, {
    method: op.method.toUpperCase(),
    token: caller.token,
    orgId: caller.orgId,
    body: body ?? undefined,
  });
}

async function orgScopedOperations(): Promise<{ document: OpenApiDocument; operations: Operation[] }> {
  const response = await call("/openapi.json");
  expect(response.status).toBe(200);
  const document = (await response.json()) as OpenApiDocument;
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation?.["x-billx-permission"]) operations.push({ method, template, operation, label: `${method.toUpperCase()} ${template}` });
    }
  }
  return { document, operations };
}

/** A's view of every GET it can make, in dependency order, recording ids as it goes. */
async function readEverythingAsA(document: OpenApiDocument, operations: Operation[], owner: Caller, ids: OrgAIds, record: boolean): Promise<Map<string, Json>> {
  const seen = new Map<string, Json>();
  const gets = operations.filter((op) => op.method === "get").sort((a, b) => pathParams(a.template).length - pathParams(b.template).length);
  for (const op of gets) {
    const url = ids.fill(document, op.template, op.operation, op.label);
    const response = await send(document, op, url, owner);
    if (response.status !== 200) continue;
    const body = (await response.json()) as Json;
    seen.set(`${op.label} ${url}`, body);
    const data = body && typeof body === "object" && !Array.isArray(body) ? body.data : undefined;
    if (record && Array.isArray(data)) {
      ids.add(
        op.template,
        data.flatMap((row) => (row && typeof row === "object" && !Array.isArray(row) && typeof row.id === "string" ? [row.id] : [])),
      );
    }
  }
  return seen;
}

/** A collection path also has a GET and does not end in a parameter (so it is not an action on one item). */
function isCollectionPost(op: Operation, operations: Operation[]): boolean {
  return op.method === "post" && !op.template.endsWith("}") && operations.some((other) => other.method === "get" && other.template === op.template);
}

function mentionsAnyOf(body: string, ids: Iterable<string>): string | undefined {
  for (const id of ids) if (body.includes(id)) return id;
  return undefined;
}

describe("tenant isolation", () => {
  // Walks every organisation-scoped operation several times over: it grows with the API.
  it("org B cannot read, change or create anything of org A through any organisation-scoped operation", { timeout: 180_000 }, async () => {
    const { document, operations } = await orgScopedOperations();
    expect(operations.length, "organisation-scoped operations documented in /openapi.json").toBeGreaterThanOrEqual(MINIMUM_OPERATIONS);
    expect(operations.map((op) => op.label)).toEqual(expect.arrayContaining(["GET /v1/api-keys", "POST /v1/api-keys", "DELETE /v1/api-keys/{id}"]));

    const a: SignedUp = await signUp("isolation-a");
    const b: SignedUp = await signUp("isolation-b");
    const ownerA: Caller = { name: "A", token: a.access_token, orgId: a.orgId };
    const ids = new OrgAIds(a.orgId, a.user.id);

    // 1. A creates what it can, parents before nested collections, then reads everything.
    const created: string[] = [];
    const skipped: string[] = [];
    const posts = operations.filter((op) => isCollectionPost(op, operations));
    const depths = [...new Set(posts.map((op) => pathParams(op.template).length))].sort((x, y) => x - y);
    for (const depth of depths) {
      // Nested collections need their parents' ids, which only a read after creating them yields.
      if (depth > 0) await readEverythingAsA(document, operations, ownerA, ids, true);
      for (const op of posts.filter((p) => pathParams(p.template).length === depth)) {
        const { body, built } = exampleBody(document, op.operation);
        if (!built) {
          skipped.push(`${op.label}: no example body`);
          continue;
        }
        const response = await send(document, op, ids.fill(document, op.template, op.operation, op.label), ownerA, body);
        if (response.status >= 500) throw new Error(`${op.label} as A answered ${response.status}: ${await response.text()}`);
        (response.ok ? created : skipped).push(`${op.label} -> ${response.status}`);
      }
    }
    // Messages A's creations queued (an invitation email) are delivered in the background; let
    // that settle, so the before/after comparison sees what B did, not what the queue did.
    const db = testCtx().db;
    await expect
      .poll(
        async () =>
          (
            await db
              .select({ id: messages.id })
              .from(messages)
              .where(and(eq(messages.orgId, a.orgId), inArray(messages.status, ["queued", "sending"])))
          ).length,
        {
          timeout: 15_000,
          interval: 200,
        },
      )
      .toBe(0);
    const before = await readEverythingAsA(document, operations, ownerA, ids, true);
    ids.placeholders = [];
    expect(created, "A created at least an API key to hunt for").toContain("POST /v1/api-keys -> 201");
    expect(ids.byCollection.get("/v1/api-keys")?.length).toBeGreaterThan(0);

    // 2. B's credentials: its token and, when the route exists, an API key with all B holds.
    const callers: Caller[] = [{ name: "B token", token: b.access_token }];
    const canMakeKeys = operations.some((op) => op.label === "POST /v1/api-keys");
    if (canMakeKeys) {
      const response = await call("/v1/api-keys", { token: b.access_token, body: { name: "B's isolation key" } });
      expect(response.status).toBe(201);
      callers.push({ name: "B API key", token: ((await response.json()) as { key: string }).key });
    }
    const aIdentifiers = [...ids.all, a.orgId];

    const failures: string[] = [];
    let calls = 0;
    for (const op of operations) {
      const url = ids.fill(document, op.template, op.operation, op.label);
      const { body, built } = exampleBody(document, op.operation);
      // Without a buildable body, validation may answer first; that still reveals nothing of A.
      const allowed = built ? REFUSED : [...REFUSED, 400, 422];
      const hasPathParams = pathParams(op.template).length > 0;
      for (const caller of callers) {
        const variants: Caller[] = [{ ...caller, name: `${caller.name} with X-Org-Id of A`, orgId: a.orgId }];
        if (hasPathParams) variants.push(caller);
        for (const variant of variants) {
          calls++;
          const response = await send(document, op, url, variant, body);
          if (!allowed.includes(response.status)) {
            failures.push(`${op.label} (${url}) as ${variant.name} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
          }
        }
        if (!hasPathParams && op.method === "get") {
          calls++;
          const response = await send(document, op, url, caller);
          const text = await response.text();
          const leaked = response.ok ? mentionsAnyOf(text, aIdentifiers) : undefined;
          if (response.status >= 500 || leaked)
            failures.push(`${op.label} as ${caller.name} in B's own org answered ${response.status}${leaked ? ` showing A's ${leaked}` : ""}`);
        }
      }
    }
    const unfilled = ids.placeholders.length ? `; no id of A's for ${[...new Set(ids.placeholders)].join(", ")}` : "";
    expect(failures, `operations that let B reach A (${operations.length} operations, ${calls} calls${unfilled})`).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(operations.length * callers.length);

    // 3. Nothing of A's changed, and nothing appeared in A.
    const after = await readEverythingAsA(document, operations, ownerA, ids, false);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, value] of before) expect(after.get(key), `${key} as seen by A after B's walk`).toEqual(value);
  });
});
