import { describe, expect, it } from "vitest";
import { ConfigError, type Env, loadConfig } from "../src/env";
import { testEnv } from "./harness/helpers";

const base = () => ({ ...testEnv }) as Env;

describe("configuration", () => {
  it("names DATABASE_URL when it is missing", () => {
    const env = { ...base(), DATABASE_URL: undefined };
    expect(() => loadConfig(env)).toThrowError(ConfigError);
    expect(() => loadConfig(env)).toThrowError(/DATABASE_URL is not set/);
  });

  it("names the variable whose value is invalid", () => {
    try {
      loadConfig({ ...base(), MAX_BODY_BYTES: "lots" });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).variable).toBe("MAX_BODY_BYTES");
    }
  });

  it("parses the list of CORS origins and defaults", () => {
    const config = loadConfig({ ...base(), CORS_ORIGINS: "https://a.test, https://b.test", LOG_LEVEL: undefined });
    expect(config.corsOrigins).toEqual(["https://a.test", "https://b.test"]);
    expect(config.logLevel).toBe("info");
  });
});
