import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const API_KEY_ID_EXAMPLE = "key_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

const Permission = z
  .string()
  .regex(/^(\*|\*:[a-z_]+|[a-z_]+:(\*|[a-z_]+))$/, "A permission is resource:action, resource:*, *:action or *")
  .openapi({ description: "A permission such as `api_keys:read`, or a wildcard (`customers:*`, `*:read`, `*`)", example: "api_keys:read" });

export const CreateApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ description: "What the key is for, so people can tell keys apart", example: "CI deploy" }),
    permissions: z
      .array(Permission)
      .min(1)
      .max(200)
      .optional()
      .openapi({
        description:
          "What the key may do. Defaults to every permission you hold. Each entry must be held by you in this organisation; a wildcard must only expand to permissions you hold. Wildcards are expanded when the key is created.",
        example: ["api_keys:read"],
      }),
  })
  .openapi("CreateApiKeyRequest");

export const ApiKey = z
  .object({
    id: z.string().openapi({ description: "API key id", example: API_KEY_ID_EXAMPLE }),
    name: z.string().openapi({ description: "What the key is for", example: "CI deploy" }),
    prefix: z.string().openapi({ description: "The first 12 characters of the key, to recognise it", example: "bx_Q2hhbmdlI" }),
    permissions: z.array(z.string()).openapi({ description: "Permissions the key holds", example: ["api_keys:read"] }),
    last_used_at: z
      .string()
      .nullable()
      .openapi({ description: "When the key last authenticated a request (to the minute), or null", example: "2026-05-01T12:00:00.000Z" }),
    created_at: z.string().openapi({ description: "When the key was created", example: "2026-05-01T11:00:00.000Z" }),
    revoked_at: z.string().nullable().openapi({ description: "When the key was revoked, or null while it works", example: null }),
  })
  .openapi("ApiKey");

export const CreatedApiKey = z
  .object({
    id: ApiKey.shape.id,
    name: ApiKey.shape.name,
    key: z.string().openapi({
      description: "The secret key. Shown once: store it now; Billx keeps only its hash",
      example: "bx_Q2hhbmdlIG1lIQ-0123456789abcdefghijklmnopq",
    }),
    prefix: ApiKey.shape.prefix,
    permissions: ApiKey.shape.permissions,
    created_at: ApiKey.shape.created_at,
  })
  .openapi("CreatedApiKey");

export const ApiKeyList = pageSchema(ApiKey, "ApiKeyList", { data: "Keys of the organisation, oldest first, revoked ones included" });

export const ApiKeyListQuery = pageQuery({ defaultLimit: 50, cursorExample: API_KEY_ID_EXAMPLE });

export const ApiKeyIdParam = z.object({
  id: pathId("id", "key", "API key id", API_KEY_ID_EXAMPLE),
});

export type CreateApiKeyInput = z.infer<typeof CreateApiKeyBody>;
export type ApiKeyView = z.infer<typeof ApiKey>;
export type CreatedApiKeyView = z.infer<typeof CreatedApiKey>;
