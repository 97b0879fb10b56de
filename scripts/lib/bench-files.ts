import pg from "pg";

export interface FilesFigures {
  /** Upload throughput through the Worker to R2, by file size in MB. */
  uploads: { megabytes: number; files: number; megabytesPerSecond: number; p50Ms: number }[];
  campaignRecipients: number;
  campaignMessagesPerSecond: number;
  campaignRequestMs: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * Stored files and campaigns: `POST /v1/files` of plain-text files of 1 MB and 20 MB (one at a
 * time, so the figure is one upload's throughput: multipart parsing, type detection, the R2 put and
 * the quota transaction), then one campaign to `recipients` customers (inserted straight into
 * Postgres) timed from `POST /v1/campaigns` to its answer, which comes once every message is
 * written and on the outbound queue (the consumer's sending is the messaging section's figure).
 */
export async function measureFiles(options: { baseUrl: string; accessToken: string; databaseUrl: string; recipients: number }): Promise<FilesFigures> {
  const auth = { Authorization: `Bearer ${options.accessToken}` };
  const uploads: FilesFigures["uploads"] = [];
  for (const { megabytes, files } of [
    { megabytes: 1, files: 20 },
    { megabytes: 20, files: 5 },
  ]) {
    const content = new Uint8Array(megabytes * 1_000_000).fill(0x61);
    const timings: number[] = [];
    for (let i = 0; i < files; i++) {
      const form = new FormData();
      form.append("file", new File([content], `bench-${megabytes}mb-${i}.txt`));
      const started = performance.now();
      const response = await fetch(`${options.baseUrl}/v1/files`, { method: "POST", headers: auth, body: form });
      await response.arrayBuffer();
      if (response.status !== 201) throw new Error(`bench upload failed: ${response.status}`);
      timings.push(performance.now() - started);
    }
    const seconds = timings.reduce((sum, ms) => sum + ms, 0) / 1000;
    uploads.push({ megabytes, files, megabytesPerSecond: (megabytes * files) / seconds, p50Ms: percentile(timings, 50) });
  }

  const me = (await (await fetch(`${options.baseUrl}/v1/auth/me`, { headers: auth })).json()) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("bench user has no organisation");
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO customers (id, org_id, name, phone, tags)
       SELECT 'cus_bench' || lpad(i::text, 20, '0') || substr(md5(random()::text), 1, 6), $1, 'Bench customer ' || i, '+1415' || lpad(i::text, 7, '0'), '{bench}'
         FROM generate_series(1, $2) AS i`,
      [orgId, options.recipients],
    );
  } finally {
    await client.end();
  }
  const started = performance.now();
  const response = await fetch(`${options.baseUrl}/v1/campaigns`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ channel: "sms", message: "Bench offer: 20% off today", audience: { tags: ["bench"] } }),
  });
  const campaign = (await response.json()) as { counts?: { total: number } };
  const ms = performance.now() - started;
  if (response.status !== 201) throw new Error(`bench campaign failed: ${response.status} ${JSON.stringify(campaign)}`);
  const recipients = campaign.counts?.total ?? 0;
  return { uploads, campaignRecipients: recipients, campaignMessagesPerSecond: recipients / (ms / 1000), campaignRequestMs: ms };
}

export function formatFilesFigures(figures: FilesFigures): string {
  const lines = figures.uploads.flatMap((u) => [
    `files_upload_${u.megabytes}mb_mb_per_s ${u.megabytesPerSecond.toFixed(1)}`,
    `files_upload_${u.megabytes}mb_p50_ms ${Math.round(u.p50Ms)}`,
  ]);
  lines.push(`campaign_recipients ${figures.campaignRecipients}`);
  lines.push(`campaign_fan_out_messages_per_s ${Math.round(figures.campaignMessagesPerSecond)}`);
  lines.push(`campaign_request_ms ${Math.round(figures.campaignRequestMs)}`);
  return lines.join("\n");
}
