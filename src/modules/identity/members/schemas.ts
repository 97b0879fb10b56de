import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { Email } from "../auth/schemas";
import { OrgIdParam } from "../orgs/schemas";

const USER_ID_EXAMPLE = "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

const UserId = pathId("user_id", "usr", "User id", USER_ID_EXAMPLE);

const RoleRef = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .openapi({ description: "A system role (owner, admin, member, viewer) or a custom role id of the organisation", example: "admin" });

export const UserIdParam = z.object({ user_id: UserId });

export const MemberListQuery = pageQuery({ defaultLimit: 20, cursorExample: USER_ID_EXAMPLE });

export const MemberParams = OrgIdParam.extend({ user_id: UserId });

export const ChangeRoleParams = z.object({
  user_id: UserId,
  role_id: RoleRef.openapi({ param: { name: "role_id", in: "path" } }),
});

export const RenameUserBody = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, "Give a name of at least one character besides spaces")
      .max(120, "Use at most 120 characters")
      // Postgres text cannot hold NUL, and no one's name contains it.
      .refine((name) => !name.includes("\u0000"), "A name cannot contain the NUL character")
      .openapi({ description: "Display name, trimmed, 1 to 120 characters", example: "Grace Hopper" }),
  })
  .openapi("RenameUserRequest");

export const InviteBody = z
  .object({
    email: Email,
    role: RoleRef,
  })
  .openapi("InviteMemberRequest");

export const Invitation = z
  .object({
    id: z.string().openapi({ description: "Invitation id", example: "inv_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    email: z.string().openapi({ description: "Who was invited; only a user with this email can accept", example: "grace@example.com" }),
    role: z.string().openapi({ description: "The role the invitee gets on accepting", example: "member" }),
    expires_at: z.string().openapi({ description: "When the link stops working (ISO 8601, UTC), 7 days after sending", example: "2025-02-07T09:30:00.000Z" }),
  })
  .openapi("Invitation");

export const AcceptInvitationBody = z
  .object({
    token: z.string().trim().min(1).max(200).openapi({ description: "The token from the invitation link", example: "k3J9c0ZyX2xvbmdfcmFuZG9tX3Rva2Vu" }),
  })
  .openapi("AcceptInvitationRequest");

export const Member = z
  .object({
    user_id: z.string().openapi({ description: "User id", example: USER_ID_EXAMPLE }),
    email: z.string().openapi({ description: "Email address", example: "grace@example.com" }),
    name: z.string().openapi({ description: "Display name", example: "Grace Hopper" }),
    role: z.string().openapi({ description: "owner, admin, member, viewer or a custom role id", example: "member" }),
    joined_at: z.string().openapi({ description: "When they joined (ISO 8601, UTC)", example: "2025-01-31T09:30:00.000Z" }),
  })
  .openapi("Member");

export const MemberList = pageSchema(Member, "MemberList", { data: "Members, by user id" });

export type MemberView = z.infer<typeof Member>;
export type InvitationView = z.infer<typeof Invitation>;
export type RenameUserInput = z.infer<typeof RenameUserBody>;
