import type { Context } from "hono";
import type { AppEnv } from "./context";
import { BadRequest, Forbidden, ProviderUnavailable } from "./errors";
import { verifyTwilioSignature } from "./signatures";

/**
 * The form Twilio posted, after its X-Twilio-Signature over `signedUrl` (the URL Twilio called,
 * which behind a proxy is the public one) and every parameter is checked: 403 when forged,
 * 503 without TWILIO_AUTH_TOKEN.
 */
export async function signedTwilioForm(c: Context<AppEnv>, signedUrl: string): Promise<Record<string, string>> {
  const authToken = c.var.ctx.config.twilio.authToken;
  if (!authToken) throw new ProviderUnavailable("TWILIO_AUTH_TOKEN");
  // A multipart body without its boundary (or cut short) makes the parser throw: that is the
  // sender's malformed request, not our failure.
  const form = await c.req.parseBody().catch(() => {
    throw new BadRequest("The body is not a form Twilio would send");
  });
  const params = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, String(v)]));
  if (!(await verifyTwilioSignature(authToken, signedUrl, params, c.req.header("X-Twilio-Signature")))) throw new Forbidden("Invalid X-Twilio-Signature");
  return params;
}
