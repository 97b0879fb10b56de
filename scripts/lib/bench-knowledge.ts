/**
 * `npm run bench` section `knowledge`: the assistants' knowledge base and bookings over HTTP.
 * - SciFact (BEIR test split) through the real pipeline: upload, the billx-ingest queue (extract,
 *   chunk, embed with the fake OpenAI, index into the KnowledgeBase Durable Object), then the
 *   search route per claim, scored with ../shared/data/ir/score.mjs (trec_eval -c definitions);
 * - search latency at larger indexes, seeded straight into Postgres and loaded with one rebuild;
 * - bookings/s with N clients on distinct slots, and the slots computation for 31 days.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { newId } from "../../src/lib/ids.ts";
import { chunkText } from "../../src/modules/assistants/knowledge/chunking.ts";
import { extractText } from "../../src/modules/assistants/knowledge/extract.ts";
import { sniffKind } from "../../src/modules/assistants/knowledge/sniff.ts";
import { embedText } from "../../tests/fakes/openai.ts";
import { benchShop } from "./bench-bills.ts";

export interface KnowledgeOptions {
  baseUrl: string;
  accessToken: string;
  databaseUrl: string;
  /** SciFact's folder (docs.jsonl, queries.jsonl, qrels.tsv); quality figures are skipped without it. */
  scifactDir: string;
  /** API keys the load is spread over (600 requests a minute each), and concurrent clients. */
  clients: number;
  /** Abstracts uploaded through the route and the queue; the rest are seeded through SQL (see ingestScifact). */
  scifactPipelineDocs: number;
  /** Abstracts uploaded per request (the route takes 1 to 10). */
  filesPerUpload: number;
  /** Passages asked for per SciFact claim; documents are ranked by their best passage. */
  searchK: number;
  /** Index sizes (chunks) for the latency figures, and sequential searches timed per size and mode. */
  latencySizes: number[];
  latencyRequests: number;
  /** The Worker's KNOWLEDGE_EMBEDDING_MODEL and KNOWLEDGE_EMBEDDING_DIMENSIONS: seeded chunks carry vectors of this size. */
  embeddingModel: string;
  dimensions: number;
  bookings: number;
  bookingClients: number;
  slotsRequests: number;
}

export interface IngestFigures {
  /** Abstracts through upload and the queue, and what they became. */
  documents: number;
  failed: number;
  chunks: number;
  vectors: number;
  seconds: number;
  chunksPerSecond: number;
  /** Abstracts put straight into Postgres, the time that took, and the one rebuild of the whole index. */
  seededDocuments: number;
  seedSeconds: number;
  rebuildSeconds: number;
  indexChunks: number;
}

export interface QualityFigures {
  mode: string;
  /** Searches that answered in another mode than asked (hybrid falls back to lexical without embeddings). */
  otherMode: number;
  non200: number;
  metrics: Record<string, number>;
  searchP50Ms: number;
}

export interface LatencyFigures {
  chunks: number;
  mode: string;
  /** The first search after the rebuild: it loads the vectors into the object's memory. */
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  non200: number;
}

export interface BookingFigures {
  clients: number;
  booked: number;
  non201: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface KnowledgeFigures {
  ingest: IngestFigures | null;
  quality: QualityFigures[];
  seed: { chunks: number; seedSeconds: number; rebuildSeconds: number; vectors: number }[];
  latency: LatencyFigures[];
  bookings: BookingFigures;
  slots: { requests: number; days: number; p50Ms: number; p99Ms: number; non200: number };
}

const BENCH_CREDITS = 10_000_000;
const POLL_MS = 250;
const STALL_MS = 60_000;
const REBUILD_TIMEOUT_S = Number(process.env.BENCH_REBUILD_TIMEOUT_S ?? 120);
const CHUNKS_PER_SEEDED_DOCUMENT = 10;
const SEED_BATCH = 1000;
// Abstracts per INSERT when seeding SciFact: about 700 chunks with their 6 KiB vectors.
const SCIFACT_SEED_BATCH = 200;
// Distinct random vectors the seeded chunks take in turn: the scan is exact, so repeats cost the same.
const VECTOR_POOL = 1024;
const VOCABULARY = 20_000;
const WORDS_PER_CHUNK = 75;
const WARM_UP = 5;
const SLOTS_DAYS = 31;

/** All figures of the section; see the file's header. */
export async function measureKnowledge(options: KnowledgeOptions): Promise<KnowledgeFigures> {
  const shop = await benchShop(options.baseUrl, options.accessToken, Math.max(options.clients, options.bookingClients));
  const keys = shop.keys.slice(0, options.clients);
  const api = new Api(options.baseUrl, keys);
  // The balance row is made (with the free allowance) on first look; embeddings are paid from the grant on top.
  await api.json("GET", "/v1/credits/balance", undefined, 200);
  await grantCredits(options.databaseUrl, shop.orgId, BENCH_CREDITS);

  let ingest: IngestFigures | null = null;
  const quality: QualityFigures[] = [];
  if (existsSync(path.join(options.scifactDir, "docs.jsonl"))) {
    const assistant = await createAssistant(api, "SciFact");
    ingest = await ingestScifact(api, assistant, shop.orgId, options);
    // Without the rebuild the index lacks the seeded abstracts, and a score would mean nothing.
    if (!Number.isNaN(ingest.indexChunks)) for (const mode of ["lexical", "hybrid"]) quality.push(await scoreScifact(api, assistant, mode, options));
  }

  const { seed, latency } = await measureSearchLatency(api, shop.orgId, options);
  const { assistantId, ...bookings } = await measureBookings(options.baseUrl, shop.keys.slice(0, options.bookingClients), options.bookings);
  const slots = await measureSlots(api, assistantId, options.slotsRequests);
  return { ingest, quality, seed, latency, bookings, slots };
}

/** One request at a time per key, keys taken in turn: the per-key limit is shared out evenly. */
class Api {
  private turn = 0;
  constructor(
    readonly baseUrl: string,
    readonly keys: string[],
  ) {}

  key(): string {
    return this.keys[this.turn++ % this.keys.length] as string;
  }

  async send(method: string, pathname: string, body?: BodyInit, contentType?: string, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key()}` };
    if (contentType) headers["Content-Type"] = contentType;
    return fetch(`${this.baseUrl}${pathname}`, { method, headers, body, signal });
  }

  async json<T>(method: string, pathname: string, body: unknown, expected: number): Promise<T> {
    const response = await this.send(method, pathname, body === undefined ? undefined : JSON.stringify(body), "application/json");
    if (response.status !== expected) throw new Error(`bench ${method} ${pathname}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }
}

async function createAssistant(api: Api, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const created = await api.json<{ id: string }>(
    "POST",
    "/v1/assistants",
    { name: `Bench ${name}`, business_name: `Bench ${name} Ltd`, timezone: "UTC", ...extra },
    201,
  );
  return created.id;
}

interface ScifactDoc {
  id?: string;
  _id?: string;
  title: string;
  text: string;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** BEIR files name the id `_id`; the copy under ../shared/data/ir names it `id`. */
function idOf(row: { id?: string; _id?: string }): string {
  return String(row._id ?? row.id);
}

/** An abstract as the bench uploads it: the title, a blank line, the text. */
function scifactFile(doc: ScifactDoc): File {
  return new File([`${doc.title}\n\n${doc.text}`], `${idOf(doc)}.txt`, { type: "text/plain" });
}

/**
 * The first `scifactPipelineDocs` abstracts as `${id}.txt`, `filesPerUpload` per request from all
 * clients at once; then the queue is polled until no document is queued or processing. The time
 * runs from the first upload to the poll that finds the queue drained. The other abstracts go
 * straight into Postgres as the pipeline would have left them (the Worker's own extraction and
 * chunking, the fake OpenAI's embeddings), then one rebuild indexes all of them.
 */
async function ingestScifact(api: Api, assistantId: string, orgId: string, options: KnowledgeOptions): Promise<IngestFigures> {
  const docs = readJsonl<ScifactDoc>(path.join(options.scifactDir, "docs.jsonl"));
  const through = docs.slice(0, options.scifactPipelineDocs);
  const rest = docs.slice(through.length);
  const batches: ScifactDoc[][] = [];
  for (let i = 0; i < through.length; i += options.filesPerUpload) batches.push(through.slice(i, i + options.filesPerUpload));
  const started = performance.now();
  let next = 0;
  const client = async () => {
    while (next < batches.length) {
      const form = new FormData();
      for (const doc of batches[next++] as ScifactDoc[]) form.append("files", scifactFile(doc));
      const response = await api.send("POST", `/v1/assistants/${assistantId}/documents`, form);
      if (response.status !== 202) throw new Error(`bench upload: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(api.keys.map(client));
  const list = `/v1/assistants/${assistantId}/documents`;
  const progress = new pg.Client({ connectionString: options.databaseUrl });
  await progress.connect();
  try {
    let done = -1;
    let lastProgress = performance.now();
    for (;;) {
      const pending = await Promise.all(
        ["queued", "processing"].map((status) => api.json<{ data: unknown[] }>("GET", `${list}?status=${status}&limit=1`, undefined, 200)),
      );
      if (pending.every((page) => page.data.length === 0)) break;
      // wrangler dev reloads when a file under src/ changes, and the local queue loses its messages then.
      const { rows } = await progress.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM knowledge_documents WHERE assistant_id = $1 AND status IN ('ready', 'failed')",
        [assistantId],
      );
      const now = performance.now();
      if (rows[0]?.n !== done) [done, lastProgress] = [rows[0]?.n ?? 0, now];
      else if (now - lastProgress > STALL_MS) {
        throw new Error(`bench: no document indexed for ${STALL_MS / 1000} s, ${through.length - done} left; did wrangler dev reload and drop its queue?`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await progress.end();
  }
  const seconds = (performance.now() - started) / 1000;
  let chunks = 0;
  let documents = 0;
  let vectors = 0;
  let cursor: string | null = null;
  do {
    const page: { data: { chunks: number; embedding_model: string | null }[]; next_cursor: string | null } = await api.json(
      "GET",
      `${list}?status=ready&limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      undefined,
      200,
    );
    for (const doc of page.data) {
      documents++;
      chunks += doc.chunks;
      if (doc.embedding_model) vectors += doc.chunks;
    }
    cursor = page.next_cursor;
  } while (cursor);
  const figures: IngestFigures = {
    documents,
    failed: through.length - documents,
    chunks,
    vectors,
    seconds,
    chunksPerSecond: chunks / seconds,
    seededDocuments: 0,
    seedSeconds: 0,
    rebuildSeconds: 0,
    indexChunks: chunks,
  };
  if (rest.length === 0) return figures;

  const seedStarted = performance.now();
  const at = { orgId, assistantId, embeddingModel: options.embeddingModel, dimensions: options.dimensions };
  await withSeedClient(options.databaseUrl, [], async (db) => {
    for (let i = 0; i < rest.length; i += SCIFACT_SEED_BATCH) {
      await insertDocuments(db, at, await Promise.all(rest.slice(i, i + SCIFACT_SEED_BATCH).map((doc) => asIngested(doc, options.dimensions))));
    }
  });
  figures.seededDocuments = rest.length;
  figures.seedSeconds = (performance.now() - seedStarted) / 1000;
  const rebuildStarted = performance.now();
  const rebuilt = await rebuild(api, assistantId);
  figures.rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
  figures.indexChunks = rebuilt?.chunks ?? Number.NaN;
  return figures;
}

/** What the ingest job makes of an abstract, made here: the Worker's sniffing, extraction and chunking, the fake OpenAI's vectors. */
async function asIngested(doc: ScifactDoc, dimensions: number): Promise<SeedDocument> {
  const file = scifactFile(doc);
  const bytes = new Uint8Array(await file.arrayBuffer());
  // Plain text never reaches the context: only PDFs use it (for the vision model).
  const extracted = await extractText(null as never, sniffKind(bytes, file.name) ?? "txt", bytes, file.name);
  return {
    filename: file.name,
    title: extracted.title,
    size: bytes.length,
    characters: extracted.text.length,
    chunks: chunkText(extracted.text).map((text) => {
      const vector = embedText(text, dimensions);
      return { text, embedding: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), pool: null };
    }),
  };
}

/**
 * Each claim through the search route; a document takes the rank of its best passage. The run
 * file (`query doc score`, score falling with rank so no two tie) is scored by score.mjs.
 */
async function scoreScifact(api: Api, assistantId: string, mode: string, options: KnowledgeOptions): Promise<QualityFigures> {
  const queries = readJsonl<{ id?: string; _id?: string; text: string }>(path.join(options.scifactDir, "queries.jsonl"));
  const lines: string[] = [];
  const timings: number[] = [];
  let otherMode = 0;
  let non200 = 0;
  let next = 0;
  const client = async () => {
    while (next < queries.length) {
      const query = queries[next++] as (typeof queries)[number];
      const started = performance.now();
      const response = await api.send(
        "GET",
        `/v1/assistants/${assistantId}/knowledge/search?${new URLSearchParams({ q: query.text, k: String(options.searchK), mode })}`,
      );
      const body = (await response.json()) as { mode: string; data: { filename: string }[] };
      timings.push(performance.now() - started);
      if (response.status !== 200) {
        non200++;
        continue;
      }
      if (body.mode !== mode) otherMode++;
      const seen = new Set<string>();
      for (const hit of body.data) {
        const doc = hit.filename.replace(/\.txt$/, "");
        if (seen.has(doc)) continue;
        seen.add(doc);
        lines.push(`${idOf(query)}\t${doc}\t${1000 - seen.size}`);
      }
    }
  };
  await Promise.all(api.keys.map(client));
  const dir = mkdtempSync(path.join(tmpdir(), "bench-knowledge-"));
  try {
    const run = path.join(dir, `scifact-${mode}.run`);
    writeFileSync(run, `${lines.join("\n")}\n`);
    const scorer = path.resolve(options.scifactDir, "..", "score.mjs");
    const out = execFileSync(process.execPath, [scorer, path.join(options.scifactDir, "qrels.tsv"), run, "--json"], { encoding: "utf8" });
    const parsed = JSON.parse(out) as Record<string, unknown>;
    const metrics = Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, number] => typeof entry[1] === "number"));
    return { mode, otherMode, non200, metrics, searchP50Ms: percentile(timings, 50) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One assistant grown to each size in turn: documents and chunks inserted through SQL (text of
 * Zipf-distributed words from a made-up vocabulary, 1536-d random vectors), then one rebuild,
 * then sequential searches of 2 to 6 such words, lexical and hybrid (hybrid embeds the query
 * through the fake OpenAI and pays for it, as the route does).
 */
async function measureSearchLatency(api: Api, orgId: string, options: KnowledgeOptions) {
  const assistantId = await createAssistant(api, "latency");
  const random = mulberry32(42);
  const vocabulary = Array.from({ length: VOCABULARY }, (_, i) => pseudoWord(i));
  // Zipf-ish: word i is drawn with weight 1 / (i + 1).
  const zipf = () => vocabulary[Math.min(VOCABULARY - 1, Math.floor(Math.exp(random() * Math.log(VOCABULARY + 1)) - 1))] as string;
  const seed: KnowledgeFigures["seed"] = [];
  const latency: LatencyFigures[] = [];
  const pool = Array.from({ length: VECTOR_POOL }, () => {
    const vector = new Float32Array(options.dimensions);
    for (let j = 0; j < vector.length; j++) vector[j] = random() * 2 - 1;
    return Buffer.from(vector.buffer);
  });
  const at = { orgId, assistantId, embeddingModel: "bench-random", dimensions: options.dimensions };
  await withSeedClient(options.databaseUrl, pool, async (db) => {
    let seeded = 0;
    for (const size of [...options.latencySizes].sort((a, b) => a - b)) {
      const started = performance.now();
      while (seeded < size) {
        const docs: SeedDocument[] = [];
        for (let n = 0; n < SEED_BATCH && seeded < size; n += CHUNKS_PER_SEEDED_DOCUMENT) {
          const count = Math.min(CHUNKS_PER_SEEDED_DOCUMENT, size - seeded);
          const chunks = Array.from({ length: count }, (_, i) => ({
            text: Array.from({ length: WORDS_PER_CHUNK }, zipf).join(" "),
            embedding: null,
            pool: (seeded + i) % VECTOR_POOL,
          }));
          const characters = chunks.reduce((sum, c) => sum + c.text.length, 0);
          docs.push({ filename: `seeded-${seeded}.txt`, title: null, size: characters, characters, chunks });
          seeded += count;
        }
        await insertDocuments(db, at, docs);
      }
      await db.query("ANALYZE knowledge_documents; ANALYZE document_chunks");
      const seedSeconds = (performance.now() - started) / 1000;
      const rebuildStarted = performance.now();
      const rebuilt = await rebuild(api, assistantId);
      seed.push({
        chunks: rebuilt?.chunks ?? size,
        seedSeconds,
        rebuildSeconds: (performance.now() - rebuildStarted) / 1000,
        vectors: rebuilt?.vectors ?? Number.NaN,
      });
      // A larger index would only take longer.
      if (!rebuilt) break;
      for (const mode of ["lexical", "hybrid"]) {
        const queries = Array.from({ length: WARM_UP + options.latencyRequests }, () => Array.from({ length: 2 + Math.floor(random() * 5) }, zipf).join(" "));
        latency.push(await timeSearches(api, assistantId, rebuilt.chunks, mode, queries));
      }
    }
  });
  return { seed, latency };
}

/**
 * `POST …/knowledge/rebuild`, or null when it has not answered within `BENCH_REBUILD_TIMEOUT_S`.
 * Rebuilds once stalled wrangler dev at some 20,000 embedded chunks (their pages came over HTTP,
 * which wrangler dev reports to its devtools proxy 4 KB at a time); they now read over one
 * WebSocket and 50,000 take about 35 s, so the timeout only guards a broken run.
 */
async function rebuild(api: Api, assistantId: string): Promise<{ chunks: number; vectors: number } | null> {
  const pathname = `/v1/assistants/${assistantId}/knowledge/rebuild`;
  try {
    const response = await api.send("POST", pathname, undefined, undefined, AbortSignal.timeout(REBUILD_TIMEOUT_S * 1000));
    if (response.status !== 200) throw new Error(`bench POST ${pathname}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { chunks: number; vectors: number };
  } catch (error) {
    if (error instanceof Error && error.name === "TimeoutError") return null;
    throw error;
  }
}

/** A ready document as the ingest job leaves it in Postgres; a chunk's vector is its own bytes or one of the pool's. */
interface SeedDocument {
  filename: string;
  title: string | null;
  size: number;
  characters: number;
  chunks: { text: string; embedding: Buffer | null; pool: number | null }[];
}

/** A connection for seeding, with the pool of random vectors in a temporary table `bench_vectors`. */
async function withSeedClient(databaseUrl: string, pool: Buffer[], seed: (db: pg.Client) => Promise<void>): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("CREATE TEMP TABLE bench_vectors (n int PRIMARY KEY, v bytea NOT NULL)");
    await db.query("INSERT INTO bench_vectors (n, v) SELECT n - 1, v FROM unnest($1::bytea[]) WITH ORDINALITY AS t(v, n)", [pool]);
    await seed(db);
  } finally {
    await db.end();
  }
}

/** Documents and their chunks in one transaction, two set-based INSERTs. */
async function insertDocuments(
  db: pg.Client,
  at: { orgId: string; assistantId: string; embeddingModel: string; dimensions: number },
  docs: SeedDocument[],
): Promise<void> {
  const ids = docs.map(() => newId("doc"));
  const chunks = docs.flatMap((doc, d) => doc.chunks.map((chunk, ordinal) => ({ ...chunk, ordinal, documentId: ids[d] as string })));
  await db.query("BEGIN");
  try {
    await db.query(
      `INSERT INTO knowledge_documents (id, org_id, assistant_id, filename, title, kind, size_bytes, sha256, r2_key, status, chunks,
                                        characters, embedding_model, embedding_dimensions, indexed_at)
       SELECT d.id, $1, $2, d.filename, d.title, 'txt', d.size, repeat('0', 64), 'bench/seeded/' || d.id, 'ready', d.chunks,
              d.characters, $3, $4, now()
         FROM unnest($5::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::int[]) AS d(id, filename, title, size, chunks, characters)`,
      [
        at.orgId,
        at.assistantId,
        at.embeddingModel,
        at.dimensions,
        ids,
        docs.map((d) => d.filename),
        docs.map((d) => d.title),
        docs.map((d) => d.size),
        docs.map((d) => d.chunks.length),
        docs.map((d) => d.characters),
      ],
    );
    await db.query(
      `INSERT INTO document_chunks (id, org_id, assistant_id, document_id, ordinal, text, embedding)
       SELECT c.id, $1, $2, c.document_id, c.ordinal, c.text, COALESCE(c.embedding, v.v)
         FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::bytea[], $8::int[]) AS c(id, document_id, ordinal, text, embedding, pool)
         LEFT JOIN bench_vectors v ON v.n = c.pool`,
      [
        at.orgId,
        at.assistantId,
        chunks.map(() => newId("chk")),
        chunks.map((c) => c.documentId),
        chunks.map((c) => c.ordinal),
        chunks.map((c) => c.text),
        chunks.map((c) => c.embedding),
        chunks.map((c) => c.pool),
      ],
    );
    await db.query("COMMIT");
  } catch (error) {
    await db.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

async function timeSearches(api: Api, assistantId: string, chunks: number, mode: string, queries: string[]): Promise<LatencyFigures> {
  const timings: number[] = [];
  let non200 = 0;
  let firstMs = Number.NaN;
  for (const [i, q] of queries.entries()) {
    const started = performance.now();
    const response = await api.send("GET", `/v1/assistants/${assistantId}/knowledge/search?${new URLSearchParams({ q, k: "10", mode })}`);
    const body = (await response.json()) as { mode?: string };
    const ms = performance.now() - started;
    if (response.status !== 200 || body.mode !== mode) non200++;
    if (i === 0) firstMs = ms;
    if (i >= WARM_UP) timings.push(ms);
  }
  return { chunks, mode, firstMs, p50Ms: percentile(timings, 50), p99Ms: percentile(timings, 99), non200 };
}

/**
 * An assistant open round the clock in 5-minute slots; its free slots from tomorrow on are
 * shared out to `keys.length` clients (one key each, one request in flight each), every booking
 * on a slot of its own, so none should be refused.
 */
async function measureBookings(baseUrl: string, keys: string[], count: number): Promise<BookingFigures & { assistantId: string }> {
  const api = new Api(baseUrl, keys);
  const day = [["00:00", "24:00"]];
  const weekly_hours = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, day]));
  const assistantId = await createAssistant(api, "bookings", { weekly_hours, slot_duration: 5, horizon_days: 365, min_notice_minutes: 0, buffer_minutes: 0 });
  const { from, to } = slotRange(1, SLOTS_DAYS);
  const range = await api.json<{ data: { times: { start: string }[] }[] }>("GET", `/v1/assistants/${assistantId}/slots?from=${from}&to=${to}`, undefined, 200);
  const starts = range.data.flatMap((d) => d.times.map((t) => t.start)).slice(0, count);
  const timings: number[] = [];
  let non201 = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const client = async (key: string) => {
    while (next < starts.length) {
      const start = starts[next++] as string;
      const started = performance.now();
      const response = await fetch(`${baseUrl}/v1/assistants/${assistantId}/bookings`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ start, customer_name: "Bench Customer", notify: "none" }),
      });
      const text = await response.text();
      timings.push(performance.now() - started);
      if (response.status !== 201) {
        non201++;
        firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
      }
    }
  };
  const started = performance.now();
  await Promise.all(keys.map(client));
  const seconds = (performance.now() - started) / 1000;
  if (firstFailure) console.error(`bench: ${non201} of ${starts.length} bookings failed, first: ${firstFailure}`);
  return {
    assistantId,
    clients: keys.length,
    booked: timings.length - non201,
    non201,
    perSecond: (timings.length - non201) / seconds,
    p50Ms: percentile(timings, 50),
    p99Ms: percentile(timings, 99),
  };
}

/** `GET …/slots` for 31 days of the bookings assistant (its bookings are the busy intervals), sequentially. */
async function measureSlots(api: Api, assistantId: string, requests: number): Promise<KnowledgeFigures["slots"]> {
  const { from, to } = slotRange(0, SLOTS_DAYS);
  const timings: number[] = [];
  let non200 = 0;
  for (let i = 0; i < WARM_UP + requests; i++) {
    const started = performance.now();
    const response = await api.send("GET", `/v1/assistants/${assistantId}/slots?from=${from}&to=${to}`);
    await response.arrayBuffer();
    if (response.status !== 200) non200++;
    if (i >= WARM_UP) timings.push(performance.now() - started);
  }
  return { requests: timings.length, days: SLOTS_DAYS, p50Ms: percentile(timings, 50), p99Ms: percentile(timings, 99), non200 };
}

/** `days` UTC days starting `offset` days from today, as YYYY-MM-DD. */
function slotRange(offset: number, days: number): { from: string; to: string } {
  const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
  return { from: day(offset), to: day(offset + days - 1) };
}

/** A credit adjustment in one statement: the balance row is locked by the UPDATE, the entry records the balance after. */
async function grantCredits(databaseUrl: string, orgId: string, amount: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const granted = await client.query(
      `WITH moved AS (UPDATE credit_balances SET balance = balance + $3, updated_at = now() WHERE org_id = $2 RETURNING balance)
       INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
       SELECT $1, $2, 'adjustment', $3, moved.balance, 'bench', $1, 'npm run bench: credits for knowledge embeddings' FROM moved`,
      [newId("cle"), orgId, amount],
    );
    if (granted.rowCount !== 1) throw new Error("the bench organisation has no balance row");
  } finally {
    await client.end();
  }
}

/** A pronounceable made-up word per number, distinct for distinct numbers. */
function pseudoWord(n: number): string {
  const consonants = "bcdfghklmnprstvz";
  const vowels = "aeiou";
  let word = "";
  let rest = n + 1;
  while (rest > 0) {
    word += (consonants[rest % 16] as string) + (vowels[Math.floor(rest / 16) % 5] as string);
    rest = Math.floor(rest / 80);
  }
  return `${word}x`;
}

/** Small seeded PRNG, so every run seeds the same text and asks the same questions. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The figures as `npm run bench` prints them, one `name value` a line. */
export function formatKnowledgeFigures(figures: KnowledgeFigures): string {
  const round = (value: number) => Math.round(value * 1000) / 1000;
  const lines: string[] = [];
  const { ingest } = figures;
  if (!ingest) lines.push("knowledge_scifact skipped (no data)");
  else {
    lines.push(
      `knowledge_scifact_ingest_documents ${ingest.documents}`,
      `knowledge_scifact_ingest_failed ${ingest.failed}`,
      `knowledge_scifact_ingest_chunks ${ingest.chunks}`,
      `knowledge_scifact_ingest_embedded_chunks ${ingest.vectors}`,
      `knowledge_scifact_ingest_seconds ${round(ingest.seconds)}`,
      `knowledge_ingest_chunks_per_s ${round(ingest.chunksPerSecond)}`,
      `knowledge_scifact_seeded_documents ${ingest.seededDocuments}`,
      `knowledge_scifact_seed_seconds ${round(ingest.seedSeconds)}`,
      `knowledge_scifact_rebuild_seconds ${round(ingest.rebuildSeconds)}`,
      `knowledge_scifact_index_chunks ${ingest.indexChunks}`,
    );
    if (Number.isNaN(ingest.indexChunks)) lines.push(`knowledge_scifact_quality skipped (rebuild did not answer within ${REBUILD_TIMEOUT_S} s)`);
  }
  for (const q of figures.quality) {
    // Hybrid here fuses BM25 with the fake OpenAI's feature-hashed embeddings, not a real model's.
    const prefix = q.mode === "hybrid" ? "knowledge_scifact_hybrid_fake_embedder" : `knowledge_scifact_${q.mode}`;
    for (const [name, value] of Object.entries(q.metrics)) {
      if (name === "queries" || name === "missingFromRun" || name === "runOnlyQueries") lines.push(`${prefix}_${name.toLowerCase()} ${value}`);
      else lines.push(`${prefix}_${name.toLowerCase().replace("@", "")} ${round(value)}`);
    }
    lines.push(`${prefix}_search_p50_ms ${round(q.searchP50Ms)}`, `${prefix}_other_mode ${q.otherMode}`, `${prefix}_non_200 ${q.non200}`);
  }
  for (const s of figures.seed) {
    lines.push(
      `knowledge_seed_${s.chunks}_chunks_seconds ${round(s.seedSeconds)}`,
      Number.isNaN(s.vectors)
        ? `knowledge_rebuild_${s.chunks}_chunks timeout ${REBUILD_TIMEOUT_S} s`
        : `knowledge_rebuild_${s.chunks}_chunks_seconds ${round(s.rebuildSeconds)}`,
      `knowledge_rebuild_${s.chunks}_chunks_vectors ${s.vectors}`,
    );
  }
  for (const l of figures.latency) {
    const prefix = `knowledge_search_${l.mode}_${l.chunks}_chunks`;
    lines.push(
      `${prefix}_first_ms ${round(l.firstMs)}`,
      `${prefix}_p50_ms ${round(l.p50Ms)}`,
      `${prefix}_p99_ms ${round(l.p99Ms)}`,
      `${prefix}_non_200 ${l.non200}`,
    );
  }
  const b = figures.bookings;
  lines.push(
    `bookings_${b.clients}_clients_booked ${b.booked}`,
    `bookings_${b.clients}_clients_per_s ${round(b.perSecond)}`,
    `bookings_${b.clients}_clients_latency_p50_ms ${round(b.p50Ms)}`,
    `bookings_${b.clients}_clients_latency_p99_ms ${round(b.p99Ms)}`,
    `bookings_non_201 ${b.non201}`,
    `slots_${figures.slots.days}_days_latency_p50_ms ${round(figures.slots.p50Ms)}`,
    `slots_${figures.slots.days}_days_latency_p99_ms ${round(figures.slots.p99Ms)}`,
    `slots_non_200 ${figures.slots.non200}`,
  );
  return lines.join("\n");
}
