import { DurableObject } from "cloudflare:workers";
import type { DurableObjectEnv } from "./env";
import { migrate } from "./sqlite";

export interface ChunkInput {
  id: string;
  documentId: string;
  text: string;
}

export interface SearchHit {
  id: string;
  documentId: string;
  text: string;
  score: number;
}

const MIGRATIONS = [
  `CREATE TABLE chunks (
     id TEXT PRIMARY KEY,
     document_id TEXT NOT NULL,
     text TEXT NOT NULL
   )`,
  // External-content FTS5 index over chunks.text; kept in step by the methods below.
  `CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='rowid', tokenize='porter unicode61')`,
] as const;

/**
 * The retrieval index of one assistant (`idFromName(assistantId)`). Postgres keeps documents and
 * chunk text as the source of truth; this index can always be rebuilt from it. Lexical search
 * (FTS5, BM25) now; embeddings and hybrid ranking come with the knowledge-base issue.
 */
export class KnowledgeBase extends DurableObject<DurableObjectEnv> {
  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
  }

  async upsertChunks(chunks: ChunkInput[]): Promise<number> {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const chunk of chunks) {
        const old = sql.exec<{ rowid: number; text: string }>("SELECT rowid, text FROM chunks WHERE id = ?", chunk.id).toArray()[0];
        if (old) {
          sql.exec("INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', ?, ?)", old.rowid, old.text);
          sql.exec("UPDATE chunks SET document_id = ?, text = ? WHERE id = ?", chunk.documentId, chunk.text, chunk.id);
          sql.exec("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", old.rowid, chunk.text);
        } else {
          const { rowid } = sql
            .exec<{ rowid: number }>("INSERT INTO chunks (id, document_id, text) VALUES (?, ?, ?) RETURNING rowid", chunk.id, chunk.documentId, chunk.text)
            .one();
          sql.exec("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", rowid, chunk.text);
        }
      }
    });
    return chunks.length;
  }

  /** Best `limit` chunks for `query` by BM25; the query is matched as plain words, never as FTS syntax. */
  async search(query: string, limit = 5): Promise<SearchHit[]> {
    const words = query.match(/[\p{L}\p{N}]+/gu) ?? [];
    if (words.length === 0) return [];
    const match = words.map((w) => `"${w}"`).join(" OR ");
    return this.ctx.storage.sql
      .exec<{ id: string; document_id: string; text: string; score: number }>(
        `SELECT c.id, c.document_id, c.text, -bm25(chunks_fts) AS score
           FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
          WHERE chunks_fts MATCH ?
          ORDER BY score DESC
          LIMIT ?`,
        match,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, documentId: r.document_id, text: r.text, score: r.score }));
  }
}
