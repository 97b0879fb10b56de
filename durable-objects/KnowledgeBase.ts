import { DurableObject } from "cloudflare:workers";
import type { DurableObjectEnv } from "./env";
import { migrate } from "./sqlite";

export interface ChunkInput {
  id: string;
  documentId: string;
  title?: string | null;
  text: string;
  /**
   * The chunk's place in its document (0, 1, ...). Chunks with one are searched for words in
   * sections of SECTION_CHUNKS neighbours; a chunk without one is a section of its own.
   */
  ordinal?: number | null;
  /** Any length, as long as every vector of this index has the same; null or absent clears it. */
  embedding?: number[] | Float32Array | null;
}

export type SearchMode = "lexical" | "vector" | "hybrid";

export interface SearchInput {
  query: string;
  /** How many hits; default 5, clamped to 1..100. */
  k?: number;
  embedding?: number[] | Float32Array | null;
  mode?: SearchMode;
}

export interface SearchHit {
  chunkId: string;
  documentId: string;
  title: string | null;
  score: number;
  text: string;
}

export interface SearchResult {
  /** The mode actually used: vector and hybrid fall back to lexical without an embedding or vectors. */
  mode: SearchMode;
  hits: SearchHit[];
}

export interface IndexStats {
  chunks: number;
  documents: number;
  vectors: number;
  dimensions: number | null;
}

const MIGRATIONS = [
  // 1 and 2 have run in deployed objects: never edit them, only append.
  `CREATE TABLE chunks (
     id TEXT PRIMARY KEY,
     document_id TEXT NOT NULL,
     text TEXT NOT NULL
   )`,
  // External-content FTS5 index over chunks.text; kept in step by the methods below.
  `CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='rowid', tokenize='porter unicode61')`,
  // 3..6: a title per chunk, searchable with the text. The new FTS table replaces chunks_fts and is
  // filled from the rows that are already there.
  "ALTER TABLE chunks ADD COLUMN title TEXT",
  `CREATE VIRTUAL TABLE chunks_search USING fts5(title, text, content='chunks', content_rowid='rowid', tokenize='porter unicode61')`,
  "INSERT INTO chunks_search (chunks_search) VALUES ('rebuild')",
  "DROP TABLE chunks_fts",
  // 7: one int8 vector per chunk, unit-normalised before quantising, so dot(q, data) * scale is the cosine.
  `CREATE TABLE vectors (
     chunk_rowid INTEGER PRIMARY KEY,
     scale REAL NOT NULL,
     data BLOB NOT NULL
   )`,
  // 8: index-wide settings; `dimensions` is set by the first vector and cleared when none are left.
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  // 9: deleteDocument finds a document's chunks without a scan.
  "CREATE INDEX chunks_document_id ON chunks (document_id)",
  // 10..17: sections, the unit of lexical ranking (see SECTION_CHUNKS). `part` is the section's
  // number in its document, or 'chunk:<id>' for a chunk without an ordinal; existing chunks
  // become sections of their own until their document is indexed again.
  "ALTER TABLE chunks ADD COLUMN ordinal INTEGER",
  "ALTER TABLE chunks ADD COLUMN section INTEGER",
  `CREATE TABLE sections (
     rowid INTEGER PRIMARY KEY,
     document_id TEXT NOT NULL,
     part TEXT NOT NULL,
     title TEXT,
     text TEXT NOT NULL,
     UNIQUE (document_id, part)
   )`,
  `CREATE VIRTUAL TABLE sections_search USING fts5(title, text, content='sections', content_rowid='rowid', tokenize='porter unicode61')`,
  "INSERT INTO sections (document_id, part, title, text) SELECT document_id, 'chunk:' || id, title, text FROM chunks",
  "UPDATE chunks SET section = (SELECT s.rowid FROM sections s WHERE s.document_id = chunks.document_id AND s.part = 'chunk:' || chunks.id)",
  "INSERT INTO sections_search (sections_search) VALUES ('rebuild')",
  "CREATE INDEX chunks_section ON chunks (section)",
] as const;

/** Title counts double against the body, but the body (many more words) still dominates BM25. */
const TITLE_WEIGHT = 2.0;
const TEXT_WEIGHT = 1.0;
/**
 * Chunks (about 512 characters) are what a search answers with, but they are too short to rank
 * well by words: BM25 over one chunk misses a passage whose claim is spread over its neighbours.
 * So words rank sections of this many consecutive chunks (about 2,000 characters, a whole
 * abstract) and each section answers with its best chunk. Measured offline on SciFact: nDCG@10
 * 0.676 ranking chunks, 0.693 ranking 4-chunk sections (0.686 with 3, 0.690 with 6 or 8); short
 * enough that a long manual still has its relevant page found.
 */
const SECTION_CHUNKS = 4;
const DEFAULT_K = 5;
const MAX_K = 100;
/** How deep each list goes into the fusion, and the RRF constant from Cormack et al. */
const FUSION_DEPTH = 100;
const RRF_K = 60;
/** A pasted page as a "query" should not become a thousand-term OR. */
const MAX_QUERY_WORDS = 64;
/** Longest overlap looked for between neighbouring chunks (the chunker's is at most half a chunk). */
const MAX_OVERLAP = 256;

/** All vectors of the index in one block: the only copy held in memory. */
interface VectorCache {
  count: number;
  dimensions: number;
  data: Int8Array;
  scales: Float32Array;
  rowids: Float64Array;
}

interface Ranked {
  rowid: number;
  score: number;
}

/**
 * The retrieval index of one assistant (`idFromName(assistantId)`). Postgres keeps documents,
 * chunk text and float32 embeddings as the source of truth; this index can always be rebuilt from
 * it (`reset` then `upsertChunks`). Lexical search is FTS5 BM25 over title and text of sections of
 * neighbouring chunks, each answered by its best chunk; vector search
 * is an exact cosine scan over int8 vectors cached in memory, and hybrid fuses both by rank.
 */
export class KnowledgeBase extends DurableObject<DurableObjectEnv> {
  private cache: VectorCache | null = null;

  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
  }

  /** Inserts or replaces chunks by id; a chunk without an embedding loses any vector it had. */
  async upsertChunks(chunks: ChunkInput[]): Promise<{ upserted: number }> {
    if (!Array.isArray(chunks)) throw new Error("upsertChunks expects an array of chunks");
    // Validate and quantise everything first so a bad chunk rejects the batch before any write.
    let dimensions = this.storedDimensions();
    const prepared = chunks.map((chunk, i) => {
      checkChunk(chunk, i);
      const vector = chunk.embedding == null ? null : toVector(chunk.embedding, `chunk ${i} (${chunk.id}) embedding`);
      if (vector) {
        if (dimensions === null) dimensions = vector.length;
        else if (vector.length !== dimensions) {
          throw new Error(`chunk ${i} (${chunk.id}) has a ${vector.length}-dimension embedding; this index holds ${dimensions}-dimension vectors`);
        }
      }
      return { chunk, quantised: vector ? quantise(vector) : null };
    });

    const sql = this.ctx.storage.sql;
    this.cache = null;
    this.ctx.storage.transactionSync(() => {
      // Sections that gain or lose a chunk; their text is rebuilt once, after the whole batch.
      const touched = new Set<number>();
      for (const { chunk, quantised } of prepared) {
        const title = chunk.title ?? null;
        const ordinal = chunk.ordinal ?? null;
        const previous = sql.exec<{ section: number | null }>("SELECT section FROM chunks WHERE id = ?", chunk.id).toArray()[0];
        if (previous?.section != null) touched.add(previous.section);
        const section = this.sectionOf(chunk.documentId, ordinal === null ? `chunk:${chunk.id}` : String(Math.floor(ordinal / SECTION_CHUNKS)));
        touched.add(section);
        // External content: FTS5 must be told the old values to remove them (no-op for a new id).
        sql.exec("INSERT INTO chunks_search (chunks_search, rowid, title, text) SELECT 'delete', rowid, title, text FROM chunks WHERE id = ?", chunk.id);
        const { rowid } = sql
          .exec<{ rowid: number }>(
            `INSERT INTO chunks (id, document_id, title, text, ordinal, section) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET document_id = excluded.document_id, title = excluded.title, text = excluded.text,
                                            ordinal = excluded.ordinal, section = excluded.section
             RETURNING rowid`,
            chunk.id,
            chunk.documentId,
            title,
            chunk.text,
            ordinal,
            section,
          )
          .one();
        sql.exec("INSERT INTO chunks_search (rowid, title, text) VALUES (?, ?, ?)", rowid, title, chunk.text);
        if (quantised) {
          sql.exec(
            "INSERT INTO vectors (chunk_rowid, scale, data) VALUES (?, ?, ?) ON CONFLICT (chunk_rowid) DO UPDATE SET scale = excluded.scale, data = excluded.data",
            rowid,
            quantised.scale,
            quantised.data,
          );
        } else {
          sql.exec("DELETE FROM vectors WHERE chunk_rowid = ?", rowid);
        }
      }
      for (const section of touched) this.refreshSection(section);
      if (dimensions !== null)
        sql.exec("INSERT INTO meta (key, value) VALUES ('dimensions', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", String(dimensions));
      this.forgetDimensionsIfNoVectors();
    });
    return { upserted: prepared.length };
  }

  async deleteDocument(documentId: string): Promise<{ deleted: number }> {
    if (typeof documentId !== "string") throw new Error("deleteDocument expects a document id string");
    const sql = this.ctx.storage.sql;
    this.cache = null;
    return this.ctx.storage.transactionSync(() => {
      sql.exec(
        "INSERT INTO chunks_search (chunks_search, rowid, title, text) SELECT 'delete', rowid, title, text FROM chunks WHERE document_id = ?",
        documentId,
      );
      sql.exec(
        "INSERT INTO sections_search (sections_search, rowid, title, text) SELECT 'delete', rowid, title, text FROM sections WHERE document_id = ?",
        documentId,
      );
      sql.exec("DELETE FROM sections WHERE document_id = ?", documentId);
      sql.exec("DELETE FROM vectors WHERE chunk_rowid IN (SELECT rowid FROM chunks WHERE document_id = ?)", documentId);
      const deleted = sql.exec("DELETE FROM chunks WHERE document_id = ? RETURNING 1", documentId).toArray().length;
      this.forgetDimensionsIfNoVectors();
      return { deleted };
    });
  }

  /** Empties the index (a rebuild starts here); the next vector may have any dimensions. */
  async reset(): Promise<void> {
    const sql = this.ctx.storage.sql;
    this.cache = null;
    this.ctx.storage.transactionSync(() => {
      sql.exec("INSERT INTO chunks_search (chunks_search) VALUES ('delete-all')");
      sql.exec("INSERT INTO sections_search (sections_search) VALUES ('delete-all')");
      sql.exec("DELETE FROM sections");
      sql.exec("DELETE FROM vectors");
      sql.exec("DELETE FROM chunks");
      sql.exec("DELETE FROM meta");
    });
  }

  async stats(): Promise<IndexStats> {
    const row = this.ctx.storage.sql
      .exec<{ chunks: number; documents: number; vectors: number }>(
        "SELECT (SELECT COUNT(*) FROM chunks) AS chunks, (SELECT COUNT(DISTINCT document_id) FROM chunks) AS documents, (SELECT COUNT(*) FROM vectors) AS vectors",
      )
      .one();
    return { ...row, dimensions: this.storedDimensions() };
  }

  async search(input: SearchInput): Promise<SearchResult> {
    if (input === null || typeof input !== "object") throw new Error("search expects { query, k?, embedding?, mode? }");
    const query = typeof input.query === "string" ? input.query : "";
    const k = clampK(input.k);
    if (input.mode !== undefined && input.mode !== "lexical" && input.mode !== "vector" && input.mode !== "hybrid") {
      throw new Error(`unknown search mode ${JSON.stringify(input.mode)}; use lexical, vector or hybrid`);
    }
    const queryVector = input.embedding == null ? null : toVector(input.embedding, "query embedding");
    const mode = this.effectiveMode(input.mode, queryVector);

    let ranked: Ranked[];
    if (mode === "lexical" || !queryVector) {
      ranked = this.lexical(query, k);
    } else if (mode === "vector") {
      ranked = this.nearest(queryVector, k);
    } else {
      ranked = fuse([this.lexical(query, FUSION_DEPTH), this.nearest(queryVector, FUSION_DEPTH)]).slice(0, k);
    }
    return { mode, hits: this.hydrate(ranked) };
  }

  /** Vector modes need both a query embedding and stored vectors; otherwise lexical is what we can do. */
  private effectiveMode(requested: SearchMode | undefined, queryVector: Float32Array | null): SearchMode {
    if (requested === "lexical") return "lexical";
    if (!queryVector || this.vectorCount() === 0) return "lexical";
    return requested ?? "hybrid";
  }

  /**
   * BM25 over title and text of sections, each answered by its best chunk (by the same query over
   * the section's chunks) with the section's score. Each word of the query is quoted, so no user
   * text is FTS syntax.
   */
  private lexical(query: string, limit: number): Ranked[] {
    // Combining marks belong to the word (Devanagari vowel signs, decomposed accents).
    const words = [...new Set(query.match(/[\p{L}\p{M}\p{N}]+/gu) ?? [])].slice(0, MAX_QUERY_WORDS);
    if (words.length === 0) return [];
    const match = words.map((w) => `"${w}"`).join(" OR ");
    const sql = this.ctx.storage.sql;
    const sections = sql
      .exec<{ rowid: number; score: number }>(
        `SELECT rowid, -bm25(sections_search, ${TITLE_WEIGHT}, ${TEXT_WEIGHT}) AS score
           FROM sections_search
          WHERE sections_search MATCH ?
          ORDER BY score DESC
          LIMIT ?`,
        match,
        limit,
      )
      .toArray();
    if (sections.length === 0) return [];
    const best = new Map<number, Ranked>();
    const chunks = sql.exec<{ section: number; rowid: number; score: number }>(
      `SELECT c.section AS section, c.rowid AS rowid, -bm25(chunks_search, ${TITLE_WEIGHT}, ${TEXT_WEIGHT}) AS score
         FROM chunks_search JOIN chunks c ON c.rowid = chunks_search.rowid
        WHERE chunks_search MATCH ? AND c.section IN (SELECT value FROM json_each(?))`,
      match,
      JSON.stringify(sections.map((s) => s.rowid)),
    );
    for (const { section, rowid, score } of chunks) {
      const seen = best.get(section);
      if (!seen || score > seen.score) best.set(section, { rowid, score });
    }
    return sections.flatMap((s) => {
      const chunk = best.get(s.rowid);
      return chunk ? [{ rowid: chunk.rowid, score: s.score }] : [];
    });
  }

  /** The rowid of a document's section `part`, made empty (and indexed empty) when new. */
  private sectionOf(documentId: string, part: string): number {
    const sql = this.ctx.storage.sql;
    const created = sql
      .exec<{ rowid: number }>(
        "INSERT INTO sections (document_id, part, title, text) VALUES (?, ?, NULL, '') ON CONFLICT DO NOTHING RETURNING rowid",
        documentId,
        part,
      )
      .toArray()[0];
    if (!created) return sql.exec<{ rowid: number }>("SELECT rowid FROM sections WHERE document_id = ? AND part = ?", documentId, part).one().rowid;
    // Every section row has the FTS entry of its current values, so it can always be deleted by them.
    sql.exec("INSERT INTO sections_search (rowid, title, text) VALUES (?, NULL, '')", created.rowid);
    return created.rowid;
  }

  /** A section's text again from its chunks in document order; a section left with none goes. */
  private refreshSection(rowid: number): void {
    const sql = this.ctx.storage.sql;
    const current = sql.exec<{ title: string | null; text: string }>("SELECT title, text FROM sections WHERE rowid = ?", rowid).toArray()[0];
    if (!current) return;
    sql.exec("INSERT INTO sections_search (sections_search, rowid, title, text) VALUES ('delete', ?, ?, ?)", rowid, current.title, current.text);
    const parts = sql.exec<{ title: string | null; text: string }>("SELECT title, text FROM chunks WHERE section = ? ORDER BY ordinal, rowid", rowid).toArray();
    if (parts.length === 0) {
      sql.exec("DELETE FROM sections WHERE rowid = ?", rowid);
      return;
    }
    const title = parts[0]?.title ?? null;
    const text = joinChunks(parts.map((p) => p.text));
    sql.exec("UPDATE sections SET title = ?, text = ? WHERE rowid = ?", title, text, rowid);
    sql.exec("INSERT INTO sections_search (rowid, title, text) VALUES (?, ?, ?)", rowid, title, text);
  }

  /** Exact cosine top-`limit`: one pass over the int8 block, keeping a small sorted list. */
  private nearest(query: Float32Array, limit: number): Ranked[] {
    const cache = this.vectors();
    if (!cache || cache.count === 0) return [];
    if (query.length !== cache.dimensions) {
      throw new Error(`query embedding has ${query.length} dimensions; this index holds ${cache.dimensions}-dimension vectors`);
    }
    const q = normalise(query);
    const { data, scales, rowids, count, dimensions } = cache;
    const topScores = new Float64Array(limit);
    const topIndexes = new Int32Array(limit);
    let filled = 0;
    for (let i = 0, offset = 0; i < count; i++, offset += dimensions) {
      let dot = 0;
      for (let j = 0; j < dimensions; j++) dot += (q[j] as number) * (data[offset + j] as number);
      const score = dot * (scales[i] as number);
      if (filled === limit && score <= (topScores[limit - 1] as number)) continue;
      // Insertion into the sorted top list (descending); limit is at most 100.
      let at = filled < limit ? filled++ : limit - 1;
      while (at > 0 && (topScores[at - 1] as number) < score) {
        topScores[at] = topScores[at - 1] as number;
        topIndexes[at] = topIndexes[at - 1] as number;
        at--;
      }
      topScores[at] = score;
      topIndexes[at] = i;
    }
    const out: Ranked[] = [];
    for (let i = 0; i < filled; i++) out.push({ rowid: rowids[topIndexes[i] as number] as number, score: topScores[i] as number });
    return out;
  }

  /** Loads all vectors into one Int8Array on first use after a write; rows are copied in one by one. */
  private vectors(): VectorCache | null {
    if (this.cache) return this.cache;
    const dimensions = this.storedDimensions();
    if (dimensions === null) return null;
    const sql = this.ctx.storage.sql;
    const total = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM vectors").one().n;
    const data = new Int8Array(total * dimensions);
    const scales = new Float32Array(total);
    const rowids = new Float64Array(total);
    let count = 0;
    for (const row of sql.exec<{ chunk_rowid: number; scale: number; data: ArrayBuffer }>("SELECT chunk_rowid, scale, data FROM vectors")) {
      const bytes = new Int8Array(row.data);
      if (bytes.length !== dimensions || count === total) continue;
      data.set(bytes, count * dimensions);
      scales[count] = row.scale;
      rowids[count] = row.chunk_rowid;
      count++;
    }
    this.cache = { count, dimensions, data, scales, rowids };
    return this.cache;
  }

  private vectorCount(): number {
    if (this.cache) return this.cache.count;
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM vectors").one().n;
  }

  private storedDimensions(): number | null {
    const row = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'dimensions'").toArray()[0];
    return row ? Number(row.value) : null;
  }

  private forgetDimensionsIfNoVectors(): void {
    this.ctx.storage.sql.exec("DELETE FROM meta WHERE key = 'dimensions' AND NOT EXISTS (SELECT 1 FROM vectors)");
  }

  /** Chunk rows for ranked rowids, in rank order (rows deleted meanwhile are skipped). */
  private hydrate(ranked: Ranked[]): SearchHit[] {
    if (ranked.length === 0) return [];
    // One JSON parameter instead of one bound parameter per id.
    const rows = this.ctx.storage.sql
      .exec<{ rowid: number; id: string; document_id: string; title: string | null; text: string }>(
        "SELECT rowid, id, document_id, title, text FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))",
        JSON.stringify(ranked.map((r) => r.rowid)),
      )
      .toArray();
    const byRowid = new Map(rows.map((r) => [r.rowid, r]));
    const hits: SearchHit[] = [];
    for (const { rowid, score } of ranked) {
      const row = byRowid.get(rowid);
      if (row) hits.push({ chunkId: row.id, documentId: row.document_id, title: row.title, score, text: row.text });
    }
    return hits;
  }
}

/** Chunks of one section as one text, each without the start it repeats of the one before (the chunker's overlap). */
function joinChunks(texts: string[]): string {
  let joined = texts[0] ?? "";
  for (const next of texts.slice(1)) joined += ` ${next.slice(overlapLength(joined, next)).trimStart()}`;
  return joined;
}

/** The longest start of `next` that `previous` ends with, both cut at words, up to MAX_OVERLAP characters. */
function overlapLength(previous: string, next: string): number {
  for (let n = Math.min(MAX_OVERLAP, previous.length, next.length); n > 0; n--) {
    const endsWord = n === next.length || /\s/.test(next[n] as string);
    const startsWord = n === previous.length || /\s/.test(previous[previous.length - n - 1] as string);
    if (endsWord && startsWord && previous.endsWith(next.slice(0, n))) return n;
  }
  return 0;
}

/** Reciprocal Rank Fusion: each list adds 1 / (RRF_K + rank); a chunk high in both wins. */
function fuse(lists: Ranked[][]): Ranked[] {
  const scores = new Map<number, number>();
  for (const list of lists) {
    list.forEach(({ rowid }, i) => {
      scores.set(rowid, (scores.get(rowid) ?? 0) + 1 / (RRF_K + i + 1));
    });
  }
  return [...scores].map(([rowid, score]) => ({ rowid, score })).sort((a, b) => b.score - a.score || a.rowid - b.rowid);
}

function clampK(k: unknown): number {
  if (typeof k !== "number" || !Number.isFinite(k)) return DEFAULT_K;
  return Math.min(MAX_K, Math.max(1, Math.floor(k)));
}

function checkChunk(chunk: ChunkInput, i: number): void {
  if (chunk === null || typeof chunk !== "object") throw new Error(`chunk ${i} is not an object`);
  if (typeof chunk.id !== "string" || chunk.id === "") throw new Error(`chunk ${i} needs a non-empty string id`);
  if (typeof chunk.documentId !== "string" || chunk.documentId === "") throw new Error(`chunk ${i} (${chunk.id}) needs a non-empty string documentId`);
  if (typeof chunk.text !== "string") throw new Error(`chunk ${i} (${chunk.id}) needs a string text`);
  if (chunk.title != null && typeof chunk.title !== "string") throw new Error(`chunk ${i} (${chunk.id}) title must be a string or null`);
  if (chunk.ordinal != null && !(Number.isSafeInteger(chunk.ordinal) && chunk.ordinal >= 0)) {
    throw new Error(`chunk ${i} (${chunk.id}) ordinal must be a whole number from 0, or null`);
  }
}

function toVector(embedding: number[] | Float32Array, what: string): Float32Array {
  if (!(embedding instanceof Float32Array) && !Array.isArray(embedding)) throw new Error(`${what} must be an array of numbers`);
  if (embedding.length === 0) throw new Error(`${what} is empty`);
  const vector = Float32Array.from(embedding as ArrayLike<number>);
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) throw new Error(`${what} has a non-finite value at ${i}`);
  }
  return vector;
}

function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) ** 2;
  const norm = Math.sqrt(sum);
  if (norm === 0) return vector;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) / norm;
  return out;
}

/** Unit-normalise, then map [-max, max] to [-127, 127]; a zero vector stays zero (cosine 0 with anything). */
function quantise(vector: Float32Array): { data: Uint8Array; scale: number } {
  const unit = normalise(vector);
  let max = 0;
  for (let i = 0; i < unit.length; i++) max = Math.max(max, Math.abs(unit[i] as number));
  const scale = max / 127;
  const data = new Int8Array(unit.length);
  if (scale > 0) for (let i = 0; i < unit.length; i++) data[i] = Math.round((unit[i] as number) / scale);
  return { data: new Uint8Array(data.buffer), scale };
}
