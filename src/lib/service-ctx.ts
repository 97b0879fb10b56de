import { createDb } from "../db/client";
import { type Env, loadConfig } from "../env";
import type { RequestMeta, ServiceCtx } from "./context";
import { createLogger, type LogFields } from "./log";

const NO_REQUEST: RequestMeta = { ip: null, userAgent: null, requestId: null };

/** Builds a `ServiceCtx` for one unit of work (a request, a queue batch, a cron tick). */
export function createServiceCtx(env: Env, waitUntil: (p: Promise<unknown>) => void, logFields: LogFields = {}, request: RequestMeta = NO_REQUEST): ServiceCtx {
  const config = loadConfig(env);
  return {
    db: createDb(config),
    config,
    env,
    log: createLogger(config.logLevel, logFields),
    now: () => new Date(),
    waitUntil,
    actor: null,
    request,
  };
}
