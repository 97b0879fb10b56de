import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { LocalStack } from "./local-stack.ts";
import { ROOT } from "./local-stack.ts";

/** No internet here: wrangler must not try to fetch request.cf data or send metrics. */
export const OFFLINE_ENV = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

export interface WranglerDev {
  process: ChildProcess;
  stop(): void;
}

/** Starts `wrangler dev` on 127.0.0.1:`port`, wired to the local stack's database and gateway. */
export function startWranglerDev(options: {
  port: string | number;
  stack: LocalStack;
  persistTo: string;
  vars?: Record<string, string | undefined>;
  quiet?: boolean;
  extraArgs?: string[];
  /**
   * false: not wrangler dev but the Worker's production bundle in Miniflare, without wrangler dev's
   * devtools inspector and proxy worker (scripts/lib/worker-without-inspector.ts says why), for
   * figures of the Worker's own cost. Not with `extraArgs`.
   */
  inspector?: boolean;
}): WranglerDev {
  const vars: Record<string, string | undefined> = {
    DATABASE_URL: options.stack.databaseUrl,
    NEON_LOCAL_GATEWAY: options.stack.gateway.address,
    ENVIRONMENT: "development",
    JWT_PRIVATE_KEY: options.stack.signingKey,
    DATA_ENCRYPTION_KEYS: options.stack.dataEncryptionKeys,
    // Local linked databases (the embedded Postgres itself, say) live on 127.0.0.1.
    LINKED_DATABASE_ALLOW_PRIVATE_HOSTS: "true",
    ...options.vars,
  };
  const stdio = options.quiet ? "ignore" : "inherit";
  let child: ChildProcess;
  if (options.inspector === false) {
    if (options.extraArgs?.length) throw new Error("extraArgs are wrangler dev arguments");
    const definedVars = Object.fromEntries(Object.entries(vars).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const workerOptions = JSON.stringify({ port: Number(options.port), persistTo: options.persistTo, vars: definedVars });
    child = spawn("npx", ["tsx", path.join(ROOT, "scripts/lib/worker-without-inspector.ts")], {
      cwd: ROOT,
      stdio,
      detached: true,
      env: { ...OFFLINE_ENV, BILLX_WORKER_OPTIONS: workerOptions },
    });
  } else {
    const varArgs = Object.entries(vars).flatMap(([name, value]) => (value === undefined ? [] : ["--var", `${name}:${value}`]));
    child = spawn(
      "npx",
      ["wrangler", "dev", "--port", String(options.port), "--ip", "127.0.0.1", "--persist-to", options.persistTo, ...varArgs, ...(options.extraArgs ?? [])],
      // Its own process group, so stopping it stops workerd too.
      { cwd: ROOT, stdio, detached: true, env: OFFLINE_ENV },
    );
  }
  return {
    process: child,
    stop() {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      } catch {}
    },
  };
}
