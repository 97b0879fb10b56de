import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectProblem, fetchWithEnv } from "./harness/helpers";

describe("GET /healthz", () => {
  it("answers ok when the database answers", async () => {
    const response = await SELF.fetch("http://api.test/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", db: "ok", fake_providers: [] });
  });

  it("lists the providers FAKE_PROVIDERS names as fakes, with no sign-in", async () => {
    const response = await fetchWithEnv(new Request("http://api.test/healthz"), { FAKE_PROVIDERS: "openai, twilio,telegram" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", db: "ok", fake_providers: ["openai", "twilio", "telegram"] });
  });

  it("lists no fake providers when FAKE_PROVIDERS is empty or unset", async () => {
    for (const value of ["", undefined]) {
      const response = await fetchWithEnv(new Request("http://api.test/healthz"), { FAKE_PROVIDERS: value });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { fake_providers: unknown }).fake_providers).toEqual([]);
    }
  });

  it("answers 503 problem+json when the database cannot be reached", async () => {
    // Port 1 on loopback: nothing listens there, as when the database (gateway) is down.
    const response = await fetchWithEnv(new Request("http://api.test/healthz"), { NEON_LOCAL_GATEWAY: "127.0.0.1:1" });
    const body = await expectProblem(response, 503);
    expect(body.detail).toBe("The database is not reachable");
  });

  it("answers 503 when the database does not exist on the server", async () => {
    const { testEnv } = await import("./harness/helpers");
    const url = new URL(testEnv.DATABASE_URL as string);
    url.pathname = "/no_such_database";
    const response = await fetchWithEnv(new Request("http://api.test/healthz"), { DATABASE_URL: url.toString() });
    await expectProblem(response, 503);
  });
});
