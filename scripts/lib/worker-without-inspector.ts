/**
 * Child process of `startWranglerDev({ inspector: false })`: runs the Worker the way `wrangler dev`
 * does (wrangler's own dev environment: the same bundle, bindings, Miniflare and proxy worker), but
 * through `unstable_startWorker` with the devtools inspector off, which the CLI cannot do.
 *
 * Why: `wrangler dev` always connects its inspector proxy to the Worker and enables devtools'
 * Network domain, so every subrequest (each SQL-over-HTTP call to the database, say) is reported as
 * four devtools events, each relayed by the proxy worker to wrangler's Node process. Measured on
 * `POST /v1/events`: about 9 ms of CPU per subrequest across workerd and Node, nearly half of a
 * batch's CPU, none of which exists in production. Benchmarks that judge the Worker's own cost
 * against a ceiling run it here.
 *
 * Options arrive as JSON in `BILLX_WORKER_OPTIONS` (not argv: the variables include keys).
 */
import { unstable_startWorker } from "wrangler";

interface WorkerOptions {
  port: number;
  persistTo: string;
  vars: Record<string, string>;
}

const options = JSON.parse(process.env.BILLX_WORKER_OPTIONS ?? "null") as WorkerOptions | null;
if (!options) throw new Error("BILLX_WORKER_OPTIONS is not set");

const worker = await unstable_startWorker({
  config: "wrangler.toml",
  bindings: Object.fromEntries(Object.entries(options.vars).map(([name, value]) => [name, { type: "plain_text", value }])),
  dev: {
    inspector: false,
    remote: false,
    watch: false,
    logLevel: "error",
    persist: options.persistTo,
    server: { hostname: "127.0.0.1", port: options.port },
  },
});
await worker.ready;

async function stop() {
  await worker.dispose().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
