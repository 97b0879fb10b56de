/**
 * The KnowledgeBase Durable Object through its RPC surface, one fresh object per test. Vectors
 * are hand-made (a few dimensions) so the expected neighbours can be read off the test.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ChunkInput, KnowledgeBase } from "../durable-objects/KnowledgeBase";
import { testEnv } from "./harness/helpers";

/** The error an RPC call rejects with; awaiting inside try keeps workerd's RPC promise from being reported unhandled. */
async function rejectionOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error("expected the call to be rejected");
}

function freshIndex() {
  return testEnv.KNOWLEDGE_BASE.get(testEnv.KNOWLEDGE_BASE.idFromName(`asst_kb_${crypto.randomUUID()}`));
}

const SALON: ChunkInput[] = [
  { id: "hours", documentId: "faq", title: "Opening hours", text: "We are open Monday to Friday from 9am to 6pm." },
  { id: "saturday", documentId: "faq", title: "Weekends", text: "On Saturday the salon opens at 10am and closes at 2pm. Sunday we are closed." },
  { id: "prices", documentId: "prices", title: "Price list", text: "Haircuts cost 25 dollars; colouring starts at 60 dollars." },
  { id: "parking", documentId: "directions", title: "Getting here", text: "There is free parking behind the building, next to the bakery." },
];

describe("KnowledgeBase lexical search", () => {
  it("ranks the chunk with the query's words first and leaves out chunks without them", async () => {
    const kb = freshIndex();
    expect(await kb.upsertChunks(SALON)).toEqual({ upserted: 4 });
    const result = await kb.search({ query: "When does the salon open on Saturday?" });
    expect(result.mode).toBe("lexical");
    expect(result.hits[0]).toMatchObject({ chunkId: "saturday", documentId: "faq", title: "Weekends", text: SALON[1]?.text });
    expect(result.hits.map((h) => h.chunkId)).not.toContain("prices");
    const scores = result.hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Porter stemming: "haircut" and "costs" match "Haircuts cost".
    expect((await kb.search({ query: "haircut costs" })).hits.map((h) => h.chunkId)).toEqual(["prices"]);
  });

  it("finds a chunk by a word that is only in its title", async () => {
    const kb = freshIndex();
    await kb.upsertChunks(SALON);
    const result = await kb.search({ query: "price list" });
    expect(result.hits.map((h) => h.chunkId)).toEqual(["prices"]);
    expect(result.hits[0]?.title).toBe("Price list");
  });

  it("treats FTS syntax, quotes and NUL in a query as plain words and never throws", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([...SALON, { id: "near", documentId: "misc", text: "The foo stands near the door." }]);
    for (const query of [
      "foo* OR NEAR(",
      '"',
      '""foo"',
      "foo\u0000bar",
      "title:foo",
      "^foo",
      "foo AND NOT",
      "(",
      "*",
      "-",
      "NEAR",
      "'; DROP TABLE chunks; --",
    ]) {
      const result = await kb.search({ query });
      expect(result.mode).toBe("lexical");
      expect(Array.isArray(result.hits)).toBe(true);
    }
    expect((await kb.search({ query: "foo* OR NEAR(" })).hits.map((h) => h.chunkId)).toEqual(["near"]);
    // No words at all: no lexical hits, and no error.
    expect((await kb.search({ query: '"*^() \u0000 --' })).hits).toEqual([]);
    expect((await kb.search({ query: "" })).hits).toEqual([]);
    expect((await kb.stats()).chunks).toBe(5);
  });

  it("matches words of other scripts, including ones with combining marks", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([
      ...SALON,
      { id: "hindi", documentId: "hi", text: "हमारा सैलून सोमवार को बंद रहता है।" },
      { id: "french", documentId: "fr", text: "Le café est offert aux clients." },
    ]);
    expect((await kb.search({ query: "क्या सोमवार को खुला है?" })).hits[0]?.chunkId).toBe("hindi");
    // Decomposed é (e + U+0301), as some keyboards and PDFs produce it.
    expect((await kb.search({ query: "cafe\u0301" })).hits.map((h) => h.chunkId)).toEqual(["french"]);
  });

  it("replaces a chunk with the same id so its old words no longer match", async () => {
    const kb = freshIndex();
    await kb.upsertChunks(SALON);
    await kb.upsertChunks([{ id: "prices", documentId: "prices", title: "Tarifs", text: "Manicures are 15 euros." }]);
    expect((await kb.search({ query: "haircuts dollars" })).hits).toEqual([]);
    expect((await kb.search({ query: "price list" })).hits).toEqual([]);
    const result = await kb.search({ query: "manicure" });
    expect(result.hits).toEqual([{ chunkId: "prices", documentId: "prices", title: "Tarifs", text: "Manicures are 15 euros.", score: expect.any(Number) }]);
    expect((await kb.search({ query: "tarifs" })).hits.map((h) => h.chunkId)).toEqual(["prices"]);
    expect(await kb.stats()).toEqual({ chunks: 4, documents: 3, vectors: 0, dimensions: null });
  });

  it("deletes one document's chunks and keeps the others", async () => {
    const kb = freshIndex();
    await kb.upsertChunks(SALON.map((c, i) => ({ ...c, embedding: [i === 0 ? 1 : 0, i === 1 ? 1 : 0, i === 2 ? 1 : 0, i === 3 ? 1 : 0] })));
    expect(await kb.deleteDocument("faq")).toEqual({ deleted: 2 });
    expect(await kb.stats()).toEqual({ chunks: 2, documents: 2, vectors: 2, dimensions: 4 });
    expect((await kb.search({ query: "open saturday monday" })).hits).toEqual([]);
    expect((await kb.search({ query: "parking" })).hits.map((h) => h.chunkId)).toEqual(["parking"]);
    const nearest = await kb.search({ query: "", embedding: [1, 0, 0, 0], mode: "vector", k: 10 });
    expect(nearest.hits.map((h) => h.chunkId).sort()).toEqual(["parking", "prices"]);
    expect(await kb.deleteDocument("no-such-document")).toEqual({ deleted: 0 });
  });
});

describe("KnowledgeBase sections: a document's neighbouring chunks ranked together", () => {
  // One leaflet in four chunks as the ingest job sends them (same title, ordinals 0..3), and a
  // one-chunk note that has more of the query's words in a single chunk than any leaflet chunk.
  const LEAFLET: ChunkInput[] = [
    { id: "l0", ordinal: 0, text: "Balayage is painted on by hand for a soft, natural look." },
    { id: "l1", ordinal: 1, text: "The treatment takes about three hours in the chair." },
    { id: "l2", ordinal: 2, text: "Book a consultation and a strand test first." },
    { id: "l3", ordinal: 3, text: "Aftercare: wash with a colour-safe shampoo." },
  ].map((c) => ({ ...c, documentId: "leaflet", title: "Colour treatments" }));
  const NOTE: ChunkInput = { id: "note", documentId: "note", title: "Staff note", text: "Three hours chair time: block the diary." };

  it("ranks a document whose chunks together hold the query's words first, answered by its best chunk", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([...LEAFLET, NOTE]);
    const result = await kb.search({ query: "how many hours does balayage take in the chair", k: 10 });
    expect(result.hits.map((h) => h.documentId)).toEqual(["leaflet", "note"]);
    // One passage per section: the chunk with most of the words, in full.
    expect(result.hits[0]).toMatchObject({ chunkId: "l1", title: "Colour treatments", text: LEAFLET[1]?.text });
    // A word only in the title still finds the document, through its first chunk's section.
    expect((await kb.search({ query: "colour treatments" })).hits.map((h) => h.documentId)).toEqual(["leaflet"]);
  });

  it("answers a long document once per section of four chunks", async () => {
    const kb = freshIndex();
    const manual = Array.from({ length: 10 }, (_, i) => ({ id: `m${i}`, documentId: "manual", ordinal: i, text: `Page ${i} of the dryer manual.` }));
    await kb.upsertChunks(manual);
    const hits = (await kb.search({ query: "dryer manual", k: 10 })).hits;
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((h) => h.chunkId)).size).toBe(3);
  });

  it("keeps sections in step when chunks are replaced or their document deleted", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([...LEAFLET, NOTE]);
    // The leaflet indexed again with other text, in two batches as a long document would be.
    await kb.upsertChunks([{ ...(LEAFLET[0] as ChunkInput), text: "Highlights are woven in with foils." }]);
    await kb.upsertChunks(LEAFLET.slice(1).map((c) => ({ ...c, text: `Foils stay on for ${c.ordinal} quarter hours.` })));
    expect((await kb.search({ query: "balayage strand shampoo" })).hits).toEqual([]);
    expect((await kb.search({ query: "woven foils", k: 10 })).hits.map((h) => h.chunkId)).toEqual(["l0"]);
    expect(await kb.deleteDocument("leaflet")).toEqual({ deleted: 4 });
    expect((await kb.search({ query: "foils colour treatments" })).hits).toEqual([]);
    expect((await kb.search({ query: "three hours", k: 10 })).hits.map((h) => h.chunkId)).toEqual(["note"]);
    await kb.reset();
    expect((await kb.search({ query: "three hours" })).hits).toEqual([]);
  });

  it("rejects an ordinal that is not a whole number from 0", async () => {
    const kb = freshIndex();
    expect(await rejectionOf(() => kb.upsertChunks([{ id: "x", documentId: "d", text: "x", ordinal: -1 }]))).toBe(
      "chunk 0 (x) ordinal must be a whole number from 0, or null",
    );
    expect(await rejectionOf(() => kb.upsertChunks([{ id: "x", documentId: "d", text: "x", ordinal: 1.5 }]))).toMatch(/ordinal/);
  });
});

describe("KnowledgeBase vector and hybrid search", () => {
  it("returns the nearest vectors first by cosine similarity", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([
      { id: "east", documentId: "d", text: "east", embedding: [1, 0, 0] },
      { id: "north-east", documentId: "d", text: "north east", embedding: [1, 1, 0] },
      { id: "north", documentId: "d", text: "north", embedding: new Float32Array([0, 5, 0]) },
      { id: "west", documentId: "d", text: "west", embedding: [-1, 0, 0] },
      { id: "up", documentId: "d", text: "up", embedding: [0, 0, 1] },
    ]);
    const result = await kb.search({ query: "", embedding: [0.9, 0.1, 0], mode: "vector", k: 5 });
    expect(result.mode).toBe("vector");
    expect(result.hits.map((h) => h.chunkId)).toEqual(["east", "north-east", "north", "up", "west"]);
    // Scores are cosines (int8 quantisation costs about a percent), independent of vector length.
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] as number), 0) / Math.hypot(...a) / Math.hypot(...b);
    expect(result.hits[0]?.score).toBeCloseTo(cos([0.9, 0.1, 0], [1, 0, 0]), 2);
    expect(result.hits[2]?.score).toBeCloseTo(cos([0.9, 0.1, 0], [0, 1, 0]), 2);
    expect(result.hits[4]?.score).toBeCloseTo(-cos([0.9, 0.1, 0], [1, 0, 0]), 2);
    expect((await kb.search({ query: "", embedding: [0, 0, 2], mode: "vector", k: 1 })).hits.map((h) => h.chunkId)).toEqual(["up"]);
  });

  it("fuses both rankings: a chunk first in both is first, and a chunk only vectors find still appears", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([
      { id: "both", documentId: "d1", title: "Refunds", text: "Refunds are paid back within five days.", embedding: [1, 0, 0, 0] },
      { id: "lexical-only", documentId: "d1", text: "Refunds for gift cards are not possible.", embedding: [0, 0, 1, 0] },
      { id: "vector-only", documentId: "d2", text: "Money comes back to your card in a week.", embedding: [0.9, 0.3, 0, 0] },
      { id: "neither", documentId: "d2", text: "Our team loves dogs.", embedding: [0, 0, 0, 1] },
    ]);
    const result = await kb.search({ query: "refunds", embedding: [1, 0.1, 0, 0] });
    expect(result.mode).toBe("hybrid");
    const ids = result.hits.map((h) => h.chunkId);
    expect(ids[0]).toBe("both");
    expect(ids).toContain("vector-only");
    expect(ids).toContain("lexical-only");
    // First in both lists: 1/61 + 1/61.
    expect(result.hits[0]?.score).toBeCloseTo(2 / 61, 10);
    const scores = result.hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // k limits the fused list.
    expect((await kb.search({ query: "refunds", embedding: [1, 0.1, 0, 0], k: 1 })).hits.map((h) => h.chunkId)).toEqual(["both"]);
  });

  it("rejects an embedding whose dimensions differ from the index's, without writing any of the batch", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([{ id: "a", documentId: "d", text: "alpha", embedding: [1, 0, 0] }]);
    expect(
      await rejectionOf(() =>
        kb.upsertChunks([
          { id: "b", documentId: "d", text: "bravo", embedding: [0, 1, 0] },
          { id: "c", documentId: "d", text: "charlie", embedding: [0, 1, 0, 0] },
        ]),
      ),
    ).toBe("chunk 1 (c) has a 4-dimension embedding; this index holds 3-dimension vectors");
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 1, dimensions: 3 });
    expect(await rejectionOf(() => kb.search({ query: "alpha", embedding: [1, 0], mode: "vector" }))).toBe(
      "query embedding has 2 dimensions; this index holds 3-dimension vectors",
    );
    expect(await rejectionOf(() => kb.upsertChunks([{ id: "d", documentId: "d", text: "delta", embedding: [1, Number.NaN, 0] }]))).toMatch(/non-finite/);
    expect(await rejectionOf(() => kb.upsertChunks([{ id: "e", documentId: "d", text: "echo", embedding: [] }]))).toMatch(/empty/);
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 1, dimensions: 3 });
  });

  it("falls back to lexical without a query embedding or without stored vectors, and says so", async () => {
    const kb = freshIndex();
    await kb.upsertChunks(SALON);
    for (const mode of ["vector", "hybrid"] as const) {
      const noVectors = await kb.search({ query: "parking", embedding: [1, 0, 0], mode });
      expect(noVectors.mode).toBe("lexical");
      expect(noVectors.hits.map((h) => h.chunkId)).toEqual(["parking"]);
    }
    await kb.upsertChunks([{ ...(SALON[3] as ChunkInput), embedding: [1, 0, 0] }]);
    for (const mode of ["vector", "hybrid", undefined] as const) {
      const noEmbedding = await kb.search({ query: "parking", mode });
      expect(noEmbedding.mode).toBe("lexical");
      expect(noEmbedding.hits.map((h) => h.chunkId)).toEqual(["parking"]);
    }
    expect((await kb.search({ query: "parking", embedding: [1, 0, 0] })).mode).toBe("hybrid");
    expect((await kb.search({ query: "parking", embedding: [1, 0, 0], mode: "lexical" })).mode).toBe("lexical");
  });

  it("clears a chunk's vector when it is upserted without one, and forgets the dimensions when none are left", async () => {
    const kb = freshIndex();
    await kb.upsertChunks([{ id: "a", documentId: "d", text: "alpha", embedding: [1, 0] }]);
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 1, dimensions: 2 });
    await kb.upsertChunks([{ id: "a", documentId: "d", text: "alpha", embedding: null }]);
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 0, dimensions: null });
    expect((await kb.search({ query: "alpha", embedding: [1, 0], mode: "vector" })).mode).toBe("lexical");
    await kb.upsertChunks([{ id: "a", documentId: "d", text: "alpha", embedding: [0, 0, 1] }]);
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 1, dimensions: 3 });
  });

  it("clamps k to 1..100", async () => {
    const kb = freshIndex();
    const many = Array.from({ length: 120 }, (_, i) => ({ id: `c${i}`, documentId: `d${i % 7}`, text: `salon note number ${i}`, embedding: [1, i / 120] }));
    await kb.upsertChunks(many);
    expect((await kb.search({ query: "salon" })).hits).toHaveLength(5);
    expect((await kb.search({ query: "salon", k: 500 })).hits).toHaveLength(100);
    expect((await kb.search({ query: "salon", k: 0 })).hits).toHaveLength(1);
    expect((await kb.search({ query: "", embedding: [1, 0], mode: "vector", k: 1000 })).hits).toHaveLength(100);
    expect((await kb.search({ query: "salon", embedding: [1, 0], k: 110 })).hits).toHaveLength(100);
    expect(await kb.stats()).toEqual({ chunks: 120, documents: 7, vectors: 120, dimensions: 2 });
  });

  it("finds the exact neighbour among thousands of 1536-dimension vectors upserted 500 at a time", async () => {
    const kb = freshIndex();
    const dimensions = 1536;
    // Deterministic pseudo-random vectors, so a failure reproduces.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648 - 0.5;
    };
    const vectors: Float32Array[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const chunks = Array.from({ length: 500 }, (_, i) => {
        const vector = Float32Array.from({ length: dimensions }, random);
        vectors.push(vector);
        return { id: `c${batch * 500 + i}`, documentId: `doc${batch}`, text: `chunk ${batch * 500 + i}`, embedding: vector };
      });
      expect(await kb.upsertChunks(chunks)).toEqual({ upserted: 500 });
    }
    expect(await kb.stats()).toEqual({ chunks: 2000, documents: 4, vectors: 2000, dimensions });
    const target = vectors[1234] as Float32Array;
    const query = target.map((x) => x + random() * 0.1);
    const result = await kb.search({ query: "", embedding: Array.from(query), mode: "vector", k: 3 });
    expect(result.hits[0]?.chunkId).toBe("c1234");
    expect(result.hits[0]?.score).toBeGreaterThan(0.9);
    expect(result.hits[1]?.score).toBeLessThan(0.2);
  });
});

describe("KnowledgeBase reset and stats", () => {
  it("counts chunks, documents and vectors, and reset empties everything", async () => {
    const kb = freshIndex();
    expect(await kb.stats()).toEqual({ chunks: 0, documents: 0, vectors: 0, dimensions: null });
    await kb.upsertChunks([
      { id: "a", documentId: "d1", text: "alpha", embedding: [1, 0] },
      { id: "b", documentId: "d1", text: "bravo" },
      { id: "c", documentId: "d2", text: "charlie", embedding: [0, 1] },
    ]);
    expect(await kb.stats()).toEqual({ chunks: 3, documents: 2, vectors: 2, dimensions: 2 });
    await kb.reset();
    expect(await kb.stats()).toEqual({ chunks: 0, documents: 0, vectors: 0, dimensions: null });
    expect((await kb.search({ query: "alpha bravo charlie" })).hits).toEqual([]);
    expect(await kb.search({ query: "alpha", embedding: [1, 0] })).toEqual({ mode: "lexical", hits: [] });
    // A rebuild may use another embedding model.
    await kb.upsertChunks([{ id: "a", documentId: "d1", text: "alpha again", embedding: [0, 0, 1] }]);
    expect(await kb.stats()).toEqual({ chunks: 1, documents: 1, vectors: 1, dimensions: 3 });
    expect((await kb.search({ query: "alpha", embedding: [0, 0, 1] })).hits.map((h) => [h.chunkId, h.text])).toEqual([["a", "alpha again"]]);
  });
});

describe("KnowledgeBase schema upgrade", () => {
  it("keeps the chunks of an object created with the first FTS-only schema searchable after the new migrations", async () => {
    const stub = freshIndex();
    const upgraded = await runInDurableObject(stub, async (_instance, state) => {
      // Put this object's storage back to what deployed objects have: migrations 1 and 2 and their rows.
      const sql = state.storage.sql;
      for (const name of ["chunks_search", "sections_search", "sections", "vectors", "meta", "chunks"]) sql.exec(`DROP TABLE ${name}`);
      sql.exec("CREATE TABLE chunks (id TEXT PRIMARY KEY, document_id TEXT NOT NULL, text TEXT NOT NULL)");
      sql.exec("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='rowid', tokenize='porter unicode61')");
      sql.exec("UPDATE _schema SET version = 2");
      for (const [id, text] of [
        ["old1", "Gift cards never expire."],
        ["old2", "Appointments can be moved up to a day before."],
      ]) {
        const { rowid } = sql.exec<{ rowid: number }>("INSERT INTO chunks (id, document_id, text) VALUES (?, 'legacy', ?) RETURNING rowid", id, text).one();
        sql.exec("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", rowid, text);
      }
      // A new instance on the same storage runs the appended migrations, as a deployed object wakes up.
      const kb = new KnowledgeBase(state, {});
      // The constructor migrates inside blockConcurrencyWhile; this waits for it to finish.
      await state.blockConcurrencyWhile(async () => {});
      const version = sql.exec<{ version: number }>("SELECT version FROM _schema").one().version;
      return { version, hits: (await kb.search({ query: "gift cards" })).hits, stats: await kb.stats() };
    });
    expect(upgraded.version).toBe(17);
    expect(upgraded.hits).toEqual([{ chunkId: "old1", documentId: "legacy", title: null, text: "Gift cards never expire.", score: expect.any(Number) }]);
    expect(upgraded.stats).toEqual({ chunks: 2, documents: 1, vectors: 0, dimensions: null });
  });
});
