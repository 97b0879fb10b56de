/**
 * `npm run dev`: the whole API on http://127.0.0.1:8787 (or $PORT) on a local Postgres with
 * migrations applied and a demo organisation seeded, through the same Neon driver code as
 * production. Ctrl-C stops wrangler, the gateway and Postgres; nothing is left running.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { CONFIG_VARIABLES } from "../src/env.ts";
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

const wrangler = startWranglerDev({
  port,
  stack,
  persistTo: ".data/wrangler",
  vars: { ...localDefaults(), ...configFromEnvironment() },
  extraArgs: process.argv.slice(2),
});
say(`API on http://127.0.0.1:${port}  (docs: http://127.0.0.1:${port}/docs)`);

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  say("stopping...");
  wrangler.stop();
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
  const fromStack = new Set(["DATABASE_URL", "NEON_LOCAL_GATEWAY", "JWT_PRIVATE_KEY", "DATA_ENCRYPTION_KEYS"]);
  const vars: Record<string, string> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined && !fromStack.has(name)) vars[name] = value;
  }
  return vars;
}

/** Defaults for local runs, unless `.dev.vars` (which wrangler dev reads) sets them: a `--var` would win over it. */
function localDefaults(): Record<string, string> {
  const file = path.join(ROOT, ".dev.vars");
  const devVars = existsSync(file) ? readFileSync(file, "utf8") : "";
  const defaults: Record<string, string> = { CORS_ORIGINS: "http://localhost:5173,http://127.0.0.1:5173", LOG_LEVEL: "info" };
  for (const name of Object.keys(defaults)) if (new RegExp(`^\\s*${name}\\s*=`, "m").test(devVars)) delete defaults[name];
  return defaults;
}
