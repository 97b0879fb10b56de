import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { User } from "../auth/schemas";
import { Org, OrgIdParam } from "../orgs/schemas";
import {
  AcceptInvitationBody,
  ChangeRoleParams,
  Invitation,
  InviteBody,
  Member,
  MemberList,
  MemberListQuery,
  MemberParams,
  RenameUserBody,
  UserIdParam,
} from "./schemas";
import { acceptInvitation, changeMemberRole, getMember, inviteMember, listMembers, removeMember, renameUser } from "./service";

const tags = ["Members"];

const listMembersRoute = createRoute({
  method: "get",
  path: "/v1/orgs/{id}/members",
  summary: "Members of the organisation and their roles",
  tags,
  ...authed("members:read"),
  request: { params: OrgIdParam, query: MemberListQuery },
  responses: { 200: jsonResponse(MemberList, "A page of members"), ...problemResponses },
});

const inviteMemberRoute = createRoute({
  method: "post",
  path: "/v1/orgs/{id}/members",
  summary: "Invite someone by email; they join when they accept the emailed link",
  tags,
  ...authed("members:write"),
  request: { params: OrgIdParam, ...jsonBody(InviteBody) },
  responses: { 201: jsonResponse(Invitation, "Invitation sent"), ...problemResponses },
});

const removeMemberRoute = createRoute({
  method: "delete",
  path: "/v1/orgs/{id}/members/{user_id}",
  summary: "Remove a member (never the last owner)",
  tags,
  ...authed("members:write"),
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" }, ...problemResponses },
});

const acceptInvitationRoute = createRoute({
  method: "post",
  path: "/v1/invitations/accept",
  summary: "Join an organisation with an invitation token sent to your email address",
  tags,
  // Not scoped to the active organisation: the caller is not a member of the inviting one yet.
  ...authed(),
  request: jsonBody(AcceptInvitationBody),
  responses: { 200: jsonResponse(Org, "Joined; the organisation"), ...problemResponses },
});

const changeRoleRoute = createRoute({
  method: "post",
  path: "/v1/users/{user_id}/change-role/{role_id}",
  summary: "Give a member of the organisation another role",
  tags,
  ...authed("members:write"),
  request: { params: ChangeRoleParams },
  responses: { 200: jsonResponse(Member, "The member with the new role"), ...problemResponses },
});

const getUserRoute = createRoute({
  method: "get",
  path: "/v1/users/{user_id}",
  summary: "A member's public profile and role in the organisation",
  tags,
  ...authed("users:read"),
  request: { params: UserIdParam },
  responses: { 200: jsonResponse(Member, "The member"), ...problemResponses },
});

const renameUserRoute = createRoute({
  method: "patch",
  path: "/v1/users/{user_id}",
  summary: "Change a user's display name: your own, or a member's with members:write",
  tags,
  // Your own name needs no organisation; another member's is checked against the active one.
  ...authed(),
  request: { params: UserIdParam, ...jsonBody(RenameUserBody) },
  responses: { 200: jsonResponse(User, "The user with the new name"), ...problemResponses },
});

export const membersRoutes = createRouter()
  .openapi(listMembersRoute, async (c) => c.json(await listMembers(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(inviteMemberRoute, async (c) => c.json(await inviteMember(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 201))
  .openapi(removeMemberRoute, async (c) => {
    const { id, user_id } = c.req.valid("param");
    await removeMember(c.var.ctx, id, user_id);
    return c.body(null, 204);
  })
  .openapi(acceptInvitationRoute, async (c) => c.json(await acceptInvitation(c.var.ctx, c.req.valid("json").token), 200))
  .openapi(changeRoleRoute, async (c) => {
    const { user_id, role_id } = c.req.valid("param");
    return c.json(await changeMemberRole(c.var.ctx, user_id, role_id), 200);
  })
  .openapi(getUserRoute, async (c) => c.json(await getMember(c.var.ctx, c.req.valid("param").user_id), 200))
  .openapi(renameUserRoute, async (c) => c.json(await renameUser(c.var.ctx, c.req.valid("param").user_id, c.req.valid("json")), 200));
