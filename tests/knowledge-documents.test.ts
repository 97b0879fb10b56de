import { createExecutionContext, createScheduledController, SELF, waitOnExecutionContext } from "cloudflare:test";
import { desc, eq } from "drizzle-orm";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { cronRuns, documentChunks, knowledgeDocuments } from "../src/db/schema";
import type { Env } from "../src/env";
import worker from "../src/index";
import { newId } from "../src/lib/ids";
import { createServiceCtx } from "../src/lib/service-ctx";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { documentKey } from "../src/modules/assistants/knowledge/documents";
import { ingestDocument } from "../src/modules/assistants/knowledge/ingest";
import type { DocumentView } from "../src/modules/assistants/knowledge/schemas";
import type { KnowledgeAnswer } from "../src/modules/assistants/knowledge/search";
import { MAX_REQUEUES } from "../src/modules/assistants/knowledge/stuck";
import { cronJobs } from "../src/scheduled";
import { call, expectJson, joinOrgAs, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, fakeOpenAI, fetchWithEnv, setCreditBalance, testCtx, testEnv } from "./harness/helpers";

async function createAssistant(who: SignedUp): Promise<Assistant> {
  return expectJson<Assistant>(
    await call("/v1/assistants", {
      token: who.access_token,
      orgId: who.orgId,
      body: { name: "Ava", business_name: "Harbour Clinic", timezone: "Europe/London" },
    }),
    201,
  );
}

type Upload = { name: string; content: string | Uint8Array; type?: string };

function uploadRequest(who: SignedUp, assistantId: string, files: Upload[], field = "files"): Request {
  const form = new FormData();
  for (const file of files) form.append(field, new File([file.content], file.name, { type: file.type ?? "application/octet-stream" }));
  return new Request(`http://api.test/v1/assistants/${assistantId}/documents`, {
    method: "POST",
    headers: { Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId, "CF-Connecting-IP": uniqueIp() },
    body: form,
  });
}

async function upload(who: SignedUp, assistantId: string, files: Upload[]): Promise<{ id: string; filename: string; status: string }[]> {
  return (await expectJson<{ data: { id: string; filename: string; status: string }[] }>(await SELF.fetch(uploadRequest(who, assistantId, files)), 202)).data;
}

function getDocument(who: SignedUp, assistantId: string, documentId: string): Promise<Response> {
  return call(`/v1/assistants/${assistantId}/documents/${documentId}`, { token: who.access_token, orgId: who.orgId });
}

/** Polls until the background ingest has finished the document (the real queue consumer runs it). */
async function settled(who: SignedUp, assistantId: string, documentId: string): Promise<DocumentView> {
  for (let i = 0; i < 100; i++) {
    const doc = await expectJson<DocumentView>(await getDocument(who, assistantId, documentId), 200);
    if (doc.status === "ready" || doc.status === "failed") return doc;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`document ${documentId} never settled`);
}

async function search(who: SignedUp, assistantId: string, query: string): Promise<KnowledgeAnswer> {
  return expectJson<KnowledgeAnswer>(await call(`/v1/assistants/${assistantId}/knowledge/search?${query}`, { token: who.access_token, orgId: who.orgId }), 200);
}

async function textPdf(lines: string[], title?: string): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  if (title) pdf.setTitle(title);
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const page = pdf.addPage([600, 800]);
  for (const [i, line] of lines.entries()) page.drawText(line, { x: 40, y: 760 - i * 20, size: 12, font });
  return pdf.save();
}

/** A page with a drawing and no text at all: what a scanner produces, as far as text goes. */
async function scannedPdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  pdf.addPage([600, 800]).drawRectangle({ x: 50, y: 50, width: 300, height: 200 });
  return pdf.save();
}

/** A PDF whose trailer names a Standard security handler that the empty password does not open. */
function encryptedPdf(): Uint8Array {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    `<< /Filter /Standard /V 1 /R 2 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -44 >>`,
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<${"01".repeat(16)}> <${"01".repeat(16)}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

const FAQ = `# Harbour Clinic FAQ

## Parking
Parking is free on Saturdays and Sundays in the harbour car park behind the clinic.

## Payments
We take cards, cash and bank transfers. Invoices are due within thirty days.`;

const PAGE = `<!doctype html><html><head><title>Opening &amp; Hours</title><style>.x{color:red}</style></head>
<body><h1>When we are open</h1><p>Weekdays 8&nbsp;am to 6 pm.</p><script>var secret = "do-not-index";</script><p>Closed on bank holidays.</p></body></html>`;

describe("uploading knowledge documents", () => {
  it("stores each file, decides its kind from the content and indexes it in the background", async () => {
    const owner = await signUp("kb-upload");
    await setCreditBalance(owner.orgId, 100_000);
    const assistant = await createAssistant(owner);
    const pdf = await textPdf(["Dental implants cost 1,800 pounds per tooth.", "Whitening costs 250 pounds for both arches."], "Price list 2027");
    const accepted = await upload(owner, assistant.id, [
      { name: "faq.txt", content: FAQ },
      { name: "hours", content: PAGE },
      { name: "prices.pdf", content: pdf },
      { name: "notes.txt", content: "Ask for Dr Okafor for children's appointments." },
    ]);
    expect(accepted.map((d) => [d.filename, d.status])).toEqual([
      ["faq.txt", "queued"],
      ["hours", "queued"],
      ["prices.pdf", "queued"],
      ["notes.txt", "queued"],
    ]);
    const docs = await Promise.all(accepted.map((d) => settled(owner, assistant.id, d.id)));
    expect(docs.map((d) => [d.kind, d.status, d.title])).toEqual([
      ["md", "ready", "Harbour Clinic FAQ"],
      ["html", "ready", "Opening & Hours"],
      ["pdf", "ready", "Price list 2027"],
      ["txt", "ready", "Ask for Dr Okafor for children's appointments."],
    ]);
    for (const doc of docs) {
      expect(doc.chunks).toBeGreaterThan(0);
      expect(doc.embedding_model).toBe("text-embedding-3-large");
      expect(doc.embedding_dimensions).toBe(1536);
    }
    // The original is in R2 under the organisation, byte for byte.
    const [row] = await testCtx()
      .db.select()
      .from(knowledgeDocuments)
      .where(eq(knowledgeDocuments.id, docs[2]?.id ?? ""));
    expect(row?.r2Key).toBe(`orgs/${owner.orgId}/assistants/${assistant.id}/documents/${row?.id}`);
    const stored = await testEnv.FILES.get(row?.r2Key ?? "");
    expect(new Uint8Array((await stored?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(pdf);
    expect(row?.sizeBytes).toBe(pdf.length);

    const parking = await search(owner, assistant.id, "q=where%20can%20I%20park%20at%20the%20weekend");
    expect(parking.mode).toBe("hybrid");
    expect(parking.data[0]?.filename).toBe("faq.txt");
    expect(parking.data[0]?.snippet).toContain("Parking is free on Saturdays");
    const implants = await search(owner, assistant.id, "q=implants%20price&mode=lexical");
    expect(implants.mode).toBe("lexical");
    expect(implants.data[0]).toMatchObject({ filename: "prices.pdf", document_id: docs[2]?.id });
    expect(implants.data[0]?.snippet).toContain("1,800 pounds");
    // Scripts and styles of a page are not text.
    const script = await search(owner, assistant.id, "q=secret%20indexed&mode=lexical");
    expect(script.data.some((h) => h.snippet.includes("do-not-index"))).toBe(false);
    const hours = await search(owner, assistant.id, "q=bank%20holidays&k=1");
    expect(hours.data).toHaveLength(1);
    expect(hours.data[0]?.snippet).toContain("Weekdays 8 am to 6 pm");
  }, 40_000); // The first upload of the file also starts the queue consumer, the PDF reader and the Durable Object.

  it("charges the embeddings to the organisation's credits, and indexes for words only when there are none", async () => {
    const owner = await signUp("kb-credits");
    const assistant = await createAssistant(owner);
    await setCreditBalance(owner.orgId, 0);
    const [poor] = await upload(owner, assistant.id, [{ name: "faq.md", content: FAQ }]);
    const wordsOnly = await settled(owner, assistant.id, poor?.id ?? "");
    expect(wordsOnly).toMatchObject({ status: "ready", embedding_model: null, embedding_dimensions: null });
    const found = await search(owner, assistant.id, "q=parking");
    expect(found.mode).toBe("lexical");
    expect(found.data[0]?.snippet).toContain("Parking is free");

    await setCreditBalance(owner.orgId, 50_000);
    const reindexed = await expectJson<DocumentView>(
      await call(`/v1/assistants/${assistant.id}/documents/${poor?.id}/reindex`, { method: "POST", token: owner.access_token, orgId: owner.orgId }),
      202,
    );
    expect(reindexed.status).toBe("queued");
    const embedded = await settled(owner, assistant.id, poor?.id ?? "");
    expect(embedded.embedding_model).toBe("text-embedding-3-large");
    const balance = await expectJson<{ balance: number }>(await call("/v1/credits/balance", { token: owner.access_token, orgId: owner.orgId }), 200);
    expect(balance.balance).toBeLessThan(50_000);
    expect(balance.balance).toBeGreaterThan(0);
    // The chunks were replaced, not added to.
    const rows = await testCtx()
      .db.select()
      .from(documentChunks)
      .where(eq(documentChunks.documentId, poor?.id ?? ""));
    expect(rows).toHaveLength(embedded.chunks);
    expect(rows.every((r) => r.embedding?.length === 1536 * 4)).toBe(true);
  });

  it("fails unreadable PDFs with a reason the user can act on", async () => {
    const owner = await signUp("kb-bad-pdf");
    const assistant = await createAssistant(owner);
    const good = await textPdf(["A perfectly fine document with enough words in it."]);
    const accepted = await upload(owner, assistant.id, [
      { name: "locked.pdf", content: encryptedPdf() },
      { name: "broken.pdf", content: good.slice(0, 40) },
      { name: "scan.pdf", content: await scannedPdf() },
    ]);
    const [locked, broken, scan] = await Promise.all(accepted.map((d) => settled(owner, assistant.id, d.id)));
    expect(locked).toMatchObject({ status: "failed", chunks: 0 });
    expect(locked?.failure_reason).toMatch(/encrypted/);
    expect(broken?.status).toBe("failed");
    expect(broken?.failure_reason).toMatch(/not a readable PDF/);
    expect(scan?.status).toBe("failed");
    expect(scan?.failure_reason).toContain("KNOWLEDGE_VISION_BASE_URL");
  });

  it("transcribes a scanned PDF through the configured vision model", async () => {
    const owner = await signUp("kb-vision");
    const assistant = await createAssistant(owner);
    const model = `vision-${newId("doc")}`;
    await fakeOpenAI.script(model, [{ content: "Transcribed: the surgery closes at noon on Christmas Eve." }]);
    // Arranged without the queue, so this test's configuration (a vision model) does the work.
    const id = newId("doc");
    const key = `orgs/${owner.orgId}/assistants/${assistant.id}/documents/${id}`;
    const bytes = await scannedPdf();
    await testEnv.FILES.put(key, bytes);
    await testCtx()
      .db.insert(knowledgeDocuments)
      .values({
        id,
        orgId: owner.orgId,
        assistantId: assistant.id,
        filename: "scan.pdf",
        kind: "pdf",
        sizeBytes: bytes.length,
        sha256: "0".repeat(64),
        r2Key: key,
      });
    const env = {
      ...testEnv,
      KNOWLEDGE_VISION_BASE_URL: testEnv.OPENAI_BASE_URL,
      KNOWLEDGE_VISION_API_KEY: "vision-key",
      KNOWLEDGE_VISION_MODEL: model,
    } as Env;
    expect(
      await ingestDocument(
        createServiceCtx(env, () => {}),
        { documentId: id, orgId: owner.orgId },
      ),
    ).toBe("ready");
    const [request] = await fakeOpenAI.requests(model);
    expect(request?.headers.authorization).toBe("Bearer vision-key");
    expect(JSON.stringify(request?.body.messages)).toContain("data:application/pdf;base64,");
    const found = await search(owner, assistant.id, "q=christmas%20eve&mode=lexical");
    expect(found.data[0]).toMatchObject({ document_id: id, filename: "scan.pdf" });
  });

  it("refuses what it cannot take before storing anything", async () => {
    const owner = await signUp("kb-refuse");
    const assistant = await createAssistant(owner);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const unsupported = await expectProblem(
      await SELF.fetch(
        uploadRequest(owner, assistant.id, [
          { name: "ok.txt", content: "fine" },
          { name: "logo.pdf", content: png },
        ]),
      ),
      415,
    );
    expect(unsupported.errors).toEqual([{ path: "files[1]", message: expect.stringContaining("logo.pdf is not a PDF") }]);
    const empty = await expectProblem(await SELF.fetch(uploadRequest(owner, assistant.id, [{ name: "empty.txt", content: "" }])), 422);
    expect(empty.errors?.[0]?.path).toBe("files[0]");
    const none = await expectProblem(await SELF.fetch(uploadRequest(owner, assistant.id, [{ name: "x.txt", content: "x" }], "attachment")), 422);
    expect(none.errors?.[0]?.path).toBe("files");
    const eleven = Array.from({ length: 11 }, (_, i) => ({ name: `n${i}.txt`, content: "note" }));
    await expectProblem(await SELF.fetch(uploadRequest(owner, assistant.id, eleven)), 422);
    // Larger than the configured file size: 413 for the upload as a whole, 422 naming a file.
    const small = { KNOWLEDGE_MAX_FILE_BYTES: "2000" };
    await expectProblem(await fetchWithEnv(uploadRequest(owner, assistant.id, [{ name: "big.txt", content: "a".repeat(70_000) }]), small), 413);
    const tooBig = await expectProblem(await fetchWithEnv(uploadRequest(owner, assistant.id, [{ name: "big.txt", content: "a".repeat(2001) }]), small), 422);
    expect(tooBig.errors?.[0]?.path).toBe("files[0]");
    // NUL bytes are binary, not text.
    await expectProblem(await SELF.fetch(uploadRequest(owner, assistant.id, [{ name: "nul.txt", content: "abc\u0000def" }])), 415);
    const list = await expectJson<{ data: DocumentView[] }>(
      await call(`/v1/assistants/${assistant.id}/documents`, { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(list.data).toEqual([]);
    const listed = await testEnv.FILES.list({ prefix: `orgs/${owner.orgId}/` });
    expect(listed.objects).toEqual([]);
  });
});

describe("managing the knowledge base", () => {
  it("lists in pages, deletes a document everywhere, and rebuilds the index from Postgres", async () => {
    const owner = await signUp("kb-manage");
    await setCreditBalance(owner.orgId, 100_000);
    const assistant = await createAssistant(owner);
    const accepted = await upload(owner, assistant.id, [
      { name: "faq.md", content: FAQ },
      { name: "page.html", content: PAGE },
      { name: "notes.txt", content: "Dr Okafor sees children on Tuesdays." },
    ]);
    await Promise.all(accepted.map((d) => settled(owner, assistant.id, d.id)));
    const first = await expectJson<{ data: DocumentView[]; next_cursor: string | null }>(
      await call(`/v1/assistants/${assistant.id}/documents?limit=2`, { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(first.data.map((d) => d.filename)).toEqual(["faq.md", "page.html"]);
    const second = await expectJson<{ data: DocumentView[]; next_cursor: string | null }>(
      await call(`/v1/assistants/${assistant.id}/documents?limit=2&cursor=${first.next_cursor}`, { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(second).toMatchObject({ data: [{ filename: "notes.txt" }], next_cursor: null });

    const faq = accepted[0]?.id ?? "";
    const deleted = await call(`/v1/assistants/${assistant.id}/documents/${faq}`, {
      method: "DELETE",
      token: owner.access_token,
      orgId: owner.orgId,
    });
    expect(deleted.status).toBe(204);
    await expectProblem(await getDocument(owner, assistant.id, faq), 404);
    expect(await testCtx().db.select().from(documentChunks).where(eq(documentChunks.documentId, faq))).toEqual([]);
    expect(await testEnv.FILES.get(`orgs/${owner.orgId}/assistants/${assistant.id}/documents/${faq}`)).toBeNull();
    expect((await search(owner, assistant.id, "q=parking")).data.some((h) => h.document_id === faq)).toBe(false);

    // A lost index comes back whole from the stored passages and their embeddings.
    const index = testEnv.KNOWLEDGE_BASE.get(testEnv.KNOWLEDGE_BASE.idFromName(assistant.id));
    await index.reset();
    expect((await search(owner, assistant.id, "q=children")).data).toEqual([]);
    const rebuilt = await expectJson<{ chunks: number; documents: number; vectors: number }>(
      await call(`/v1/assistants/${assistant.id}/knowledge/rebuild`, { method: "POST", token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(rebuilt.documents).toBe(2);
    expect(rebuilt.vectors).toBe(rebuilt.chunks);
    const children = await search(owner, assistant.id, "q=children");
    expect(children.mode).toBe("hybrid");
    expect(children.data[0]?.snippet).toContain("Dr Okafor");

    // Re-index all: every remaining document is read again and comes back ready.
    const all = await expectJson<{ queued: number }>(
      await call(`/v1/assistants/${assistant.id}/documents/reindex`, { method: "POST", token: owner.access_token, orgId: owner.orgId }),
      202,
    );
    expect(all.queued).toBe(2);
    const again = await Promise.all(accepted.slice(1).map((d) => settled(owner, assistant.id, d.id)));
    expect(again.map((d) => d.status)).toEqual(["ready", "ready"]);
    expect((await search(owner, assistant.id, "q=children")).data[0]?.snippet).toContain("Dr Okafor");
  });

  it("keeps each organisation's documents to itself and checks permissions", async () => {
    const owner = await signUp("kb-tenant");
    const assistant = await createAssistant(owner);
    const [doc] = await upload(owner, assistant.id, [{ name: "notes.txt", content: "The gate code is in the staff room." }]);
    await settled(owner, assistant.id, doc?.id ?? "");
    const stranger = await signUp("kb-stranger");
    await expectProblem(await getDocument(stranger, assistant.id, doc?.id ?? ""), 404);
    await expectProblem(await call(`/v1/assistants/${assistant.id}/knowledge/search?q=gate`, { token: stranger.access_token, orgId: stranger.orgId }), 404);
    await expectProblem(await SELF.fetch(uploadRequest(stranger, assistant.id, [{ name: "x.txt", content: "x" }])), 404);
    const strangersAssistant = await createAssistant(stranger);
    // Another organisation's document id under one's own assistant is not found either.
    await expectProblem(await getDocument(stranger, strangersAssistant.id, doc?.id ?? ""), 404);
    const viewer = await joinOrgAs(owner, "viewer");
    await expectJson(await call(`/v1/assistants/${assistant.id}/knowledge/search?q=gate`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectProblem(await SELF.fetch(uploadRequest({ ...viewer, orgId: owner.orgId }, assistant.id, [{ name: "x.txt", content: "x" }])), 403);
    await expectProblem(
      await call(`/v1/assistants/${assistant.id}/documents/${doc?.id}`, { method: "DELETE", token: viewer.access_token, orgId: owner.orgId }),
      403,
    );
  });

  it("answers bad search input and impossible ids with 4xx problems", async () => {
    const owner = await signUp("kb-input");
    const assistant = await createAssistant(owner);
    const q = (query: string) => call(`/v1/assistants/${assistant.id}/knowledge/search?${query}`, { token: owner.access_token, orgId: owner.orgId });
    await expectProblem(await q(""), 422);
    await expectProblem(await q("q=%00"), 422);
    await expectProblem(await q("q=x&k=0"), 422);
    await expectProblem(await q("q=x&k=1e9"), 422);
    await expectProblem(await q("q=x&mode=magic"), 422);
    // FTS syntax in a query is read as words, never as a query language.
    const odd = await expectJson<KnowledgeAnswer>(await q(`q=${encodeURIComponent('"NEAR( foo* OR -bar AND ^')}`), 200);
    expect(odd.data).toEqual([]);
    await expectProblem(await getDocument(owner, assistant.id, "doc_%00"), 404);
    await expectProblem(await getDocument(owner, assistant.id, "x".repeat(101)), 404);
    await expectProblem(await call(`/v1/assistants/ast_nope/documents`, { token: owner.access_token, orgId: owner.orgId }), 404);
  });
});

describe("documents whose ingest job was lost", () => {
  const FIVE_MINUTE_CRON = "*/5 * * * *";

  /** A document as a lost queue message leaves it: its file in R2, its row `status` since `minutesAgo`, no job coming. */
  async function strandedDocument(
    who: SignedUp,
    assistantId: string,
    text: string,
    row: { status: "queued" | "processing"; minutesAgo: number; requeues?: number },
  ) {
    const id = newId("doc");
    const r2Key = documentKey(who.orgId, assistantId, id);
    const bytes = new TextEncoder().encode(text);
    await testEnv.FILES.put(r2Key, bytes);
    const at = new Date(Date.now() - row.minutesAgo * 60_000);
    await testCtx()
      .db.insert(knowledgeDocuments)
      .values({
        id,
        orgId: who.orgId,
        assistantId,
        filename: `${id}.txt`,
        kind: "txt",
        sizeBytes: bytes.length,
        sha256: "0".repeat(64),
        r2Key,
        ...row,
        createdAt: at,
        updatedAt: at,
      });
    return id;
  }

  async function documentRow(id: string) {
    const [row] = await testCtx().db.select().from(knowledgeDocuments).where(eq(knowledgeDocuments.id, id));
    return row;
  }

  it("are queued again by the five-minute cron, once under overlapping runs, and failed after a few attempts", async () => {
    expect(cronJobs[FIVE_MINUTE_CRON]?.map((job) => job.name)).toContain("knowledge.requeue-stuck");
    const owner = await signUp("kb-stuck");
    const assistant = await createAssistant(owner);
    const lost = await strandedDocument(owner, assistant.id, "Gift vouchers never expire.", { status: "queued", minutesAgo: 45 });
    const crashed = await strandedDocument(owner, assistant.id, "Late arrivals may lose their slot.", { status: "processing", minutesAgo: 60 });
    const hopeless = await strandedDocument(owner, assistant.id, "This one never indexes.", { status: "queued", minutesAgo: 90, requeues: MAX_REQUEUES });
    const fresh = await strandedDocument(owner, assistant.id, "Just uploaded.", { status: "queued", minutesAgo: 1 });

    // Three overlapping runs of the cron: each stuck document is claimed by one of them.
    const runs = Array.from({ length: 3 }, () => createExecutionContext());
    await Promise.all(runs.map((exec) => worker.scheduled(createScheduledController({ cron: FIVE_MINUTE_CRON, scheduledTime: new Date() }), testEnv, exec)));
    await Promise.all(runs.map((exec) => waitOnExecutionContext(exec)));

    expect((await documentRow(lost))?.requeues).toBe(1);
    expect((await documentRow(crashed))?.requeues).toBe(1);
    expect(await settled(owner, assistant.id, lost)).toMatchObject({ status: "ready", chunks: 1 });
    expect(await settled(owner, assistant.id, crashed)).toMatchObject({ status: "ready", chunks: 1 });
    expect((await search(owner, assistant.id, "q=gift+vouchers&mode=lexical")).data.map((hit) => hit.document_id)).toEqual([lost]);
    expect(await settled(owner, assistant.id, hopeless)).toMatchObject({
      status: "failed",
      failure_reason: `Indexing never finished after ${MAX_REQUEUES + 1} attempts; reindex the document to try again.`,
    });
    // Waiting a minute is normal: the document is left alone.
    expect(await documentRow(fresh)).toMatchObject({ status: "queued", requeues: 0 });

    const [run] = await testCtx().db.select().from(cronRuns).where(eq(cronRuns.cron, FIVE_MINUTE_CRON)).orderBy(desc(cronRuns.startedAt)).limit(1);
    expect(run?.jobs).toContainEqual({ job: "knowledge.requeue-stuck", ok: true, detail: expect.stringMatching(/^\d+ requeued, \d+ failed$/) });

    // Reindexing gives a failed document its attempts back.
    const reindexed = await call(`/v1/assistants/${assistant.id}/documents/${hopeless}/reindex`, {
      token: owner.access_token,
      orgId: owner.orgId,
      method: "POST",
    });
    expect(reindexed.status).toBe(202);
    expect((await documentRow(hopeless))?.requeues).toBe(0);
    await testCtx().db.delete(knowledgeDocuments).where(eq(knowledgeDocuments.id, fresh));
  });
});
