import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const ROLE_ID_EXAMPLE = "role_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

export const RoleIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, description: "Custom role id (system roles cannot be changed)", example: ROLE_ID_EXAMPLE }),
});

/** The cursor is a role id: a system role name while the page ends among the system roles, else a custom role id. */
export const RoleListQuery = pageQuery({ defaultLimit: 20, cursorExample: ROLE_ID_EXAMPLE });

export const RoleBody = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ description: "Unique in the organisation, case-insensitive", example: "Cashier" }),
    description: z.string().trim().max(500).nullish().openapi({ description: "What the role is for", example: "Takes payments at the till" }),
    permissions: z
      .array(z.string().trim().min(1).max(100).openapi({ description: "A known permission or a wildcard pattern", example: "api_keys:*" }))
      .max(200)
      .openapi({ description: "Known permissions (`customers:read`) or wildcards (`customers:*`, `*:read`, `*`)", example: ["members:read", "api_keys:*"] }),
  })
  .openapi("RoleRequest");

export const Role = z
  .object({
    id: z.string().openapi({ description: "The role name for a system role, a `role_` id for a custom role", example: ROLE_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Display name", example: "Cashier" }),
    description: z.string().nullable().openapi({ description: "What the role is for", example: "Takes payments at the till" }),
    permissions: z.array(z.string()).openapi({
      description: "For a custom role, its grants as stored; for a system role, every known permission it allows",
      example: ["members:read", "api_keys:*"],
    }),
    system: z.boolean().openapi({ description: "System roles (owner, admin, member, viewer) are built in and cannot be changed", example: false }),
    created_at: z
      .string()
      .nullable()
      .openapi({ description: "When it was created (ISO 8601, UTC); null for a system role", example: "2025-01-31T09:30:00.000Z" }),
    updated_at: z
      .string()
      .nullable()
      .openapi({ description: "When it last changed (ISO 8601, UTC); null for a system role", example: "2025-01-31T09:30:00.000Z" }),
  })
  .openapi("Role");

export const RoleList = pageSchema(Role, "RoleList", { data: "System roles first, then custom roles oldest first" });

export type RoleInput = z.infer<typeof RoleBody>;
export type RoleView = z.infer<typeof Role>;
