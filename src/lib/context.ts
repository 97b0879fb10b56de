import type { Database } from "../db/client";
import type { Config, Env } from "../env";
import type { Logger } from "./log";

/**
 * What every service function receives. Routes, queue consumers, cron jobs, Durable Objects and
 * tests build it the same way; a service never sees the HTTP request.
 */
export interface ServiceCtx {
  db: Database;
  config: Config;
  env: Env;
  log: Logger;
  now: () => Date;
  waitUntil(promise: Promise<unknown>): void;
}

export interface AppVariables {
  requestId: string;
  ctx: ServiceCtx;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
