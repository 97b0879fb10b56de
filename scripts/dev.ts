/**
 * `npm run dev`: the whole API on http://127.0.0.1:8787 (or $PORT) on a local Postgres with
 * migrations applied and a demo organisation seeded, through the same Neon driver code as
 * production. Ctrl-C stops wrangler, the gateway and Postgres; nothing is left running.
 */
import { startLocalStack } from "./lib/local-stack.ts";
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
  vars: {
    CORS_ORIGINS: process.env.CORS_ORIGINS ?? "http://localhost:5173,http://127.0.0.1:5173",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    OPENAI_API_KEY: process.env.OPENAI_API_KEY,
    OPENAI_BASE_URL: process.env.OPENAI_BASE_URL,
  },
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
