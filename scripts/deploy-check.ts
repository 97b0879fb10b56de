/**
 * `npm run deploy:check`: builds what `wrangler deploy` would upload, for production and for
 * `[env.staging]`, with `wrangler deploy --dry-run` (offline: no network, no account, no login),
 * and fails if the compressed bundle passes Cloudflare's Worker size limit.
 *
 * The limit applies to the gzip-compressed upload: 3 MiB on the Workers Free plan, 10 MiB on
 * Workers Paid. Billx needs Workers Paid anyway (docs/DEPLOY.md: production and staging have 8
 * cron triggers where Free allows 5 per account, and Free's 10 ms of CPU does not cover a password
 * hash), so the check fails past Paid's 10 MiB and prints the free plan's share beside it;
 * `DEPLOY_PLAN=free` makes the 3 MiB limit the one that fails.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = path.resolve(import.meta.dirname, "..");
const MIB = 1024 * 1024;
const LIMITS = { free: 3 * MIB, paid: 10 * MIB } as const;
/** The wrangler.toml environments that get deployed: the top level (production, "") and staging. */
const ENVIRONMENTS = ["", "staging"] as const;

const plan = process.env.DEPLOY_PLAN ?? "paid";
if (plan !== "free" && plan !== "paid") {
  console.error(`DEPLOY_PLAN must be free or paid, not ${JSON.stringify(plan)}`);
  process.exit(2);
}
const limit = LIMITS[plan];

// Offline on purpose: a dry run needs no account, and CI has no network.
const offlineEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** Files in wrangler's out dir that are uploaded as modules (source maps and its README are not). */
function isUploaded(name: string): boolean {
  return !name.endsWith(".map") && name !== "README.md";
}

/** Runs the dry run for one environment and returns the bundle's raw and gzip sizes in bytes. */
function measure(environment: string): { raw: number; gzip: number } {
  const outdir = mkdtempSync(path.join(tmpdir(), "billx-deploy-check-"));
  try {
    // `--env=` names the top level explicitly (wrangler warns when several environments exist and none is named).
    const args = ["wrangler", "deploy", "--dry-run", "--outdir", outdir, `--env=${environment}`];
    execFileSync("npx", args, { cwd: ROOT, env: offlineEnv, stdio: ["ignore", "ignore", "inherit"] });
    let raw = 0;
    let gzip = 0;
    for (const name of readdirSync(outdir).filter(isUploaded)) {
      const bytes = readFileSync(path.join(outdir, name));
      raw += bytes.length;
      gzip += gzipSync(bytes).length;
    }
    return { raw, gzip };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const mib = (bytes: number) => (bytes / MIB).toFixed(2);
let failed = false;
for (const environment of ENVIRONMENTS) {
  const name = environment || "production";
  const { raw, gzip } = measure(environment);
  const within = gzip <= limit;
  failed ||= !within;
  const share = (of: number) => `${((gzip / of) * 100).toFixed(0)}%`;
  console.log(
    `${name}: bundle ${mib(raw)} MiB, gzip ${mib(gzip)} MiB = ${share(limit)} of the ${plan} plan's ${mib(limit)} MiB limit` +
      ` (free ${share(LIMITS.free)}, paid ${share(LIMITS.paid)}) ${within ? "ok" : "TOO LARGE"}`,
  );
}
if (failed) {
  console.error("deploy:check: the Worker is larger than Cloudflare accepts; see docs/DEPLOY.md");
  process.exit(1);
}
