/**
 * `npm run dev`: the whole API on http://127.0.0.1:8787 (or $PORT) on a local Postgres with
 * migrations applied and a demo organisation seeded, through the same Neon driver code as
 * production. With FAKE_PROVIDERS=1, every provider not configured in the shell or .dev.vars is
 * a local fake (scripts/lib/fake-providers.ts). Ctrl-C stops wrangler, the fakes, the gateway and
 * Postgres; nothing is left running.
 */
import { CONFIG_VARIABLES } from "../src/env.ts";
import { type FakeProviders, fakeProvidersRequested, readDevVars, startFakeProviders } from "./lib/fake-providers.ts";
import { ROOT, startLocalStack } from "./lib/local-stack.ts";
import { seedDemo } from "./lib/seed.ts";
import { startWranglerDev } from "./lib/wrangler-dev.ts";

const port = process.env.PORT ?? "8787";
const say = (line: string) => console.log(`[billx] ${line}`);

say("starting Postgres...");
const stack = await startLocalStack();
say(`database ready (migrations applied): ${new URL(stack.databaseUrl).pathname.slice(1)} on port ${new URL(stack.databaseUrl).port}`);

const demo = await seedDemo(stack.databaseUrl);
if (demo) {
  say("seeded a demo organisation. Sign in with (shown this once):");
  say(`  email:    ${demo.email}`);
  say(`  password: ${demo.password}`);
  say(`  org id:   ${demo.orgId}`);
} else {
  say("demo user demo@billx.local exists (its password was shown on the first start; delete .data/ to reseed)");
}

const devVars = readDevVars(ROOT);
const shellVars = configFromEnvironment();
let fakes: FakeProviders | undefined;
if (fakeProvidersRequested(process.env.FAKE_PROVIDERS ?? devVars.FAKE_PROVIDERS)) {
  try {
    fakes = await startFakeProviders({ ...devVars, ...shellVars }, { apiOrigin: `http://127.0.0.1:${port}` });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  if (fakes.faked.length === 0) say("FAKE_PROVIDERS: every provider is configured, none is faked");
  else {
    say(`fake providers (no real account is used): ${fakes.faked.join(", ")}`);
    for (const [name, url] of Object.entries(fakes.urls)) say(`  ${name.padEnd(10)} fake on ${url}`);
  }
}

const wrangler = startWranglerDev({
  port,
  stack,
  persistTo: ".data/wrangler",
  // The shell's variables win over the fakes'; the fakes leave out what .dev.vars sets. The
  // Worker's FAKE_PROVIDERS is always the list of what this run faked ("" for none).
  vars: { ...localDefaults(devVars), ...fakes?.vars, ...shellVars, FAKE_PROVIDERS: fakes?.vars.FAKE_PROVIDERS ?? "" },
  extraArgs: process.argv.slice(2),
});
say(`API on http://127.0.0.1:${port}  (docs: http://127.0.0.1:${port}/docs)`);

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  say("stopping...");
  wrangler.stop();
  await fakes?.stop();
  await stack.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
wrangler.process.on("exit", (code) => void stop(code ?? 0));

/**
 * Every configuration variable set in this shell (provider keys and base URLs, limits, models),
 * so `OPENAI_API_KEY=... TWILIO_AUTH_TOKEN=... npm run dev` reaches the Worker. Variables not set
 * here are left out, so wrangler's own `.dev.vars` still applies to them. The database, gateway
 * and signing keys come from the local stack instead (scripts/lib/wrangler-dev.ts).
 */
function configFromEnvironment(): Record<string, string> {
  // FAKE_PROVIDERS is the switch here; the Worker gets the list of what was faked instead.
  const fromStack = new Set(["DATABASE_URL", "NEON_LOCAL_GATEWAY", "JWT_PRIVATE_KEY", "DATA_ENCRYPTION_KEYS", "FAKE_PROVIDERS"]);
  const vars: Record<string, string> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined && !fromStack.has(name)) vars[name] = value;
  }
  return vars;
}

/** Defaults for local runs, unless `.dev.vars` (which wrangler dev reads) sets them: a `--var` would win over it. */
function localDefaults(devVars: Record<string, string>): Record<string, string> {
  // APP_URL: links and Checkout's way back lead to this server, whatever PORT says.
  const defaults: Record<string, string> = {
    CORS_ORIGINS: "http://localhost:5173,http://127.0.0.1:5173",
    LOG_LEVEL: "info",
    APP_URL: `http://127.0.0.1:${port}`,
  };
  for (const name of Object.keys(defaults)) if (name in devVars) delete defaults[name];
  return defaults;
}
