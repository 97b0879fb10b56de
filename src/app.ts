import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { sqlStateOf } from "./db/errors";
import { inputProblemOf } from "./db/input-problems";
import { ConfigError, loadConfig } from "./env";
import type { AppEnv } from "./lib/context";
import { AppError, BadRequest, InternalError, MethodNotAllowed, NotFound, PayloadTooLarge, problemResponse } from "./lib/errors";
import { isProviderCallback, refuseNul } from "./lib/input-guard";
import { createLogger, withoutQueryParams } from "./lib/log";
import { allowedMethods } from "./lib/method-not-allowed";
import { createServiceCtx } from "./lib/service-ctx";
import { assistantsRoutes } from "./modules/assistants/assistants/routes";
import { knowledgeRoutes } from "./modules/assistants/knowledge/routes";
import { phoneNumbersRoutes } from "./modules/calls/numbers/routes";
import { onboardingRoutes } from "./modules/calls/onboarding/routes";
import { callRecordsRoutes } from "./modules/calls/records/routes";
import { voiceWebhookRoutes } from "./modules/calls/voice-webhooks/routes";
import { aiRoutes } from "./modules/content/ai/routes";
import { campaignsRoutes } from "./modules/content/campaigns/routes";
import { filesRoutes } from "./modules/content/files/routes";
import { analyticsSqlRoutes } from "./modules/data/analytics-sql/routes";
import { databasesRoutes } from "./modules/data/databases/routes";
import { queryRoutes } from "./modules/data/query/routes";
import { sqlGuardRoutes } from "./modules/data/sql-guard/routes";
import { toolsRoutes } from "./modules/data/tools/routes";
import { apiKeysRoutes } from "./modules/identity/api-keys/routes";
import { auditRoutes } from "./modules/identity/audit/routes";
import { googleAuthRoutes } from "./modules/identity/auth/google-routes";
import { recoveryRoutes } from "./modules/identity/auth/recovery-routes";
import { authRoutes } from "./modules/identity/auth/routes";
import { membersRoutes } from "./modules/identity/members/routes";
import { orgSettingsRoutes } from "./modules/identity/org-settings/routes";
import { orgsRoutes } from "./modules/identity/orgs/routes";
import { phoneRoutes } from "./modules/identity/phone/routes";
import { rolesRoutes } from "./modules/identity/roles/routes";
import { messagesRoutes } from "./modules/messaging/outbound/routes";
import { messagingWebhookRoutes } from "./modules/messaging/outbound/webhooks";
import { creditsRoutes } from "./modules/money/credits/routes";
import { paymentsRoutes } from "./modules/money/payments/routes";
import { plansRoutes } from "./modules/money/plans/routes";
import { docsRoutes } from "./modules/platform/docs/routes";
import { healthRoutes } from "./modules/platform/health/routes";
import { billDeliveryRoutes } from "./modules/retail/bills/delivery-routes";
import { billPublicRoutes } from "./modules/retail/bills/public-routes";
import { billsRoutes } from "./modules/retail/bills/routes";
import { customersRoutes } from "./modules/retail/customers/routes";
import { dashboardRoutes } from "./modules/retail/dashboard/routes";
import { merchantsRoutes } from "./modules/retail/merchants/routes";
import { productsRoutes } from "./modules/retail/products/routes";
import { receivablesRoutes } from "./modules/retail/receivables/routes";
import { salesAgentRoutes } from "./modules/sales/agents/routes";
import { salesBillingRoutes } from "./modules/sales/billing/routes";
import { salesChannelRoutes } from "./modules/sales/channels/routes";
import { salesChannelWebhookRoutes } from "./modules/sales/channels/webhooks";
import { salesChatRoutes } from "./modules/sales/chat/routes";
import { salesConversationRoutes } from "./modules/sales/conversations/routes";
import { salesFlowRoutes } from "./modules/sales/flows/routes";
import { salesSettingsRoutes } from "./modules/sales/settings/routes";
import { salesWidgetRoutes } from "./modules/sales/widget/routes";
import { speechRoutes } from "./modules/speech/routes";
import { agentAnalyticsRoutes } from "./modules/usage/agent-analytics/routes";
import { agentsRoutes } from "./modules/usage/agents/routes";
import { billingModelsRoutes } from "./modules/usage/billing-models/routes";
import { eventsRoutes } from "./modules/usage/events/routes";
import { invoicesRoutes } from "./modules/usage/invoices/routes";

export const app = new OpenAPIHono<AppEnv>();

app.use(requestId());

// One structured line per request. The path is logged without its query string, which may
// carry tokens (OAuth codes, password-reset links).
app.use(async function accessLog(c, next) {
  const started = Date.now();
  await next();
  const level = loadConfigOrNull(c)?.logLevel ?? "info";
  createLogger(level).info("request", {
    request_id: c.var.requestId,
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    duration_ms: Date.now() - started,
  });
});

app.use(secureHeaders());

app.use(async function corsFromConfig(c, next) {
  // The chat widget runs on shops' own sites: its routes answer CORS for the origins of each key.
  if (c.req.path.startsWith("/v1/widget/")) return next();
  const origins = loadConfig(c.env).corsOrigins;
  return cors({ origin: origins, credentials: true, exposeHeaders: ["X-Request-Id"], maxAge: 600 })(c, next);
});

// Document uploads carry files: their own limit (all files together), the rest the API's.
const KNOWLEDGE_UPLOAD = /^\/v1\/assistants\/[^/]+\/documents\/?$/;
// Recordings: their own limit too (SPEECH_MAX_UPLOAD_BYTES).
const AUDIO_UPLOAD = /^\/v1\/(?:stt|query\/audio-chat)\/?$/;
// Stored files (one or a batch) and parts of an upload in parts: FILES_MAX_UPLOAD_BYTES.
const FILE_UPLOAD = /^\/v1\/files(?:\/batch)?\/?$/;
const FILE_PART = /^\/v1\/files\/uploads\/[^/]+\/parts\/[^/]+\/?$/;
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

app.use(async function limitBody(c, next) {
  const config = loadConfig(c.env);
  const uploadLimit =
    c.req.method === "PUT" && FILE_PART.test(c.req.path)
      ? config.files.maxUploadBytes
      : c.req.method !== "POST"
        ? undefined
        : KNOWLEDGE_UPLOAD.test(c.req.path)
          ? config.knowledge.maxFileBytes
          : AUDIO_UPLOAD.test(c.req.path)
            ? config.speech.maxUploadBytes
            : FILE_UPLOAD.test(c.req.path)
              ? config.files.maxUploadBytes
              : undefined;
  const maxSize = uploadLimit === undefined ? config.maxBodyBytes : uploadLimit + MULTIPART_OVERHEAD_BYTES;
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new PayloadTooLarge(maxSize);
    },
  })(c, next);
});

// After the body limit (the guard reads JSON bodies), before any route can query with a NUL.
app.use(refuseNul);

app.use(async function serviceContext(c, next) {
  const request = {
    // Set by Cloudflare's edge; a client cannot forge it in production.
    ip: c.req.header("CF-Connecting-IP") ?? null,
    userAgent: c.req.header("User-Agent") ?? null,
    requestId: c.var.requestId,
  };
  c.set(
    "ctx",
    createServiceCtx(c.env, (p) => c.executionCtx.waitUntil(p), { request_id: c.var.requestId }, request),
  );
  await next();
});

app.route("/", healthRoutes);
app.route("/", authRoutes);
app.route("/", googleAuthRoutes);
app.route("/", recoveryRoutes);
app.route("/", apiKeysRoutes);
app.route("/", orgsRoutes);
app.route("/", orgSettingsRoutes);
app.route("/", phoneRoutes);
app.route("/", membersRoutes);
app.route("/", rolesRoutes);
app.route("/", auditRoutes);
app.route("/", messagesRoutes);
app.route("/", messagingWebhookRoutes);
app.route("/", paymentsRoutes);
app.route("/", productsRoutes);
app.route("/", creditsRoutes);
app.route("/", plansRoutes);
app.route("/", aiRoutes);
app.route("/", filesRoutes);
app.route("/", campaignsRoutes);
app.route("/", analyticsSqlRoutes);
app.route("/", customersRoutes);
app.route("/", agentsRoutes);
// Before the assistants' routes: `onboard` is not an assistant id.
app.route("/", onboardingRoutes);
app.route("/", assistantsRoutes);
app.route("/", knowledgeRoutes);
app.route("/", phoneNumbersRoutes);
app.route("/", callRecordsRoutes);
app.route("/", voiceWebhookRoutes);
app.route("/", eventsRoutes);
app.route("/", agentAnalyticsRoutes);
app.route("/", billingModelsRoutes);
app.route("/", receivablesRoutes);
app.route("/", billsRoutes);
app.route("/", billDeliveryRoutes);
app.route("/", billPublicRoutes);
app.route("/", invoicesRoutes);
app.route("/", merchantsRoutes);
app.route("/", dashboardRoutes);
app.route("/", databasesRoutes);
app.route("/", queryRoutes);
app.route("/", speechRoutes);
app.route("/", toolsRoutes);
app.route("/", sqlGuardRoutes);
app.route("/", salesSettingsRoutes);
app.route("/", salesBillingRoutes);
app.route("/", salesFlowRoutes);
app.route("/", salesChatRoutes);
app.route("/", salesConversationRoutes);
app.route("/", salesAgentRoutes);
app.route("/", salesWidgetRoutes);
// Webhooks before the management routes: `telegram` and `whatsapp` are not channel ids.
app.route("/", salesChannelWebhookRoutes);
app.route("/", salesChannelRoutes);
app.route("/", docsRoutes);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
  type: "http",
  scheme: "bearer",
  description: "A user access token (JWT) or an API key",
});

app.doc31("/openapi.json", (c) => ({
  openapi: "3.1.0",
  info: {
    title: "Billx API",
    version: "1.0.0",
    description: "AI agents that talk, answer from your data, and get paid. Errors are RFC 9457 `application/problem+json`.",
  },
  servers: [{ url: new URL(c.req.url).origin }],
}));

app.notFound((c) => {
  const allowed = allowedMethods(app.routes, c.req.path);
  if (allowed.length > 0 && !allowed.includes(c.req.method)) {
    return problemResponse(new MethodNotAllowed(c.req.method, c.req.path, allowed), c.var.requestId);
  }
  return problemResponse(new NotFound("route", `${c.req.method} ${c.req.path}`), c.var.requestId);
});

app.onError((error, c) => problemResponse(toAppError(error, c), c.var.requestId));

function toAppError(error: unknown, c: Context<AppEnv>): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    // Hono's own validators raise 400 for a body that is not valid JSON.
    if (error.status === 400) return new BadRequest(error.message || "Malformed request");
    return new AppError(error.status, "https://billx.dev/problems/http", error.message || "HTTP error");
  }
  const log = createLogger("error", { request_id: c.var.requestId });
  // A provider's callback was signed and checked: a database refusal while applying it is ours,
  // and only a 5xx makes the provider send it again.
  const inputProblem = isProviderCallback(c.req.path) ? undefined : inputProblemOf(error);
  if (inputProblem) {
    // A route let bad input through to Postgres: the client gets a 4xx, the log the statement
    // and its SQLSTATE (never the bound values) so the route's validation can be fixed.
    log.warn("database refused the request's input", { sqlstate: sqlStateOf(error), error });
    return inputProblem;
  }
  if (error instanceof ConfigError) {
    log.error("configuration error", { variable: error.variable, error: error.message });
  } else {
    // The detail stays in the log; the client sees a bland 500 with the request id.
    log.error("unhandled error", { error, stack: error instanceof Error && error.stack ? withoutQueryParams(error.stack) : undefined });
  }
  return new InternalError();
}

function loadConfigOrNull(c: Context<AppEnv>) {
  try {
    return loadConfig(c.env);
  } catch {
    return null;
  }
}
