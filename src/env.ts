import { z } from "zod";
import type { CallSession } from "../durable-objects/CallSession";
import type { KnowledgeBase } from "../durable-objects/KnowledgeBase";
import type { SalesConversation } from "../durable-objects/SalesConversation";
import type { QueueJob } from "./queues/jobs";

/** Bindings, vars and secrets the Worker receives (wrangler.toml + secrets). */
export interface Env {
  // Secrets and vars
  DATABASE_URL?: string;
  /** Local development and tests only: host:port of scripts/lib/neon-gateway.ts. */
  NEON_LOCAL_GATEWAY?: string;
  ENVIRONMENT?: string;
  CORS_ORIGINS?: string;
  MAX_BODY_BYTES?: string;
  LOG_LEVEL?: string;
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  // Bindings
  CALL_SESSION: DurableObjectNamespace<CallSession>;
  SALES_CONVERSATION: DurableObjectNamespace<SalesConversation>;
  KNOWLEDGE_BASE: DurableObjectNamespace<KnowledgeBase>;
  OUTBOUND: Queue<QueueJob>;
  FILES: R2Bucket;
  ASSETS: Fetcher;
}

const ConfigSchema = z.object({
  DATABASE_URL: z
    .string({ error: "DATABASE_URL is not set: the Postgres (Neon) connection string" })
    .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must be a postgres:// connection string"),
  NEON_LOCAL_GATEWAY: z
    .string()
    .regex(/^[\w.-]+:\d+$/, "NEON_LOCAL_GATEWAY must be host:port")
    .optional(),
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  CORS_ORIGINS: z.string().default(""),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().default("https://api.openai.com/v1"),
});

export interface Config {
  databaseUrl: string;
  neonLocalGateway?: string;
  environment: "development" | "test" | "production";
  corsOrigins: string[];
  maxBodyBytes: number;
  logLevel: "debug" | "info" | "warn" | "error";
  openai: { apiKey?: string; baseUrl: string };
}

/** Raised when the Worker's configuration is incomplete; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

const parsed = new WeakMap<object, Config>();

/**
 * Validates the environment once per `env` object (an isolate reuses it across requests)
 * and returns typed configuration. Throws `ConfigError` naming the first bad variable.
 */
export function loadConfig(env: Env): Config {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    throw new ConfigError(variable, `Invalid configuration: ${variable}: ${issue?.message}`);
  }
  const vars = result.data;
  const config: Config = {
    databaseUrl: vars.DATABASE_URL,
    neonLocalGateway: vars.NEON_LOCAL_GATEWAY,
    environment: vars.ENVIRONMENT,
    corsOrigins: vars.CORS_ORIGINS.split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    maxBodyBytes: vars.MAX_BODY_BYTES,
    logLevel: vars.LOG_LEVEL,
    openai: { apiKey: vars.OPENAI_API_KEY, baseUrl: vars.OPENAI_BASE_URL },
  };
  parsed.set(env, config);
  return config;
}
