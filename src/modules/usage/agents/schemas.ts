import { z } from "@hono/zod-openapi";
import { AGENT_STATUSES } from "../../../db/schema/monetisation";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

export const AGENT_ID_EXAMPLE = "agt_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const AGENT_METADATA_MAX_BYTES = 8192;

const encoder = new TextEncoder();

/**
 * A free-form JSON object, capped by its serialised size so a client cannot park megabytes on a
 * row that every list and stats query reads. Shared with event metadata.
 */
export function metadataObject(maxBytes: number, description: string, example: Record<string, unknown>) {
  return z
    .record(z.string(), z.unknown())
    .refine((value) => encoder.encode(JSON.stringify(value)).length <= maxBytes, `At most ${maxBytes} bytes of JSON`)
    .openapi({ description: `${description}; a JSON object of at most ${maxBytes} bytes`, example });
}

const Name = z.string().trim().min(1).max(200).openapi({ description: "What the agent is called", example: "Support triage bot" });
const Description = z.string().trim().max(2000).openapi({ description: "What the agent does", example: "Answers first-line support emails" });
const ExternalId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .openapi({ description: "Your own id for the agent, unique in the organisation", example: "bot-support-eu-1" });
const CustomerId = z
  .string()
  .max(100)
  .openapi({ description: "The organisation's customer this agent works for; its events are billed to that customer", example: CUSTOMER_ID_EXAMPLE });
const Metadata = metadataObject(AGENT_METADATA_MAX_BYTES, "Your own data about the agent", { region: "eu" });
const Status = z.enum(AGENT_STATUSES).openapi({
  description: "active: records events and counts as a seat; paused: records events, no seat; archived: records nothing",
  example: "active",
});

export const CreateAgentBody = z
  .object({
    name: Name,
    description: Description.optional(),
    external_id: ExternalId.optional(),
    // The example is null so a documented example body creates an agent in any organisation.
    customer_id: CustomerId.nullable().optional().openapi({ example: null }),
    metadata: Metadata.optional(),
    status: Status.optional(),
  })
  .openapi("CreateAgentRequest");

export const UpdateAgentBody = z
  .object({
    name: Name.optional(),
    description: Description.nullable().optional(),
    external_id: ExternalId.nullable().optional(),
    customer_id: CustomerId.nullable().optional(),
    metadata: Metadata.optional().openapi({ description: "Replaces the agent's metadata" }),
    status: Status.optional(),
  })
  .openapi("UpdateAgentRequest");

export const Agent = z
  .object({
    id: z.string().openapi({ description: "Agent id", example: AGENT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "What the agent is called", example: "Support triage bot" }),
    description: z.string().nullable().openapi({ description: "What the agent does", example: "Answers first-line support emails" }),
    external_id: z.string().nullable().openapi({ description: "Your own id for the agent", example: "bot-support-eu-1" }),
    customer_id: z.string().nullable().openapi({ description: "The customer this agent works for, or null", example: CUSTOMER_ID_EXAMPLE }),
    metadata: z.record(z.string(), z.unknown()).openapi({ description: "Your own data about the agent", example: { region: "eu" } }),
    status: z.enum(AGENT_STATUSES).openapi({ description: "active, paused or archived", example: "active" }),
    created_at: z.string().openapi({ description: "When the agent was added", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the agent last changed", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("Agent");

export const AgentList = pageSchema(Agent, "AgentList", { data: "Agents, oldest first; archived ones only when asked for with `status`" });

export const AgentListQuery = pageQuery({ defaultLimit: 50, cursorExample: AGENT_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name or external id, case-insensitive", example: "support" }),
  status: z.enum(AGENT_STATUSES).optional().openapi({ description: "Only agents with this status (without it: active and paused)", example: "active" }),
  customer_id: z.string().max(100).optional().openapi({ description: "Only agents working for this customer", example: CUSTOMER_ID_EXAMPLE }),
});

export const AgentIdParam = z.object({
  id: pathId("id", "agt", "Agent id", AGENT_ID_EXAMPLE),
});

export type CreateAgentInput = z.infer<typeof CreateAgentBody>;
export type UpdateAgentInput = z.infer<typeof UpdateAgentBody>;
export type AgentListInput = z.infer<typeof AgentListQuery>;
export type AgentView = z.infer<typeof Agent>;
