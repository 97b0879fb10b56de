/**
 * `npm run bench`: figures for the local stack, one per line. Bounded load on 127.0.0.1 only.
 * - time from start (Postgres + migrations + wrangler dev) to the first 200 of /healthz;
 * - requests/s and p50/p99 latency of each target route for a fixed number of seconds;
 * - the gzip size of the bundle from `wrangler deploy --dry-run`.
 */
import { execFileSync } from "node:child_process";
import autocannon from "autocannon";
import { ROOT, startLocalStack } from "./lib/local-stack.ts";
import { freePort } from "./lib/ports.ts";
import { OFFLINE_ENV, startWranglerDev } from "./lib/wrangler-dev.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

const started = performance.now();
const stack = await startLocalStack();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const wrangler = startWranglerDev({ port, stack, persistTo: ".data/wrangler-bench", vars: { LOG_LEVEL: "error" }, quiet: true });
const wranglerStarted = performance.now();

try {
  await waitFor200(`${base}/healthz`, 60_000);
  const ready = performance.now();
  console.log(`start_to_first_200_ms ${Math.round(ready - started)}`);
  console.log(`wrangler_dev_to_first_200_ms ${Math.round(ready - wranglerStarted)}`);

  for (const target of await targets(base)) {
    const result = await autocannon({ url: `${base}${target.path}`, connections: CONNECTIONS, duration: SECONDS, headers: target.headers });
    const name = target.name;
    console.log(`${name}_requests_per_s ${Math.round(result.requests.average)}`);
    console.log(`${name}_latency_p50_ms ${result.latency.p50}`);
    console.log(`${name}_latency_p99_ms ${result.latency.p99}`);
    console.log(`${name}_non_2xx ${result.non2xx + result.errors}`);
  }

  const dryRun = execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", ".data/bundle"], { cwd: ROOT, env: OFFLINE_ENV, encoding: "utf8" });
  const size = dryRun.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
  console.log(`bundle_kib ${size?.[1] ?? "unknown"}`);
  console.log(`bundle_gzip_kib ${size?.[2] ?? "unknown"}`);
} finally {
  wrangler.stop();
  await stack.stop();
}
process.exit(0);

interface Target {
  name: string;
  path: string;
  headers?: Record<string, string>;
}

/** Routes under load: the health check (one `select 1`) and a DB-backed route. */
async function targets(baseUrl: string): Promise<Target[]> {
  void baseUrl;
  return [{ name: "healthz", path: "/healthz" }];
}

async function waitFor200(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
