import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectProblem, fetchWithEnv } from "./harness/helpers";

describe("HTTP conventions", () => {
  it("answers an unknown route with 404 problem+json", async () => {
    const body = await expectProblem(await SELF.fetch("http://api.test/v1/nothing-here"), 404);
    expect(body.detail).toBe("route GET /v1/nothing-here was not found");
  });

  it("answers a known path with the wrong method with 405 and Allow", async () => {
    const response = await SELF.fetch("http://api.test/healthz", { method: "DELETE" });
    const body = await expectProblem(response, 405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(body.detail).toBe("DELETE is not supported on /healthz");
  });

  it("echoes a caller's X-Request-Id and makes one up otherwise", async () => {
    const given = await SELF.fetch("http://api.test/healthz", { headers: { "X-Request-Id": "trace-abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("trace-abc-123");
    const made = await SELF.fetch("http://api.test/healthz");
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sets secure headers", async () => {
    const response = await SELF.fetch("http://api.test/healthz");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("strict-transport-security")).toContain("max-age=");
  });

  it("allows CORS only from configured origins", async () => {
    const preflight = (origin: string) =>
      SELF.fetch("http://api.test/healthz", { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "GET" } });
    const allowed = await preflight("https://app.billx.test");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.billx.test");
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a body over the configured limit with 413", async () => {
    const response = await SELF.fetch("http://api.test/healthz", { method: "POST", body: "x".repeat(70_000) });
    const body = await expectProblem(response, 413);
    expect(body.detail).toBe("The request body exceeds 65536 bytes");
  });

  it("answers a bland 500 problem that names no secret when configuration is missing", async () => {
    const response = await fetchWithEnv(new Request("http://api.test/healthz"), { DATABASE_URL: undefined });
    const body = await expectProblem(response, 500);
    expect(body.detail).toContain("request id");
    expect(JSON.stringify(body)).not.toMatch(/postgres:|stack|at \w+ \(/);
  });
});

describe("error logs", () => {
  it("keep a failed query's statement but never its parameters, in the message, the cause or the stack", async () => {
    const { redact, withoutQueryParams } = await import("../src/lib/log");
    const values = "Ada Lovelace,+14155550100,ada@example.com,$argon2id$v=19$hash\nwith a newline";
    const error = new Error(`Failed query: update "users" set "name" = $1 where "id" = $2\nparams: ${values}`, {
      cause: new Error(`Failed query: select 1\nparams: ${values}`),
    });
    const logged = JSON.stringify(redact({ error, stack: withoutQueryParams(error.stack ?? "") }));
    expect(logged).toContain('update \\"users\\" set \\"name\\" = $1');
    expect(logged).toContain("params: [redacted]");
    for (const secret of ["Ada Lovelace", "+14155550100", "ada@example.com", "argon2id", "with a newline"]) expect(logged).not.toContain(secret);
    // The stack's frames stay: they say where it failed.
    expect(withoutQueryParams(error.stack ?? "")).toMatch(/\n {4}at /);
  });
});
