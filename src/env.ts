import { z } from "zod";
import type { DurableObjectEnv } from "../durable-objects/env";
import type { KnowledgeBase } from "../durable-objects/KnowledgeBase";
import type { SalesConversation } from "../durable-objects/SalesConversation";
import { type KeyRing, parseKeyRing } from "./lib/secret-box";
import type { QueueJob } from "./queues/jobs";

/** Bindings, vars and secrets the Worker receives (wrangler.toml + secrets). */
export interface Env extends DurableObjectEnv {
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
  /** The OpenAI Realtime WebSocket endpoint (wss://); CallSession fetches its https:// form with `Upgrade: websocket`. */
  OPENAI_REALTIME_URL?: string;
  OPENAI_REALTIME_MODEL?: string;
  /** The Images API model AI banners are drawn with: dall-e-3 (default) or gpt-image-1. */
  OPENAI_IMAGE_MODEL?: string;
  /** Other chat-model providers, each through its OpenAI-compatible endpoint (the sales chatbot's agents). */
  ANTHROPIC_API_KEY?: string;
  ANTHROPIC_BASE_URL?: string;
  GOOGLE_AI_API_KEY?: string;
  GOOGLE_AI_BASE_URL?: string;
  XAI_API_KEY?: string;
  XAI_BASE_URL?: string;
  /** The provider (openai | anthropic | google | xai) and model of a chatbot agent the organisation's admin did not configure. */
  CHATBOT_DEFAULT_LLM?: string;
  CHATBOT_DEFAULT_MODEL?: string;
  /** Longest phone call in seconds (default 1800), and seconds of silence before the assistant prompts, then hangs up (default 20). */
  CALL_MAX_SECONDS?: string;
  CALL_SILENCE_TIMEOUT_S?: string;
  /** ES256 private JWK (JSON, with `kid`) that signs access tokens. */
  JWT_PRIVATE_KEY?: string;
  /** JSON array of earlier public JWKs still accepted during a key rotation. */
  JWT_PREVIOUS_PUBLIC_KEYS?: string;
  /** Where people open links we send (password reset, invitations). */
  APP_URL?: string;
  GOOGLE_CLIENT_ID?: string;
  GOOGLE_CLIENT_SECRET?: string;
  GOOGLE_AUTH_URL?: string;
  GOOGLE_TOKEN_URL?: string;
  GOOGLE_JWKS_URL?: string;
  GOOGLE_ISSUER?: string;
  /** Comma-separated origins that OAuth sign-in may redirect back to. */
  OAUTH_REDIRECT_ORIGINS?: string;
  /** The email of the first super-admin: made one at a sign-in with that (verified) email while none exists. */
  FIRST_SUPERUSER_EMAIL?: string;
  /** Public base URL of this API, as providers see it (status callbacks, webhook signatures). */
  PUBLIC_API_URL?: string;
  /** The same as PUBLIC_API_URL, by the name the phone-call docs use; wins when both are set. */
  PUBLIC_BASE_URL?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_FROM_NUMBER?: string;
  TWILIO_BASE_URL?: string;
  WHATSAPP_ACCESS_TOKEN?: string;
  WHATSAPP_PHONE_NUMBER_ID?: string;
  WHATSAPP_APP_SECRET?: string;
  WHATSAPP_VERIFY_TOKEN?: string;
  /** The Graph API version WhatsApp calls use (default v22.0); WHATSAPP_GRAPH_VERSION is its older name. */
  WHATSAPP_API_VERSION?: string;
  WHATSAPP_GRAPH_VERSION?: string;
  WHATSAPP_BASE_URL?: string;
  TELEGRAM_BOT_TOKEN?: string;
  TELEGRAM_BASE_URL?: string;
  RESEND_API_KEY?: string;
  RESEND_BASE_URL?: string;
  EMAIL_FROM?: string;
  STRIPE_SECRET_KEY?: string;
  /** The signing secret (`whsec_...`) of the webhook endpoint that posts to /v1/webhooks/stripe. */
  STRIPE_WEBHOOK_SECRET?: string;
  STRIPE_API_BASE?: string;
  /** Stripe price ids (`price_...`) of what Checkout sells: the plans and the credit packs. */
  STRIPE_PRICE_BASIC?: string;
  STRIPE_PRICE_PRO?: string;
  STRIPE_PRICE_CREDITS_1000?: string;
  STRIPE_PRICE_CREDITS_10000?: string;
  STRIPE_PRICE_CREDITS_100000?: string;
  /** How long a bill's public link (`/b/{token}`) works, in days (default 30). */
  BILL_LINK_TTL_DAYS?: string;
  /** The overdue-bill cron reminds a customer at most once per this many days (default 7). */
  BILL_REMINDER_INTERVAL_DAYS?: string;
  /** AES-256 keys sealing linked database URLs: `kid:base64[,kid:base64...]`, the first seals new ones. */
  DATA_ENCRYPTION_KEYS?: string;
  /** `true` lets linked databases live on private addresses (local development and tests only). */
  LINKED_DATABASE_ALLOW_PRIVATE_HOSTS?: string;
  QUERY_TIMEOUT_MS?: string;
  QUERY_MAX_ROWS?: string;
  QUERY_MAX_BYTES?: string;
  /** The model that writes SQL (any OpenAI-compatible provider at OPENAI_BASE_URL). */
  SQL_MODEL?: string;
  /** Embeddings of knowledge-base chunks (OpenAI-compatible, at OPENAI_BASE_URL): model and vector size. */
  KNOWLEDGE_EMBEDDING_MODEL?: string;
  KNOWLEDGE_EMBEDDING_DIMENSIONS?: string;
  /** Largest knowledge-base file accepted, in bytes (default 10 MiB). */
  KNOWLEDGE_MAX_FILE_BYTES?: string;
  /** A vision-capable model on an OpenAI-compatible endpoint that reads scanned PDFs with no text layer (e.g. Gemini's). */
  KNOWLEDGE_VISION_BASE_URL?: string;
  KNOWLEDGE_VISION_API_KEY?: string;
  KNOWLEDGE_VISION_MODEL?: string;
  ELEVENLABS_API_KEY?: string;
  ELEVENLABS_BASE_URL?: string;
  /** Speech defaults when the organisation chose none: provider (openai | elevenlabs), models, voice. */
  SPEECH_PROVIDER?: string;
  /** Longest recording speech-to-text accepts, in seconds (default 600), and largest upload in bytes (default 25 MB). */
  SPEECH_MAX_AUDIO_SECONDS?: string;
  SPEECH_MAX_UPLOAD_BYTES?: string;
  /** Longest text text-to-speech accepts, in characters (default 4096). */
  SPEECH_MAX_TEXT_CHARS?: string;
  /** How long a speech provider may take to answer, in milliseconds (default 120000). */
  SPEECH_TIMEOUT_MS?: string;
  /** Days stored audio is kept in R2 before the cleanup cron deletes it (default 7). */
  AUDIO_RETENTION_DAYS?: string;
  /** Stored files: largest image, document and audio file, largest video (uploaded in parts), largest single upload, each organisation's quota (bytes), signed link lifetime (seconds). */
  FILES_MAX_IMAGE_BYTES?: string;
  FILES_MAX_DOCUMENT_BYTES?: string;
  FILES_MAX_AUDIO_BYTES?: string;
  FILES_MAX_VIDEO_BYTES?: string;
  FILES_MAX_UPLOAD_BYTES?: string;
  FILES_ORG_QUOTA_BYTES?: string;
  FILES_LINK_TTL_SECONDS?: string;
  /** Comma-separated providers that `FAKE_PROVIDERS=1 npm run dev` replaced with local fakes; /healthz reports them. */
  FAKE_PROVIDERS?: string;
  // Bindings
  RATE_LIMIT_AUTH: RateLimit;
  RATE_LIMIT_API: RateLimit;
  // Untyped: the Worker only hands it the media stream (fetch), and CallSession imports this file.
  CALL_SESSION: DurableObjectNamespace;
  SALES_CONVERSATION: DurableObjectNamespace<SalesConversation>;
  KNOWLEDGE_BASE: DurableObjectNamespace<KnowledgeBase>;
  OUTBOUND: Queue<QueueJob>;
  /** Knowledge-base documents to extract, chunk, embed and index. */
  INGEST: Queue<QueueJob>;
  FILES: R2Bucket;
  ASSETS: Fetcher;
}

const graphVersion = z
  .string()
  .regex(/^v\d+\.\d+$/, "must look like v22.0")
  .optional();

const stripePriceId = z
  .string()
  .regex(/^price_\w+$/, "must be a Stripe price id (price_...)")
  .optional();

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
  OPENAI_REALTIME_URL: z
    .string()
    .regex(/^(wss?|https?):\/\/[^\s]+$/, "must be a ws(s):// or http(s):// URL")
    .default("wss://api.openai.com/v1/realtime"),
  OPENAI_REALTIME_MODEL: z.string().min(1).default("gpt-4o-mini-realtime-preview"),
  OPENAI_IMAGE_MODEL: z.string().min(1).default("dall-e-3"),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().default("https://api.anthropic.com/v1/"),
  GOOGLE_AI_API_KEY: z.string().min(1).optional(),
  GOOGLE_AI_BASE_URL: z.url().default("https://generativelanguage.googleapis.com/v1beta/openai/"),
  XAI_API_KEY: z.string().min(1).optional(),
  XAI_BASE_URL: z.url().default("https://api.x.ai/v1"),
  CHATBOT_DEFAULT_LLM: z.enum(["openai", "anthropic", "google", "xai"]).default("openai"),
  CHATBOT_DEFAULT_MODEL: z.string().trim().min(1).max(200).default("gpt-4o-mini"),
  CALL_MAX_SECONDS: z.coerce.number().int().min(10).max(14_400).default(1800),
  CALL_SILENCE_TIMEOUT_S: z.coerce.number().int().min(2).max(600).default(20),
  JWT_PRIVATE_KEY: z
    .string({ error: "JWT_PRIVATE_KEY is not set: an ES256 private JWK (JSON with kid) that signs access tokens" })
    .transform((text, ctx) => parseJwk(text, ctx, true)),
  JWT_PREVIOUS_PUBLIC_KEYS: z
    .string()
    .default("[]")
    .transform((text, ctx) => {
      try {
        const keys = JSON.parse(text) as unknown;
        if (Array.isArray(keys) && keys.every((k) => k && typeof k === "object" && typeof k.kid === "string")) return keys as Jwk[];
      } catch {}
      ctx.addIssue({ code: "custom", message: "must be a JSON array of public JWKs with kid" });
      return z.NEVER;
    }),
  APP_URL: z.url().default("http://127.0.0.1:8787"),
  GOOGLE_CLIENT_ID: z.string().min(1).optional(),
  GOOGLE_CLIENT_SECRET: z.string().min(1).optional(),
  GOOGLE_AUTH_URL: z.url().default("https://accounts.google.com/o/oauth2/v2/auth"),
  GOOGLE_TOKEN_URL: z.url().default("https://oauth2.googleapis.com/token"),
  GOOGLE_JWKS_URL: z.url().default("https://www.googleapis.com/oauth2/v3/certs"),
  GOOGLE_ISSUER: z.string().default("https://accounts.google.com"),
  OAUTH_REDIRECT_ORIGINS: z.string().default(""),
  FIRST_SUPERUSER_EMAIL: z.email("FIRST_SUPERUSER_EMAIL must be an email address").optional(),
  PUBLIC_API_URL: z.url().optional(),
  PUBLIC_BASE_URL: z.url().optional(),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_FROM_NUMBER: z.string().min(1).optional(),
  TWILIO_BASE_URL: z.url().default("https://api.twilio.com"),
  WHATSAPP_ACCESS_TOKEN: z.string().min(1).optional(),
  WHATSAPP_PHONE_NUMBER_ID: z.string().min(1).optional(),
  WHATSAPP_APP_SECRET: z.string().min(1).optional(),
  WHATSAPP_VERIFY_TOKEN: z.string().min(1).optional(),
  WHATSAPP_API_VERSION: graphVersion,
  WHATSAPP_GRAPH_VERSION: graphVersion,
  WHATSAPP_BASE_URL: z.url().default("https://graph.facebook.com"),
  TELEGRAM_BOT_TOKEN: z.string().min(1).optional(),
  TELEGRAM_BASE_URL: z.url().default("https://api.telegram.org"),
  RESEND_API_KEY: z.string().min(1).optional(),
  RESEND_BASE_URL: z.url().default("https://api.resend.com"),
  EMAIL_FROM: z.string().min(3).default("Billx <no-reply@billx.dev>"),
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  STRIPE_API_BASE: z.url().default("https://api.stripe.com"),
  STRIPE_PRICE_BASIC: stripePriceId,
  STRIPE_PRICE_PRO: stripePriceId,
  STRIPE_PRICE_CREDITS_1000: stripePriceId,
  STRIPE_PRICE_CREDITS_10000: stripePriceId,
  STRIPE_PRICE_CREDITS_100000: stripePriceId,
  BILL_LINK_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  BILL_REMINDER_INTERVAL_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  DATA_ENCRYPTION_KEYS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === "") return undefined;
      const ring = parseKeyRing(text);
      if (typeof ring === "string") {
        ctx.addIssue({ code: "custom", message: ring });
        return z.NEVER;
      }
      return ring;
    }),
  LINKED_DATABASE_ALLOW_PRIVATE_HOSTS: z.enum(["true", "false"]).default("false"),
  QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5000),
  QUERY_MAX_ROWS: z.coerce.number().int().min(1).max(100_000).default(1000),
  QUERY_MAX_BYTES: z.coerce.number().int().min(1024).max(50_000_000).default(1_000_000),
  SQL_MODEL: z.string().min(1).default("gpt-4o-mini"),
  KNOWLEDGE_EMBEDDING_MODEL: z.string().min(1).default("text-embedding-3-large"),
  KNOWLEDGE_EMBEDDING_DIMENSIONS: z.coerce.number().int().min(64).max(3072).default(1536),
  KNOWLEDGE_MAX_FILE_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(10_485_760),
  KNOWLEDGE_VISION_BASE_URL: z.url().optional(),
  KNOWLEDGE_VISION_API_KEY: z.string().min(1).optional(),
  KNOWLEDGE_VISION_MODEL: z.string().min(1).default("gemini-2.5-flash"),
  ELEVENLABS_API_KEY: z.string().min(1).optional(),
  ELEVENLABS_BASE_URL: z.url().default("https://api.elevenlabs.io"),
  SPEECH_PROVIDER: z.enum(["openai", "elevenlabs"]).default("openai"),
  SPEECH_MAX_AUDIO_SECONDS: z.coerce.number().int().min(1).max(7200).default(600),
  SPEECH_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(25_000_000),
  SPEECH_MAX_TEXT_CHARS: z.coerce.number().int().min(1).max(100_000).default(4096),
  SPEECH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(120_000),
  AUDIO_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  FILES_MAX_IMAGE_BYTES: z.coerce.number().int().min(1024).max(1_000_000_000).default(10_485_760),
  FILES_MAX_DOCUMENT_BYTES: z.coerce.number().int().min(1024).max(1_000_000_000).default(20_971_520),
  FILES_MAX_AUDIO_BYTES: z.coerce.number().int().min(1024).max(1_000_000_000).default(26_214_400),
  FILES_MAX_VIDEO_BYTES: z.coerce.number().int().min(1024).max(50_000_000_000).default(2_147_483_648),
  FILES_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(26_214_400),
  FILES_ORG_QUOTA_BYTES: z.coerce.number().int().min(1024).max(10_000_000_000_000).default(5_368_709_120),
  FILES_LINK_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(900),
  FAKE_PROVIDERS: z.string().default(""),
});

/** Every configuration variable the Worker reads (`npm run dev` passes those set in its environment through). */
export const CONFIG_VARIABLES = Object.keys(ConfigSchema.shape) as (keyof typeof ConfigSchema.shape)[];

/** A JSON Web Key as stored in configuration. */
export type Jwk = JsonWebKey & { kid: string; alg?: string };

function parseJwk(text: string, ctx: z.RefinementCtx, requirePrivate: boolean): Jwk {
  try {
    const key = JSON.parse(text) as Jwk;
    if (key.kty === "EC" && key.crv === "P-256" && typeof key.kid === "string" && (!requirePrivate || typeof key.d === "string")) return key;
  } catch {}
  ctx.addIssue({ code: "custom", message: "must be an ES256 (EC P-256) private JWK in JSON with a kid" });
  return z.NEVER;
}

export interface Config {
  databaseUrl: string;
  neonLocalGateway?: string;
  environment: "development" | "test" | "production";
  corsOrigins: string[];
  maxBodyBytes: number;
  logLevel: "debug" | "info" | "warn" | "error";
  openai: { apiKey?: string; baseUrl: string };
  /** AI content: the Images API model banners are drawn with. */
  ai: { imageModel: string };
  /** Chat models beyond OpenAI (OpenAI-compatible endpoints) and the chatbot's default choice. */
  llm: LlmConfig;
  jwt: { privateKey: Jwk; previousPublicKeys: Jwk[] };
  appUrl: string;
  google: { clientId?: string; clientSecret?: string; authUrl: string; tokenUrl: string; jwksUrl: string; issuer: string };
  oauthRedirectOrigins: string[];
  /** Lower-cased; the one-time bootstrap of the first super-admin (src/modules/identity/auth/first-superuser.ts). */
  firstSuperuserEmail?: string;
  publicApiUrl?: string;
  twilio: { accountSid?: string; authToken?: string; fromNumber?: string; baseUrl: string };
  whatsapp: { accessToken?: string; phoneNumberId?: string; appSecret?: string; verifyToken?: string; graphVersion: string; baseUrl: string };
  telegram: { botToken?: string; baseUrl: string };
  email: { resendApiKey?: string; baseUrl: string; from: string };
  stripe: StripeConfig;
  bills: { linkTtlDays: number; reminderIntervalDays: number };
  dataEncryption?: KeyRing;
  linkedDatabases: { allowPrivateHosts: boolean; timeoutMs: number; maxRows: number; maxBytes: number; sqlModel: string };
  knowledge: KnowledgeConfig;
  speech: SpeechConfig;
  files: FilesConfig;
  calls: CallsConfig;
  /** Providers replaced by local fakes (`FAKE_PROVIDERS=1 npm run dev`); empty in production. */
  fakeProviders: string[];
}

/** The other OpenAI-compatible chat providers (key and base URL each) and the chatbot agents' default. */
export interface LlmConfig {
  anthropic: { apiKey?: string; baseUrl: string };
  google: { apiKey?: string; baseUrl: string };
  xai: { apiKey?: string; baseUrl: string };
  chatbotDefault: { provider: "openai" | "anthropic" | "google" | "xai"; model: string };
}

/** Phone calls: where the Realtime model is and how long a call may run. */
export interface CallsConfig {
  /** The https:// form of OPENAI_REALTIME_URL: a Worker opens a WebSocket by fetching it with `Upgrade: websocket`. */
  realtimeHttpsUrl: string;
  realtimeModel: string;
  maxSeconds: number;
  silenceTimeoutSeconds: number;
}

/** Speech providers and the limits of speech routes. */
export interface SpeechConfig {
  elevenlabs: { apiKey?: string; baseUrl: string };
  defaultProvider: "openai" | "elevenlabs";
  maxAudioSeconds: number;
  maxUploadBytes: number;
  maxTextChars: number;
  timeoutMs: number;
  retentionDays: number;
}

/** Stored files: limits by kind (bytes), the largest single upload, each organisation's quota, signed link lifetime. */
export interface FilesConfig {
  maxBytes: { image: number; document: number; audio: number; video: number };
  maxUploadBytes: number;
  orgQuotaBytes: number;
  linkTtlSeconds: number;
}

/** How knowledge-base documents are read and embedded. */
export interface KnowledgeConfig {
  embeddingModel: string;
  embeddingDimensions: number;
  maxFileBytes: number;
  /** Set only when both a base URL and a key are configured: scanned PDFs fail without it. */
  vision?: { baseUrl: string; apiKey: string; model: string };
}

/** Stripe: keys, where the API is, the price id of each thing Checkout sells, where Checkout returns. */
export interface StripeConfig {
  secretKey?: string;
  webhookSecret?: string;
  apiBase: string;
  /** Price ids by plan or credit-pack name (`basic`, `pro`, `credits_1000`, ...); a missing one is unsold. */
  prices: Record<string, string | undefined>;
  /** Where Checkout sends the buyer after paying; Stripe fills in `{CHECKOUT_SESSION_ID}`. */
  successUrl: string;
  cancelUrl: string;
  /** Where the billing portal's "return" link goes. */
  portalReturnUrl: string;
}

/** The variable that holds the Stripe price id of a plan or credit pack, e.g. `STRIPE_PRICE_CREDITS_1000`. */
export function stripePriceVariable(name: string): string {
  return `STRIPE_PRICE_${name.toUpperCase()}`;
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

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * Drops the configuration parsed from `env`, so the next `loadConfig` reads its variables again.
 * Only the test harness needs it: one isolate runs many test files, and each file points the
 * shared `env` at its own database before its first request.
 */
export function forgetConfig(env: Env): void {
  parsed.delete(env);
}

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
    ai: { imageModel: vars.OPENAI_IMAGE_MODEL },
    llm: {
      anthropic: { apiKey: vars.ANTHROPIC_API_KEY, baseUrl: vars.ANTHROPIC_BASE_URL },
      google: { apiKey: vars.GOOGLE_AI_API_KEY, baseUrl: vars.GOOGLE_AI_BASE_URL },
      xai: { apiKey: vars.XAI_API_KEY, baseUrl: vars.XAI_BASE_URL },
      chatbotDefault: { provider: vars.CHATBOT_DEFAULT_LLM, model: vars.CHATBOT_DEFAULT_MODEL },
    },
    jwt: { privateKey: vars.JWT_PRIVATE_KEY, previousPublicKeys: vars.JWT_PREVIOUS_PUBLIC_KEYS },
    appUrl: vars.APP_URL,
    google: {
      clientId: vars.GOOGLE_CLIENT_ID,
      clientSecret: vars.GOOGLE_CLIENT_SECRET,
      authUrl: vars.GOOGLE_AUTH_URL,
      tokenUrl: vars.GOOGLE_TOKEN_URL,
      jwksUrl: vars.GOOGLE_JWKS_URL,
      issuer: vars.GOOGLE_ISSUER,
    },
    oauthRedirectOrigins: splitList(vars.OAUTH_REDIRECT_ORIGINS),
    firstSuperuserEmail: vars.FIRST_SUPERUSER_EMAIL?.trim().toLowerCase(),
    publicApiUrl: vars.PUBLIC_BASE_URL ?? vars.PUBLIC_API_URL,
    twilio: { accountSid: vars.TWILIO_ACCOUNT_SID, authToken: vars.TWILIO_AUTH_TOKEN, fromNumber: vars.TWILIO_FROM_NUMBER, baseUrl: vars.TWILIO_BASE_URL },
    whatsapp: {
      accessToken: vars.WHATSAPP_ACCESS_TOKEN,
      phoneNumberId: vars.WHATSAPP_PHONE_NUMBER_ID,
      appSecret: vars.WHATSAPP_APP_SECRET,
      verifyToken: vars.WHATSAPP_VERIFY_TOKEN,
      graphVersion: vars.WHATSAPP_API_VERSION ?? vars.WHATSAPP_GRAPH_VERSION ?? "v22.0",
      baseUrl: vars.WHATSAPP_BASE_URL,
    },
    telegram: { botToken: vars.TELEGRAM_BOT_TOKEN, baseUrl: vars.TELEGRAM_BASE_URL },
    email: { resendApiKey: vars.RESEND_API_KEY, baseUrl: vars.RESEND_BASE_URL, from: vars.EMAIL_FROM },
    stripe: {
      secretKey: vars.STRIPE_SECRET_KEY,
      webhookSecret: vars.STRIPE_WEBHOOK_SECRET,
      apiBase: vars.STRIPE_API_BASE,
      prices: {
        basic: vars.STRIPE_PRICE_BASIC,
        pro: vars.STRIPE_PRICE_PRO,
        credits_1000: vars.STRIPE_PRICE_CREDITS_1000,
        credits_10000: vars.STRIPE_PRICE_CREDITS_10000,
        credits_100000: vars.STRIPE_PRICE_CREDITS_100000,
      },
      successUrl: `${vars.APP_URL.replace(/\/+$/, "")}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: `${vars.APP_URL.replace(/\/+$/, "")}/billing/cancel`,
      portalReturnUrl: `${vars.APP_URL.replace(/\/+$/, "")}/billing`,
    },
    bills: { linkTtlDays: vars.BILL_LINK_TTL_DAYS, reminderIntervalDays: vars.BILL_REMINDER_INTERVAL_DAYS },
    dataEncryption: vars.DATA_ENCRYPTION_KEYS,
    linkedDatabases: {
      allowPrivateHosts: vars.LINKED_DATABASE_ALLOW_PRIVATE_HOSTS === "true",
      timeoutMs: vars.QUERY_TIMEOUT_MS,
      maxRows: vars.QUERY_MAX_ROWS,
      maxBytes: vars.QUERY_MAX_BYTES,
      sqlModel: vars.SQL_MODEL,
    },
    knowledge: {
      embeddingModel: vars.KNOWLEDGE_EMBEDDING_MODEL,
      embeddingDimensions: vars.KNOWLEDGE_EMBEDDING_DIMENSIONS,
      maxFileBytes: vars.KNOWLEDGE_MAX_FILE_BYTES,
      vision:
        vars.KNOWLEDGE_VISION_BASE_URL && vars.KNOWLEDGE_VISION_API_KEY
          ? { baseUrl: vars.KNOWLEDGE_VISION_BASE_URL, apiKey: vars.KNOWLEDGE_VISION_API_KEY, model: vars.KNOWLEDGE_VISION_MODEL }
          : undefined,
    },
    speech: {
      elevenlabs: { apiKey: vars.ELEVENLABS_API_KEY, baseUrl: vars.ELEVENLABS_BASE_URL },
      defaultProvider: vars.SPEECH_PROVIDER,
      maxAudioSeconds: vars.SPEECH_MAX_AUDIO_SECONDS,
      maxUploadBytes: vars.SPEECH_MAX_UPLOAD_BYTES,
      maxTextChars: vars.SPEECH_MAX_TEXT_CHARS,
      timeoutMs: vars.SPEECH_TIMEOUT_MS,
      retentionDays: vars.AUDIO_RETENTION_DAYS,
    },
    files: {
      maxBytes: {
        image: vars.FILES_MAX_IMAGE_BYTES,
        document: vars.FILES_MAX_DOCUMENT_BYTES,
        audio: vars.FILES_MAX_AUDIO_BYTES,
        video: vars.FILES_MAX_VIDEO_BYTES,
      },
      maxUploadBytes: vars.FILES_MAX_UPLOAD_BYTES,
      orgQuotaBytes: vars.FILES_ORG_QUOTA_BYTES,
      linkTtlSeconds: vars.FILES_LINK_TTL_SECONDS,
    },
    calls: {
      realtimeHttpsUrl: vars.OPENAI_REALTIME_URL.replace(/^ws(s?):/, "http$1:"),
      realtimeModel: vars.OPENAI_REALTIME_MODEL,
      maxSeconds: vars.CALL_MAX_SECONDS,
      silenceTimeoutSeconds: vars.CALL_SILENCE_TIMEOUT_S,
    },
    fakeProviders: splitList(vars.FAKE_PROVIDERS),
  };
  parsed.set(env, config);
  return config;
}
