import { z } from "zod";
import type { Config } from "../../../env";
import { type LinkKind, signLinkToken, verifiedLinkPayload } from "../../identity/auth/signed-links";

// Under its own `typ` and audience: an access token or a bill link never opens a file.
const FILE_LINK: LinkKind = { type: "file-link+jwt", audience: "billx-file-link" };

const PayloadSchema = z.object({ sub: z.string().startsWith("file_"), org: z.string().startsWith("org_") });

export interface SignedFileLink {
  url: string;
  expiresAt: Date;
}

/** A link to the content of `file` that works without signing in for `FILES_LINK_TTL_SECONDS` from `now`. */
export async function signFileLink(config: Config, file: { id: string; orgId: string }, now: Date): Promise<SignedFileLink> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + config.files.linkTtlSeconds;
  const token = await signLinkToken(config, FILE_LINK, { subject: file.id, claims: { org: file.orgId }, issuedAt, expiresAt });
  const base = (config.publicApiUrl ?? config.appUrl).replace(/\/+$/, "");
  return { url: `${base}/v1/files/${file.id}/content?token=${token}`, expiresAt: new Date(expiresAt * 1000) };
}

/** The file and organisation a valid, unexpired link names, or null for anything else (tampered, expired, another kind of token). */
export async function verifyFileLink(config: Config, token: string, now: Date): Promise<{ fileId: string; orgId: string } | null> {
  const parsed = PayloadSchema.safeParse(await verifiedLinkPayload(config, FILE_LINK, token, now));
  return parsed.success ? { fileId: parsed.data.sub, orgId: parsed.data.org } : null;
}
