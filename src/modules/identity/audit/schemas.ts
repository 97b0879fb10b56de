import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const AUDIT_EVENT_ID_EXAMPLE = "aud_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

export const AuditQuery = pageQuery({ defaultLimit: 20, cursorExample: AUDIT_EVENT_ID_EXAMPLE }).extend({
  action: z.string().trim().min(1).max(100).optional().openapi({ description: "Only events with exactly this action", example: "member.role_changed" }),
});

export const AuditEvent = z
  .object({
    id: z.string().openapi({ description: "Event id; ids sort by time", example: AUDIT_EVENT_ID_EXAMPLE }),
    action: z.string().openapi({ description: "What happened, `resource.verb`", example: "member.role_changed" }),
    actor_user_id: z.string().nullable().openapi({ description: "The user who acted, if a user did", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    actor_api_key_id: z.string().nullable().openapi({ description: "The API key that acted, if a key did", example: null }),
    target_type: z.string().nullable().openapi({ description: "Kind of thing acted on", example: "user" }),
    target_id: z.string().nullable().openapi({ description: "Id of the thing acted on", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKB" }),
    ip: z.string().nullable().openapi({ description: "Client IP of the request", example: "203.0.113.7" }),
    metadata: z.record(z.string(), z.unknown()).openapi({ description: "Details of the event; never secrets", example: { from: "member", to: "admin" } }),
    created_at: z.string().openapi({ description: "When it happened (ISO 8601, UTC)", example: "2025-01-31T09:30:00.000Z" }),
  })
  .openapi("AuditEvent");

export const AuditEventList = pageSchema(AuditEvent, "AuditEventList", {
  data: "Events, newest first",
  nextCursor: "Pass as `cursor` for the next (older) page; null on the last page",
});

export type AuditEventView = z.infer<typeof AuditEvent>;
