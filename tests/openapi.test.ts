import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { harness } from "./harness/helpers";

describe("API documentation", () => {
  it("serves an OpenAPI 3.1 document that a validator accepts", async () => {
    const response = await SELF.fetch("http://api.test/openapi.json");
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toContain("/healthz");
    expect(Object.keys(document.components.schemas)).toContain("Problem");

    const verdict = await harness("/openapi/validate", { method: "POST", body: JSON.stringify(document) });
    expect(await verdict.json()).toEqual({ valid: true, errors: [] });
  });

  it("serves an interactive UI at /docs with its assets locally", async () => {
    const page = await SELF.fetch("http://api.test/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('src="/docs/vendor/swagger-ui-bundle.js"');

    const init = await (await SELF.fetch("http://api.test/docs/init.js")).text();
    expect(init).toContain('url: "/openapi.json"');

    const bundle = await SELF.fetch("http://api.test/docs/vendor/swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toContain("javascript");
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
  });
});
