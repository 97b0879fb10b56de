import { z } from "@hono/zod-openapi";

export const Email = z.email("Enter a valid email address").max(254).openapi({ description: "Email address, case-insensitive", example: "ada@example.com" });

export const SignUpBody = z
  .object({
    email: Email,
    password: z
      .string()
      .min(1)
      .max(1024)
      .openapi({ description: "At least 10 characters, mixing letters with digits or symbols", example: "correct-horse-42" }),
    name: z.string().trim().min(1).max(200).openapi({ description: "Display name", example: "Ada Lovelace" }),
  })
  .openapi("SignUpRequest");

export const SignInBody = z
  .object({
    email: Email,
    password: z.string().min(1).max(1024).openapi({ description: "The account password", example: "correct-horse-42" }),
  })
  .openapi("SignInRequest");

export const RefreshBody = z
  .object({
    refresh_token: z.string().min(1).max(200).openapi({ description: "The refresh token from the last sign-in or refresh", example: "rt_Q2hhbmdlIG1lIQ" }),
  })
  .openapi("RefreshRequest");

export const User = z
  .object({
    id: z.string().openapi({ description: "User id", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    email: z.string().openapi({ description: "Email address", example: "ada@example.com" }),
    name: z.string().openapi({ description: "Display name", example: "Ada Lovelace" }),
  })
  .openapi("User");

export const TokenPair = z
  .object({
    access_token: z
      .string()
      .openapi({ description: "JWT (ES256) for the Authorization header, valid 15 minutes", example: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.sig" }),
    refresh_token: z.string().openapi({ description: "Opaque, single use, valid 7 days", example: "rt_Q2hhbmdlIG1lIQ" }),
    token_type: z.literal("Bearer").openapi({ description: "Always Bearer", example: "Bearer" }),
    expires_in: z.number().int().openapi({ description: "Seconds until the access token expires", example: 900 }),
  })
  .openapi("TokenPair");

export const AuthResult = TokenPair.extend({ user: User }).openapi("AuthResult");

export const Me = z
  .object({
    user: User.extend({ is_super_admin: z.boolean().openapi({ description: "Platform staff flag", example: false }) }),
    orgs: z.array(
      z.object({
        id: z.string().openapi({ description: "Organisation id", example: "org_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
        name: z.string().openapi({ description: "Organisation name", example: "Ada's Bakery" }),
        role: z.string().openapi({ description: "owner, admin, member, viewer, or a custom role id", example: "owner" }),
      }),
    ),
  })
  .openapi("Me");

export const Jwks = z
  .object({
    keys: z.array(z.record(z.string(), z.unknown())).openapi({ description: "Public signing keys (JWK)", example: [{ kty: "EC", crv: "P-256", kid: "k1" }] }),
  })
  .openapi("JWKS");
