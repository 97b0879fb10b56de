/**
 * Audio the platform keeps for an organisation (spoken answers, stored text to speech): the bytes
 * in R2 under the organisation, a row in `audio_files`, and a short-lived link that works without
 * signing in. Members of the organisation can fetch it while it is kept; the cleanup cron deletes
 * it (object and row) after AUDIO_RETENTION_DAYS.
 */
import { and, eq, lte } from "drizzle-orm";
import { audioFiles } from "../../db/schema";
import type { ServiceCtx } from "../../lib/context";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { NotFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { orgFilesPrefix } from "../../lib/org-files";
import { requireOrgId } from "../identity/auth/principal";

/** How long a handed-out link works. */
export const AUDIO_LINK_TTL_SECONDS = 3600;
const AUDIO_ID = /^aud_[0-9A-Za-z]{1,64}$/;
const CLEANUP_BATCH = 500;

export interface StoredAudio {
  id: string;
  url: string;
  content_type: string;
  bytes: number;
  expires_at: string;
}

type AudioRow = typeof audioFiles.$inferSelect;

/** Stores `bytes` for the active organisation and answers a link to them (absolute, on `baseUrl`). */
export async function storeAudio(
  ctx: ServiceCtx,
  input: { bytes: Uint8Array; contentType: string; source: "tts" | "audio_chat"; baseUrl: string },
): Promise<StoredAudio> {
  const orgId = requireOrgId(ctx);
  const id = newId("aud");
  const r2Key = `${orgFilesPrefix(orgId)}audio/${id}`;
  const now = ctx.now();
  const token = randomToken();
  const linkExpiresAt = new Date(now.getTime() + AUDIO_LINK_TTL_SECONDS * 1000);
  const expiresAt = new Date(now.getTime() + ctx.config.speech.retentionDays * 86_400_000);
  await ctx.env.FILES.put(r2Key, input.bytes, { httpMetadata: { contentType: input.contentType } });
  await ctx.db.insert(audioFiles).values({
    id,
    orgId,
    r2Key,
    contentType: input.contentType,
    bytes: input.bytes.length,
    source: input.source,
    linkTokenHash: await sha256Hex(token),
    linkExpiresAt,
    expiresAt,
    createdAt: now,
  });
  return {
    id,
    url: `${input.baseUrl.replace(/\/+$/, "")}/v1/audio/${id}/content?token=${token}`,
    content_type: input.contentType,
    bytes: input.bytes.length,
    expires_at: linkExpiresAt.toISOString(),
  };
}

async function servable(ctx: ServiceCtx, row: AudioRow | undefined, id: string): Promise<Response> {
  if (!row || row.expiresAt <= ctx.now()) throw new NotFound("audio", id);
  const object = await ctx.env.FILES.get(row.r2Key);
  if (!object) throw new NotFound("audio", id);
  return new Response(object.body, {
    headers: { "content-type": row.contentType, "content-length": String(row.bytes), "cache-control": "private, max-age=300" },
  });
}

/** The audio for a member of its organisation. */
export async function audioForMember(ctx: ServiceCtx, id: string): Promise<Response> {
  const orgId = requireOrgId(ctx);
  if (!AUDIO_ID.test(id)) throw new NotFound("audio", id.slice(0, 100));
  const [row] = await ctx.db
    .select()
    .from(audioFiles)
    .where(and(eq(audioFiles.id, id), eq(audioFiles.orgId, orgId)));
  return servable(ctx, row, id);
}

/** The audio for whoever holds its link, while the link lasts; any mismatch is the same 404. */
export async function audioForLink(ctx: ServiceCtx, id: string, token: string): Promise<Response> {
  if (!AUDIO_ID.test(id)) throw new NotFound("audio", id.slice(0, 100));
  const [row] = await ctx.db.select().from(audioFiles).where(eq(audioFiles.id, id));
  const valid = row !== undefined && row.linkExpiresAt > ctx.now() && row.linkTokenHash === (await sha256Hex(token));
  return servable(ctx, valid ? row : undefined, id);
}

/** Deletes audio kept past its retention, objects first, in batches; answers how many. */
export async function deleteExpiredAudio(ctx: ServiceCtx): Promise<number> {
  let deleted = 0;
  for (;;) {
    const rows = await ctx.db
      .select({ id: audioFiles.id, r2Key: audioFiles.r2Key })
      .from(audioFiles)
      .where(lte(audioFiles.expiresAt, ctx.now()))
      .limit(CLEANUP_BATCH);
    if (rows.length === 0) return deleted;
    await ctx.env.FILES.delete(rows.map((row) => row.r2Key));
    for (const row of rows) await ctx.db.delete(audioFiles).where(eq(audioFiles.id, row.id));
    deleted += rows.length;
    if (rows.length < CLEANUP_BATCH) return deleted;
  }
}
