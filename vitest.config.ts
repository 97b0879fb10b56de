import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./src/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "test",
          LOG_LEVEL: "warn",
          CORS_ORIGINS: "https://app.billx.test",
          MAX_BODY_BYTES: "65536",
          // Replaced per test file by tests/harness/setup.ts with a fresh clone of the template.
          DATABASE_URL: "postgres://unset@127.0.0.1:1/unset",
          NEON_LOCAL_GATEWAY: inject("neonGateway"),
          OPENAI_API_KEY: "sk-test-fake",
          OPENAI_BASE_URL: `${inject("openaiBaseUrl")}/v1`,
          JWT_PRIVATE_KEY: inject("jwtPrivateKey"),
          APP_URL: "https://app.billx.test",
          // The client tests/fakes/google.ts registers by default.
          GOOGLE_CLIENT_ID: "test-client.apps.googleusercontent.com",
          GOOGLE_CLIENT_SECRET: "test-secret",
          GOOGLE_AUTH_URL: `${inject("googleBaseUrl")}/auth`,
          GOOGLE_TOKEN_URL: `${inject("googleBaseUrl")}/token`,
          GOOGLE_JWKS_URL: `${inject("googleBaseUrl")}/certs`,
          GOOGLE_ISSUER: "https://accounts.google.test",
          OAUTH_REDIRECT_ORIGINS: "https://app.billx.test",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./tests/harness/global-setup.ts"],
    setupFiles: ["./tests/harness/setup.ts"],
    include: ["tests/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
