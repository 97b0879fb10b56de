import { SELF } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { PDFDocument } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { files } from "../src/db/schema";
import { type Env, loadConfig } from "../src/env";
import { signFileLink } from "../src/modules/content/files/links";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import { expectProblem, fetchWithEnv, testCtx, testEnv } from "./harness/helpers";

// --- Real small files of each type, built byte by byte -------------------------------------

function bytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((part) => (typeof part === "string" ? new TextEncoder().encode(part) : part instanceof Uint8Array ? part : Uint8Array.from(part)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
const u32be = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u32le = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const u16le = (n: number) => [n & 255, (n >>> 8) & 255];
const u16be = (n: number) => [(n >>> 8) & 255, n & 255];
const u24le = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255];

function crc32(data: Uint8Array): number {
  let crc = ~0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typed = bytes(type, data);
  return bytes(u32be(data.length), typed, u32be(crc32(typed)));
}
/** A valid 1-bit greyscale PNG of `width` × `height` (its IDAT a stored zlib block of zero rows). */
function png(width: number, height: number): Uint8Array {
  const ihdr = bytes(u32be(width), u32be(height), [1, 0, 0, 0, 0]);
  const raw = new Uint8Array(height * (1 + Math.ceil(width / 8)));
  const adler = (() => {
    let a = 1;
    let b = 0;
    for (const byte of raw) {
      a = (a + byte) % 65521;
      b = (b + a) % 65521;
    }
    return ((b << 16) | a) >>> 0;
  })();
  const zlib = bytes([0x78, 0x01, 0x01], u16le(raw.length), u16le(~raw.length & 0xffff), raw, u32be(adler));
  return bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], pngChunk("IHDR", ihdr), pngChunk("IDAT", zlib), pngChunk("IEND", new Uint8Array()));
}
function jpeg(width: number, height: number): Uint8Array {
  const app0 = bytes([0xff, 0xe0], u16be(16), "JFIF", [0, 1, 1, 0], u16be(1), u16be(1), [0, 0]);
  const sof0 = bytes([0xff, 0xc0], u16be(11), [8], u16be(height), u16be(width), [1, 1, 0x11, 0]);
  return bytes([0xff, 0xd8], app0, sof0, [0xff, 0xd9]);
}
const gif = (width: number, height: number) => bytes("GIF89a", u16le(width), u16le(height), [0, 0, 0, 0x3b]);
const webp = (width: number, height: number) => bytes("RIFF", u32le(22), "WEBP", "VP8X", u32le(10), [0, 0, 0, 0], u24le(width - 1), u24le(height - 1));
const wav = () =>
  bytes(
    "RIFF",
    u32le(36 + 8),
    "WAVE",
    "fmt ",
    u32le(16),
    u16le(1),
    u16le(1),
    u32le(8000),
    u32le(16000),
    u16le(2),
    u16le(16),
    "data",
    u32le(8),
    new Uint8Array(8),
  );
const mp3Id3 = () => bytes("ID3", [4, 0, 0, 0, 0, 0, 0], [0xff, 0xfb, 0x90, 0x00], new Uint8Array(64));
const mp3Frame = () => bytes([0xff, 0xfb, 0x90, 0x00], new Uint8Array(413));
const mp4 = (extra = 0) => bytes(u32be(24), "ftyp", "isom", u32be(512), "isomiso2", u32be(8), "free", new Uint8Array(extra));
const webm = () => bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01], new Uint8Array(32));
async function pdf(): Promise<Uint8Array> {
  const document = await PDFDocument.create();
  document.addPage([200, 200]);
  return document.save();
}

// --- Calling the Worker ------------------------------------------------------------------

type Upload = { name: string; content: Uint8Array | string; type?: string };
type FileView = {
  id: string;
  filename: string;
  kind: string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  created_at: string;
};

function authHeaders(who: SignedUp): Record<string, string> {
  return { Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId, "CF-Connecting-IP": uniqueIp() };
}

function uploadRequest(who: SignedUp, uploads: Upload[], path = "/v1/files", field = "file"): Request {
  const form = new FormData();
  for (const upload of uploads) form.append(field, new File([upload.content], upload.name, { type: upload.type ?? "" }));
  return new Request(`http://api.test${path}`, { method: "POST", headers: authHeaders(who), body: form });
}

/** Through a Worker whose files configuration differs (limits, quota) from the suite's. */
function withFilesConfig(overrides: Partial<Record<keyof Env, string>>) {
  return (request: Request) => fetchWithEnv(request, overrides);
}

async function store(who: SignedUp, upload: Upload): Promise<FileView> {
  return expectJson<FileView>(await SELF.fetch(uploadRequest(who, [upload])), 201);
}

function get(who: SignedUp, path: string, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`http://api.test${path}`, { ...init, headers: { ...authHeaders(who), ...(init.headers as Record<string, string>) } });
}

describe("storing files", () => {
  it.each([
    { name: "logo.png", content: () => png(3, 2), kind: "image", content_type: "image/png", width: 3, height: 2 },
    { name: "photo.jpg", content: () => jpeg(640, 480), kind: "image", content_type: "image/jpeg", width: 640, height: 480 },
    { name: "banner.webp", content: () => webp(1024, 512), kind: "image", content_type: "image/webp", width: 1024, height: 512 },
    { name: "spinner.gif", content: () => gif(16, 9), kind: "image", content_type: "image/gif", width: 16, height: 9 },
    { name: "terms.pdf", content: pdf, kind: "document", content_type: "application/pdf" },
    { name: "prices.csv", content: () => "sku;name;price\nA1;Tea;120\nB2;Coffee;240\n", kind: "document", content_type: "text/csv" },
    { name: "notes.txt", content: () => "Open on Sunday, closed on Monday. Ünïcode is fine.", kind: "document", content_type: "text/plain" },
    { name: "clip.mp4", content: () => mp4(), kind: "video", content_type: "video/mp4" },
    { name: "clip.webm", content: webm, kind: "video", content_type: "video/webm" },
    { name: "jingle.mp3", content: mp3Id3, kind: "audio", content_type: "audio/mpeg" },
    { name: "raw-frames.mp3", content: mp3Frame, kind: "audio", content_type: "audio/mpeg" },
    { name: "chime.wav", content: wav, kind: "audio", content_type: "audio/wav" },
  ])("stores $name as $content_type, decided from its bytes, and serves the same bytes back", async ({ name, content, kind, content_type, ...size }) => {
    const owner = await signUp("files");
    const produced = await content();
    const body = typeof produced === "string" ? new TextEncoder().encode(produced) : produced;
    // A client that declares nothing useful: the bytes decide.
    const file = await store(owner, { name, content: body, type: "application/octet-stream" });
    expect(file).toMatchObject({ filename: name, kind, content_type, size: body.length, width: size.width ?? null, height: size.height ?? null });
    expect(file.id).toMatch(/^file_/);
    expect(await expectJson(await get(owner, `/v1/files/${file.id}`), 200)).toEqual(file);

    const served = await get(owner, `/v1/files/${file.id}/content`);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe(content_type);
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(body);
    const [row] = await testCtx().db.select().from(files).where(eq(files.id, file.id));
    expect(row?.r2Key).toBe(`orgs/${owner.orgId}/files/${file.id}`);
  });

  it("refuses renamed and mislabelled files with a 415 naming the field, and stores nothing", async () => {
    const owner = await signUp("files");
    const cases: Upload[] = [
      { name: "invoice.pdf", content: png(2, 2) },
      { name: "photo.png", content: await pdf() },
      { name: "song.wav", content: mp3Id3() },
      { name: "movie.mp4", content: webm() },
      { name: "picture.gif", content: jpeg(2, 2) },
      { name: "prices.csv", content: "just a sentence, and another one\nwithout columns" },
      { name: "binary.bin", content: bytes([0, 1, 2, 3, 0xfe, 0x00]) },
      // No extension, but the declared type names another known type.
      { name: "scan", content: png(2, 2), type: "application/pdf" },
    ];
    for (const upload of cases) {
      const problem = await expectProblem(await SELF.fetch(uploadRequest(owner, [upload])), 415);
      expect(problem.errors?.[0]?.path, upload.name).toBe("file");
    }
    const list = await expectJson<{ data: FileView[] }>(await get(owner, "/v1/files"), 200);
    expect(list.data).toEqual([]);
  });

  it("refuses an empty file, an image over its kind's limit and an image whose header is damaged with 422", async () => {
    const owner = await signUp("files");
    await expectProblem(await SELF.fetch(uploadRequest(owner, [{ name: "empty.txt", content: "" }])), 422);
    const small = withFilesConfig({ FILES_MAX_IMAGE_BYTES: "2048" });
    const big = bytes(jpeg(10, 10), new Uint8Array(4096));
    const tooBig = await expectProblem(await small(uploadRequest(owner, [{ name: "big.jpg", content: big }])), 422);
    expect(tooBig.errors?.[0]?.message).toContain("images are at most 2048");
    // The same size as a document is within its own limit.
    await expectJson(await small(uploadRequest(owner, [{ name: "big.txt", content: "x".repeat(4096) }])), 201);
    const damaged = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], new Uint8Array(16));
    await expectProblem(await SELF.fetch(uploadRequest(owner, [{ name: "broken.png", content: damaged }])), 422);
  });

  it("answers 413 for an upload over FILES_MAX_UPLOAD_BYTES before reading it", async () => {
    const owner = await signUp("files");
    const tight = withFilesConfig({ FILES_MAX_UPLOAD_BYTES: "1024" });
    await expectProblem(await tight(uploadRequest(owner, [{ name: "big.txt", content: "y".repeat(200_000) }])), 413);
  });

  it("stores a batch in order, and a batch with one bad file stores none", async () => {
    const owner = await signUp("files");
    const batch = (uploads: Upload[]) => SELF.fetch(uploadRequest(owner, uploads, "/v1/files/batch", "files"));
    const good: Upload[] = [
      { name: "a.png", content: png(1, 1) },
      { name: "b.txt", content: "hello" },
    ];
    const stored = await expectJson<{ data: FileView[] }>(await batch(good), 201);
    expect(stored.data.map((f) => f.filename)).toEqual(["a.png", "b.txt"]);
    const refused = await expectProblem(
      await batch([
        { name: "c.png", content: png(1, 1) },
        { name: "d.png", content: "not an image" },
      ]),
      415,
    );
    expect(refused.errors?.[0]?.path).toBe("files[1]");
    const list = await expectJson<{ data: FileView[] }>(await get(owner, "/v1/files"), 200);
    expect(list.data.map((f) => f.filename)).toEqual(["b.txt", "a.png"]);
  });

  it("lists newest first in cursor pages, filtered by kind", async () => {
    const owner = await signUp("files");
    for (const name of ["1.png", "2.txt", "3.png", "4.png"]) await store(owner, { name, content: name.endsWith(".png") ? png(1, 1) : "text" });
    const first = await expectJson<{ data: FileView[]; next_cursor: string | null }>(await get(owner, "/v1/files?kind=image&limit=2"), 200);
    expect(first.data.map((f) => f.filename)).toEqual(["4.png", "3.png"]);
    const second = await expectJson<{ data: FileView[]; next_cursor: string | null }>(
      await get(owner, `/v1/files?kind=image&limit=2&cursor=${first.next_cursor}`),
      200,
    );
    expect(second).toMatchObject({ data: [{ filename: "1.png" }], next_cursor: null });
    await expectProblem(await get(owner, "/v1/files?kind=spreadsheet"), 422);
  });

  it("serves a hostile name with a safe Content-Disposition and keeps no directories or control characters", async () => {
    const owner = await signUp("files");
    const file = await store(owner, { name: "../../etc/résumé 'final'\u0007\u202e.txt", content: "cv" });
    expect(file.filename).toBe("résumé 'final'.txt");
    const served = await get(owner, `/v1/files/${file.id}/content`);
    expect(served.headers.get("content-disposition")).toBe(`attachment; filename="r_sum_ 'final'.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%27final%27.txt`);
    const image = await store(owner, { name: "logo.png", content: png(1, 1) });
    expect((await get(owner, `/v1/files/${image.id}/content`)).headers.get("content-disposition")).toBe(
      `inline; filename="logo.png"; filename*=UTF-8''logo.png`,
    );
  });

  it("deletes a file: it is gone from the list, its content and R2", async () => {
    const owner = await signUp("files");
    const file = await store(owner, { name: "a.txt", content: "bye" });
    expect((await get(owner, `/v1/files/${file.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await get(owner, `/v1/files/${file.id}`), 404);
    await expectProblem(await get(owner, `/v1/files/${file.id}/content`), 404);
    expect(await testEnv.FILES.get(`orgs/${owner.orgId}/files/${file.id}`)).toBeNull();
  });

  it("answers 404 for ids that cannot be ids", async () => {
    const owner = await signUp("files");
    for (const id of ["nope", "file_%00", "file_x'--", `file_${"a".repeat(200)}`]) await expectProblem(await get(owner, `/v1/files/${id}`), 404);
  });
});

describe("storage quota", () => {
  it("reports usage and refuses an upload past the quota with 413 naming the figures", async () => {
    const owner = await signUp("files");
    const quota = withFilesConfig({ FILES_ORG_QUOTA_BYTES: "3000" });
    await expectJson(await quota(uploadRequest(owner, [{ name: "a.txt", content: "a".repeat(2000) }])), 201);
    const refused = await expectProblem(await quota(uploadRequest(owner, [{ name: "b.txt", content: "b".repeat(1500) }])), 413);
    expect(refused).toMatchObject({ used_bytes: 2000, quota_bytes: 3000, needed_bytes: 1500 });
    const usage = await expectJson(await quota(new Request("http://api.test/v1/files/usage", { headers: authHeaders(owner) })), 200);
    expect(usage).toEqual({ used_bytes: 2000, quota_bytes: 3000, available_bytes: 1000, files: 1 });
  });

  it("lets exactly as many concurrent uploads in as the quota holds", async () => {
    const owner = await signUp("files");
    const quota = withFilesConfig({ FILES_ORG_QUOTA_BYTES: "5000" });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => quota(uploadRequest(owner, [{ name: `${i}.txt`, content: "z".repeat(2000) }]))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 413, 413, 413, 413]);
    const rows = await testCtx().db.select().from(files).where(eq(files.orgId, owner.orgId));
    expect(rows).toHaveLength(2);
    // The refused uploads left no bytes behind in R2.
    const listed = await testEnv.FILES.list({ prefix: `orgs/${owner.orgId}/files/` });
    expect(listed.objects).toHaveLength(2);
  });
});

describe("signed links", () => {
  async function linkFor(who: SignedUp, id: string): Promise<{ url: string; expires_at: string }> {
    return expectJson(await get(who, `/v1/files/${id}/url`, { method: "POST" }), 200);
  }
  const localPath = (url: string) => {
    const parsed = new URL(url);
    return `http://api.test${parsed.pathname}${parsed.search}`;
  };

  it("opens the content without signing in until it expires", async () => {
    const owner = await signUp("files");
    const file = await store(owner, { name: "offer.png", content: png(4, 4) });
    const before = Date.now();
    const link = await linkFor(owner, file.id);
    expect(link.url).toMatch(new RegExp(`^https://api\\.billx\\.test/v1/files/${file.id}/content\\?token=`));
    const ttl = new Date(link.expires_at).getTime() - before;
    expect(ttl).toBeGreaterThan(890_000);
    expect(ttl).toBeLessThanOrEqual(901_000);
    const served = await SELF.fetch(localPath(link.url));
    expect(served.status).toBe(200);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(png(4, 4));

    // Signed an hour ago with the 15-minute lifetime: expired.
    const expired = await signFileLink(loadConfig(testEnv), { id: file.id, orgId: owner.orgId }, new Date(Date.now() - 3_600_000));
    await expectProblem(await SELF.fetch(localPath(expired.url)), 404);
  });

  it("refuses a tampered token, a token for another file and a link to a deleted file with the same 404", async () => {
    const owner = await signUp("files");
    const [a, b] = [await store(owner, { name: "a.txt", content: "a" }), await store(owner, { name: "b.txt", content: "b" })];
    const link = await linkFor(owner, a.id);
    const token = new URL(link.url).searchParams.get("token") ?? "";
    const last = token.at(-2) === "A" ? "B" : "A";
    const tampered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
    await expectProblem(await SELF.fetch(`http://api.test/v1/files/${a.id}/content?token=${tampered}`), 404);
    const [header, payload, signature] = token.split(".");
    const forged = JSON.parse(atob((payload ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as { sub: string };
    forged.sub = b.id;
    const forgedPayload = btoa(JSON.stringify(forged)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    await expectProblem(await SELF.fetch(`http://api.test/v1/files/${b.id}/content?token=${header}.${forgedPayload}.${signature}`), 404);
    await expectProblem(await SELF.fetch(`http://api.test/v1/files/${b.id}/content?token=${token}`), 404);
    // An access token is not a link.
    await expectProblem(await SELF.fetch(`http://api.test/v1/files/${a.id}/content?token=${owner.access_token}`), 404);
    await get(owner, `/v1/files/${a.id}`, { method: "DELETE" });
    await expectProblem(await SELF.fetch(localPath(link.url)), 404);
  });

  it("needs sign-in without a token", async () => {
    const owner = await signUp("files");
    const file = await store(owner, { name: "a.txt", content: "a" });
    await expectProblem(await SELF.fetch(`http://api.test/v1/files/${file.id}/content`), 401);
  });
});

describe("uploads in parts", () => {
  const MiB = 1024 * 1024;

  async function start(who: SignedUp, body: { filename: string; size: number }): Promise<Response> {
    return call("/v1/files/uploads", { token: who.access_token, orgId: who.orgId, body });
  }
  function putPart(who: SignedUp, id: string, part: number, content: Uint8Array): Promise<Response> {
    return get(who, `/v1/files/uploads/${id}/parts/${part}`, { method: "PUT", body: content, headers: { "content-type": "application/octet-stream" } });
  }

  it("joins parts into a video, which then counts as used storage", async () => {
    const owner = await signUp("files");
    const first = mp4(5 * MiB);
    const second = bytes(new Uint8Array(1000).fill(7));
    const upload = await expectJson<{ id: string; status: string }>(await start(owner, { filename: "launch.mp4", size: first.length + second.length }), 201);
    expect(upload.status).toBe("uploading");
    await expectProblem(await get(owner, `/v1/files/${upload.id}`), 404);
    const usage = await expectJson<{ used_bytes: number }>(await get(owner, "/v1/files/usage"), 200);
    expect(usage.used_bytes).toBe(first.length + second.length);

    const p1 = await expectJson<{ part_number: number; etag: string }>(await putPart(owner, upload.id, 1, first), 200);
    const p2 = await expectJson<{ part_number: number; etag: string }>(await putPart(owner, upload.id, 2, second), 200);
    const file = await expectJson<FileView>(
      await call(`/v1/files/uploads/${upload.id}/complete`, { token: owner.access_token, orgId: owner.orgId, body: { parts: [p1, p2] } }),
      201,
    );
    expect(file).toMatchObject({ id: upload.id, kind: "video", content_type: "video/mp4", size: first.length + second.length, filename: "launch.mp4" });
    const served = await get(owner, `/v1/files/${file.id}/content`);
    expect(Number(served.headers.get("content-length"))).toBe(file.size);
    await served.body?.cancel();
  });

  it("refuses a non-video name, a size over the video limit and a completed upload that is not a video", async () => {
    const owner = await signUp("files");
    await expectProblem(await start(owner, { filename: "big.png", size: 10 }), 415);
    await expectProblem(
      await withFilesConfig({ FILES_MAX_VIDEO_BYTES: "2048" })(
        new Request("http://api.test/v1/files/uploads", {
          method: "POST",
          headers: { ...authHeaders(owner), "content-type": "application/json" },
          body: JSON.stringify({ filename: "a.mp4", size: 4096 }),
        }),
      ),
      422,
    );
    const upload = await expectJson<{ id: string }>(await start(owner, { filename: "fake.mp4", size: 100 }), 201);
    const part = await expectJson<{ part_number: number; etag: string }>(await putPart(owner, upload.id, 1, png(2, 2)), 200);
    await expectProblem(await call(`/v1/files/uploads/${upload.id}/complete`, { token: owner.access_token, orgId: owner.orgId, body: { parts: [part] } }), 415);
    expect(await testCtx().db.select().from(files).where(eq(files.id, upload.id))).toEqual([]);
  });

  it("aborting frees the reserved quota, and a quota too small refuses to start", async () => {
    const owner = await signUp("files");
    const quota = withFilesConfig({ FILES_ORG_QUOTA_BYTES: "10000" });
    const startReq = (size: number) =>
      new Request("http://api.test/v1/files/uploads", {
        method: "POST",
        headers: { ...authHeaders(owner), "content-type": "application/json" },
        body: JSON.stringify({ filename: "a.webm", size }),
      });
    const upload = await expectJson<{ id: string }>(await quota(startReq(8000)), 201);
    await expectProblem(await quota(startReq(8000)), 413);
    expect((await get(owner, `/v1/files/uploads/${upload.id}`, { method: "DELETE" })).status).toBe(204);
    await expectJson(await quota(startReq(8000)), 201);
    await expectProblem(await putPart(owner, upload.id, 1, webm()), 404);
  });
});

describe("isolation", () => {
  it("gives another organisation 404 on every file route, and never lists its files", async () => {
    const [owner, other] = [await signUp("files"), await signUp("files")];
    const file = await store(owner, { name: "secret.txt", content: "mine" });
    const upload = await expectJson<{ id: string }>(
      await call("/v1/files/uploads", { token: owner.access_token, orgId: owner.orgId, body: { filename: "a.mp4", size: 100 } }),
      201,
    );
    const attempts: [string, RequestInit][] = [
      [`/v1/files/${file.id}`, {}],
      [`/v1/files/${file.id}/content`, {}],
      [`/v1/files/${file.id}/url`, { method: "POST" }],
      [`/v1/files/${file.id}`, { method: "DELETE" }],
      [`/v1/files/uploads/${upload.id}/parts/1`, { method: "PUT", body: mp4() }],
      [
        `/v1/files/uploads/${upload.id}/complete`,
        { method: "POST", body: JSON.stringify({ parts: [{ part_number: 1, etag: "x" }] }), headers: { "content-type": "application/json" } },
      ],
      [`/v1/files/uploads/${upload.id}`, { method: "DELETE" }],
    ];
    for (const [path, init] of attempts) await expectProblem(await get(other, path, init), 404);
    // The other organisation's own X-Org-Id cannot be swapped for the owner's.
    expect([403, 404]).toContain((await get(other, `/v1/files/${file.id}`, { headers: { "X-Org-Id": owner.orgId } })).status);
    expect((await expectJson<{ data: FileView[] }>(await get(other, "/v1/files"), 200)).data).toEqual([]);
    const rows = await testCtx()
      .db.select()
      .from(files)
      .where(and(eq(files.orgId, owner.orgId)));
    expect(rows.map((r) => r.id).sort()).toEqual([file.id, upload.id].sort());
  });
});
