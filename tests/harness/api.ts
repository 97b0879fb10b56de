import { SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { expect } from "vitest";
import { messages } from "../../src/db/schema";
import { testCtx } from "./helpers";

let counter = 0;
const fileTag = Math.floor(Math.random() * 0xffff).toString(16);

/** A distinct client IP per caller, so per-IP rate limits of one test never throttle another. */
export function uniqueIp(): string {
  counter++;
  return `fd00:${fileTag}::${counter.toString(16)}`;
}

export function uniqueEmail(label = "user"): string {
  return `${label}.${fileTag}.${++counter}@example.com`;
}

export interface CallOptions {
  method?: string;
  token?: string;
  orgId?: string;
  body?: unknown;
  headers?: Record<string, string>;
  ip?: string;
}

/** One request into the Worker, as a client would send it. */
export function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { "CF-Connecting-IP": options.ip ?? uniqueIp(), ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.orgId) headers["X-Org-Id"] = options.orgId;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] ??= "application/json";
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  return SELF.fetch(`http://api.test${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
}

export interface SignedUp {
  user: { id: string; email: string; name: string };
  access_token: string;
  refresh_token: string;
  orgId: string;
  password: string;
}

export const GOOD_PASSWORD = "correct-horse-42-battery";

/** A fresh user with their own organisation, through the public API. */
export async function signUp(label = "user"): Promise<SignedUp> {
  const email = uniqueEmail(label);
  const response = await call("/v1/auth/sign-up", { body: { email, password: GOOD_PASSWORD, name: `Test ${label}` } });
  if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as Omit<SignedUp, "orgId" | "password">;
  const me = (await (await call("/v1/auth/me", { token: body.access_token })).json()) as { orgs: { id: string }[] };
  return { ...body, orgId: me.orgs[0]!.id, password: GOOD_PASSWORD };
}

/** The JSON body of `response`, after checking its status; a wrong status fails showing the body. */
export async function expectJson<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** A member of an organisation, as the members and users routes answer with it. */
export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: string;
  joined_at: string;
}

/** Someone who joins `owner`'s organisation with `role` through a real, emailed invitation. */
export async function joinOrgAs(owner: SignedUp, role: string, label = role): Promise<SignedUp> {
  const person = await signUp(label);
  const invited = await call(`/v1/orgs/${owner.orgId}/members`, { token: owner.access_token, orgId: owner.orgId, body: { email: person.user.email, role } });
  const { id } = await expectJson<{ id: string }>(invited, 201);
  const [message] = await testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "invitation"), eq(messages.entityId, id)));
  const link = /\/invitations\/accept\?token=([^\s]+)/.exec(message?.body ?? "");
  if (!link?.[1]) throw new Error(`no invitation link in ${message?.body}`);
  await expectJson(await call("/v1/invitations/accept", { token: person.access_token, body: { token: decodeURIComponent(link[1]) } }), 200);
  return person;
}
