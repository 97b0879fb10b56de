import type { Database } from "../db/client";
import type { Config, Env } from "../env";
import type { Logger } from "./log";

/** Who is acting: a signed-in user or an organisation API key. */
export interface Actor {
  kind: "user" | "api_key";
  userId: string | null;
  apiKeyId: string | null;
  sessionId: string | null;
  /** The active organisation of this request, if one could be chosen. */
  orgId: string | null;
  /** The actor's role in the active organisation (system role name or custom role id). */
  role: string | null;
  isSuperAdmin: boolean;
  /** Whether the actor holds `permission` in the active organisation. */
  can(permission: string): boolean;
}

/** Where a request came from, for audit records and rate limits. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

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
  actor: Actor | null;
  request: RequestMeta;
}

export interface AppVariables {
  requestId: string;
  ctx: ServiceCtx;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
