import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import type { ServiceCtx } from "../../src/lib/context";
import { newId } from "../../src/lib/ids";
import { createServiceCtx } from "../../src/lib/service-ctx";
import { getBalance, grantCredits } from "../../src/modules/money/credits/ledger";

export const testEnv = env as unknown as Env;

/** A service context on this file's database, for arranging data and reading rows back. */
export function testCtx(): ServiceCtx {
  return createServiceCtx(testEnv, () => {});
}

/** Moves an organisation's credit balance to exactly `target`, through the ledger. */
export async function setCreditBalance(orgId: string, target: number): Promise<void> {
  const ctx = testCtx();
  const current = await getBalance(ctx, orgId);
  if (current !== target) await grantCredits(ctx, { orgId, kind: "adjustment", amount: target - current, reference: { type: "test", id: newId("cle") } });
}

/** Sends a request to the Worker with a different environment (e.g. the database down). */
export async function fetchWithEnv(request: Request, overrides: Partial<Record<keyof Env, unknown>>): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...testEnv, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** Node-side control server (tests/harness/control-server.ts). */
export function harness(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${inject("harnessUrl")}${path}`, init);
}

/** Fake OpenAI base URL and control endpoints (tests/fakes/openai.ts). */
export const fakeOpenAI = {
  async script(model: string, responses: unknown[]) {
    const res = await fetch(`${inject("openaiBaseUrl")}/_fake/scripts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: model, responses }),
    });
    if (!res.ok) throw new Error(`fake openai: ${res.status}`);
  },
  async fail(model: string, failures: { status: number; body: unknown; headers?: Record<string, string> }[]) {
    const res = await fetch(`${inject("openaiBaseUrl")}/_fake/failures`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scope: model, failures }),
    });
    if (!res.ok) throw new Error(`fake openai: ${res.status}`);
  },
  async requests(model: string): Promise<{ headers: Record<string, string>; body: Record<string, unknown> }[]> {
    return (await fetch(`${inject("openaiBaseUrl")}/_fake/requests?scope=${encodeURIComponent(model)}`)).json();
  },
};

export async function expectProblem(response: Response, status: number) {
  const { expect } = await import("vitest");
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail?: string;
    errors?: { path: string; message: string }[];
    request_id?: string;
  };
  expect(body.status).toBe(status);
  expect(body.type).toMatch(/^https:\/\//);
  expect(body.title).toEqual(expect.any(String));
  expect(body.request_id).toBe(response.headers.get("x-request-id"));
  return body;
}
