import { type ChildProcess, spawn } from "node:child_process";
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
  const varArgs = Object.entries(vars).flatMap(([name, value]) => (value === undefined ? [] : ["--var", `${name}:${value}`]));
  const child = spawn(
    "npx",
    ["wrangler", "dev", "--port", String(options.port), "--ip", "127.0.0.1", "--persist-to", options.persistTo, ...varArgs, ...(options.extraArgs ?? [])],
    // Its own process group, so stopping it stops workerd too.
    { cwd: ROOT, stdio: options.quiet ? "ignore" : "inherit", detached: true, env: OFFLINE_ENV },
  );
  return {
    process: child,
    stop() {
      try {
        if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      } catch {}
    },
  };
}
