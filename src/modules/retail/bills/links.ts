import { decodeJwt } from "jose";
import { z } from "zod";
import type { Config } from "../../../env";
import { type LinkKind, signLinkToken, verifiedLinkPayload } from "../../identity/auth/signed-links";

// Under its own `typ` and audience: an access token or a file link never opens a bill.
const BILL_LINK: LinkKind = { type: "bill-link+jwt", audience: "billx-bill-link" };
const DAY_SECONDS = 24 * 60 * 60;

/** What a bill link grants: read-only access to one bill of one organisation, while its version is current. */
export interface BillLinkClaims {
  billId: string;
  orgId: string;
  /** The bill's `link_version` when signed; bumping it revokes the link. */
  version: number;
  exp: number;
}

export interface SignedBillLink {
  token: string;
  url: string;
  expiresAt: Date;
}

const PayloadSchema = z.object({
  sub: z.string().startsWith("bill_"),
  org: z.string().startsWith("org_"),
  ver: z.number().int().positive(),
  iat: z.number().int(),
  exp: z.number().int(),
});

/**
 * Where the link points: the API serves `/b/{token}` itself, so its public URL comes first;
 * without one, the app URL (the same Worker in local development).
 */
function linkBase(config: Config): string {
  return (config.publicApiUrl ?? config.appUrl).replace(/\/+$/, "");
}

/** The public URL of a bill link token. */
export function billLinkUrl(config: Config, token: string): string {
  return `${linkBase(config)}/b/${token}`;
}

/** Signs a link to `billId` valid for `BILL_LINK_TTL_DAYS` from `now`. */
export async function signBillLink(config: Config, bill: { id: string; orgId: string; linkVersion: number }, now: Date): Promise<SignedBillLink> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + config.bills.linkTtlDays * DAY_SECONDS;
  const token = await signLinkToken(config, BILL_LINK, { subject: bill.id, claims: { org: bill.orgId, ver: bill.linkVersion }, issuedAt, expiresAt });
  return { token, url: billLinkUrl(config, token), expiresAt: new Date(expiresAt * 1000) };
}

/**
 * The claims of a valid, unexpired bill link, or null for anything else (bad signature, another
 * key, an access token, expired). Whether the version is still current is the caller's check.
 */
export async function verifyBillLink(config: Config, token: string, now: Date): Promise<BillLinkClaims | null> {
  const parsed = PayloadSchema.safeParse(await verifiedLinkPayload(config, BILL_LINK, token, now));
  if (!parsed.success) return null;
  const claims = parsed.data;
  return { billId: claims.sub, orgId: claims.org, version: claims.ver, exp: claims.exp };
}

/** When a token this module signed expires, read without verifying (for replaying a sent link). */
export function billLinkExpiry(token: string): Date | null {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" ? new Date(exp * 1000) : null;
  } catch {
    return null;
  }
}
