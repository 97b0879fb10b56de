import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig, type Plugin } from "vitest/config";
import { fakeLlmVars } from "./tests/fakes/llm-endpoints.ts";

// The stripe package ships source maps whose sources it does not ship; vite would warn once per
// file (some 200 lines) on every run. Vitest installs its own logger, so this wraps it afterwards.
const quietStripeSourceMaps: Plugin = {
  name: "quiet-stripe-source-maps",
  configResolved(config) {
    const warnOnce = config.logger.warnOnce.bind(config.logger);
    config.logger.warnOnce = (message, options) => {
      if (message.includes("node_modules/stripe/") && message.includes("points to missing source files")) return;
      warnOnce(message, options);
    };
  },
};

export default defineConfig({
  plugins: [
    quietStripeSourceMaps,
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
          // Anthropic, Google and xAI: the OpenAI fake under each one's path (tests/fakes/llm-endpoints.ts).
          ...fakeLlmVars(inject("openaiBaseUrl"), { anthropic: "sk-ant-test-fake", google: "google-ai-test-fake", xai: "xai-test-fake" }),
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
          // The bot and key tests/fakes/telegram.ts and tests/fakes/resend.ts accept.
          TELEGRAM_BOT_TOKEN: "123456:TEST-token",
          TELEGRAM_BASE_URL: inject("telegramBaseUrl"),
          RESEND_API_KEY: "re_test_key",
          RESEND_BASE_URL: inject("resendBaseUrl"),
          EMAIL_FROM: "Billx <no-reply@billx.test>",
          // The account tests/fakes/twilio.ts and the business number tests/fakes/whatsapp.ts accept.
          TWILIO_ACCOUNT_SID: "ACa1b2c3d4e5f60718293a4b5c6d7e8f90",
          TWILIO_AUTH_TOKEN: "test-twilio-token",
          TWILIO_FROM_NUMBER: "+15005550006",
          TWILIO_BASE_URL: inject("twilioBaseUrl"),
          WHATSAPP_ACCESS_TOKEN: "test-wa-token",
          WHATSAPP_PHONE_NUMBER_ID: "1234567890",
          WHATSAPP_APP_SECRET: "test-wa-app-secret",
          WHATSAPP_VERIFY_TOKEN: "test-wa-verify",
          WHATSAPP_BASE_URL: inject("whatsappBaseUrl"),
          PUBLIC_API_URL: "https://api.billx.test",
          // Two keys: "test2" seals, "test1" still opens what it sealed (rotation).
          DATA_ENCRYPTION_KEYS: "test2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI,test1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
          LINKED_DATABASE_ALLOW_PRIVATE_HOSTS: "true",
          // The key and prices tests/fakes/stripe.ts knows; webhooks are signed with this secret.
          STRIPE_SECRET_KEY: "sk_test_fake",
          STRIPE_WEBHOOK_SECRET: "whsec_test_secret",
          STRIPE_API_BASE: inject("stripeBaseUrl"),
          STRIPE_PRICE_BASIC: "price_basic_test",
          STRIPE_PRICE_PRO: "price_pro_test",
          STRIPE_PRICE_CREDITS_1000: "price_credits_1000_test",
          STRIPE_PRICE_CREDITS_10000: "price_credits_10000_test",
          // The key tests/fakes/elevenlabs.ts accepts (tests/harness/global-setup.ts starts it with this one).
          ELEVENLABS_API_KEY: "xi-test-fake",
          ELEVENLABS_BASE_URL: inject("elevenlabsBaseUrl"),
          // tests/fakes/realtime.ts (its key is OPENAI_API_KEY above); the CallSession fetches its http:// form.
          OPENAI_REALTIME_URL: `${inject("realtimeUrl").replace(/^http/, "ws")}/v1/realtime`,
          // tests/fuzz.test.ts: `npm run fuzz` sets a longer run and a fresh seed.
          FUZZ_REQUESTS: process.env.FUZZ_REQUESTS ?? "",
          FUZZ_SEED: process.env.FUZZ_SEED ?? "",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./tests/harness/global-setup.ts"],
    setupFiles: ["./tests/harness/setup.ts"],
    include: ["tests/**/*.test.ts"],
    // One workerd isolate per vitest worker, reused by every file it runs: the Worker and its
    // dependencies load once per worker instead of once per file (about 3-5 s each on 2 cores).
    // Each file still gets its own database (tests/harness/setup.ts). Two workers even on a
    // 2-core machine: the tests mostly wait on Postgres round trips, not on the CPU.
    // This relies on patches/@cloudflare+vitest-pool-workers+0.15.1.patch (workers-sdk#15092).
    isolate: false,
    maxWorkers: 2,
    testTimeout: 20_000,
    // postgres.js (linked customer databases) rejects a read on a socket it has just closed with
    // "Stream was cancelled" after the query finished; it is noise, not a failure.
    onUnhandledError: (error) => !(error.message ?? "").includes("Stream was cancelled"),
    hookTimeout: 60_000,
  },
});
