import pg from "pg";

export interface MessagingFigures {
  sent: number;
  failed: number;
  messagesPerSecond: number;
  sendToSentP50Ms: number;
  sendToSentP99Ms: number;
}

/**
 * Queues `count` Telegram messages through `POST /v1/messages` (at most `concurrency` requests in
 * flight), waits until the outbound queue, its consumer and the provider (a fake Telegram server
 * on loopback) have settled them, then reads from the database how long each took from being
 * queued (`created_at`) to `sent` (`updated_at`), both stamped by the server.
 */
export async function measureMessaging(baseUrl: string, accessToken: string, databaseUrl: string, count: number, concurrency = 10): Promise<MessagingFigures> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const response = await fetch(`${baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ channel: "telegram", to: String(700_000 + i), body: `Bench message ${i}` }),
      });
      if (response.status !== 201) throw new Error(`bench send failed: ${response.status} ${await response.text()}`);
      ids.push(((await response.json()) as { id: string }).id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { rows } = await client.query<{ pending: string }>(
        "SELECT count(*) AS pending FROM messages WHERE id = ANY($1) AND status IN ('queued', 'sending')",
        [ids],
      );
      if (Number(rows[0]?.pending) === 0) break;
      if (Date.now() > deadline) throw new Error(`${rows[0]?.pending} bench messages still pending after 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { rows } = await client.query<{ status: string; ms: number; first: Date; last: Date }>(
      `SELECT status, extract(epoch FROM updated_at - created_at) * 1000 AS ms,
              min(created_at) OVER () AS first, max(updated_at) OVER () AS last
         FROM messages WHERE id = ANY($1)`,
      [ids],
    );
    const sent = rows.filter((r) => r.status === "sent").map((r) => Number(r.ms));
    const span = rows[0] ? (new Date(rows[0].last).getTime() - new Date(rows[0].first).getTime()) / 1000 : Number.NaN;
    return {
      sent: sent.length,
      failed: rows.length - sent.length,
      messagesPerSecond: sent.length / span,
      sendToSentP50Ms: percentile(sent, 50),
      sendToSentP99Ms: percentile(sent, 99),
    };
  } finally {
    await client.end();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
