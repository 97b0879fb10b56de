import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { AppEnv } from "./context";
import { type FieldError, NotFound, Unprocessable } from "./errors";
import type { IdPrefix } from "./ids";

/** Converts zod issues into `{path: "items.0.quantity", message}` entries. */
export function fieldErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

/** A module router: failed validation becomes a 422 problem with field paths. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      // A path that names nothing (an id that cannot be an id) is a thing that does not exist.
      if (result.target === "param") throw new NotFound("resource", c.req.path.slice(0, 200));
      throw new Unprocessable(fieldErrors(result.error));
    },
  });
}

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://billx.dev/problems/validation" }),
    title: z.string().openapi({ example: "Validation failed" }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string().optional().openapi({ example: "The request did not pass validation" }),
    errors: z.array(z.object({ path: z.string().openapi({ example: "email" }), message: z.string().openapi({ example: "Invalid email address" }) })).optional(),
    request_id: z.string().optional().openapi({ example: "6f1c2a52-5bb2-4d7e-9d1c-3f0f7cf5c2b1" }),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** Error responses shared by every route, spread into each `createRoute`. */
export const problemResponses = {
  400: problem("Malformed request"),
  401: problem("Missing or invalid credentials"),
  403: problem("Not allowed"),
  404: problem("Not found"),
  409: problem("Conflict with the current state"),
  422: problem("Validation failed; `errors` lists the field paths"),
  429: problem("Too many requests"),
} as const;

export { problem };

/** The optional `Idempotency-Key` request header; `what` says what a repeat gets back. */
export function idempotencyHeader(what: string, example: string) {
  return z.object({
    "idempotency-key": z
      .string()
      .min(1)
      .max(255)
      .optional()
      .openapi({ description: `Repeat a request with the same key to get ${what}`, example }),
  });
}

/** A JSON response for `createRoute`'s `responses`. */
export function jsonResponse<T>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A required JSON request body for `createRoute`'s `request`. */
export function jsonBody<T>(schema: T) {
  return { body: { required: true, content: { "application/json": { schema } } } };
}

/** What every id we hand out looks like (src/lib/ids.ts): its prefix, `_`, letters and digits. */
export function idPattern(prefix: IdPrefix): RegExp {
  return new RegExp(`^${prefix}_[0-9A-Za-z]{1,64}$`);
}

/** An id of ours in a query or body: anything else is a 422 before any query runs. */
export function idString(prefix: IdPrefix) {
  return z.string().regex(idPattern(prefix), `Not a ${prefix}_ id`);
}

/**
 * An id of ours in the path. One that cannot be an id (NUL, quotes, another prefix, 300 characters)
 * is a 404 from validation (see `createRouter`), before any query runs.
 */
export function pathId(name: string, prefix: IdPrefix, description: string, example: string) {
  return idString(prefix).openapi({ param: { name, in: "path" }, description, example });
}
