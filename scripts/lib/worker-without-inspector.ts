/**
 * Child process of `startWranglerDev({ inspector: false })`: the Worker without wrangler dev's
 * development machinery, for figures of the Worker's own cost. Its production bundle (what
 * `wrangler deploy` uploads, built by `wrangler deploy --dry-run`) runs in Miniflare, the workerd
 * runtime wrangler dev and the tests use, with the bindings wrangler.toml declares.
 *
 * What it leaves out, measured on `POST /v1/events` (1,000-event batches, 4 clients):
 * - the devtools inspector: `wrangler dev` always enables devtools' Network domain, so each
 *   subrequest (every SQL-over-HTTP call) is reported as four events, each relayed by its inspector
 *   proxy worker to wrangler's Node process: about 9 ms of CPU per subrequest, 40 of a batch's 89 ms;
 * - the proxy worker wrangler dev puts in front of the Worker (a second workerd and one more copy of
 *   every request body): about 5 ms of a batch's CPU.
 * Neither exists in production.
 *
 * Options arrive as JSON in `BILLX_WORKER_OPTIONS` (not argv: the variables include keys).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

// Not imported from local-stack.ts: this process needs none of the database side.
const ROOT = path.resolve(import.meta.dirname, "../..");

interface WorkerOptions {
  port: number;
  persistTo: string;
  vars: Record<string, string>;
}

const options = JSON.parse(process.env.BILLX_WORKER_OPTIONS ?? "null") as WorkerOptions | null;
if (!options) throw new Error("BILLX_WORKER_OPTIONS is not set");

const bundleDir = path.join(ROOT, ".wrangler/bundle-without-inspector");
// The parent passes its offline environment (no metrics, no request.cf download) on to wrangler.
execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", bundleDir], { cwd: ROOT, stdio: "ignore" });

const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml"));
const worker = new Miniflare({
  ...workerOptions,
  modules: true,
  scriptPath: path.join(bundleDir, "index.js"),
  modulesRoot: bundleDir,
  // The SQL guard's parser ships as a .wasm module next to the bundle.
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  bindings: { ...workerOptions.bindings, ...options.vars },
  host: "127.0.0.1",
  port: options.port,
  defaultPersistRoot: path.resolve(ROOT, options.persistTo),
} as MiniflareOptions);
await worker.ready;

async function stop() {
  await worker.dispose().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
