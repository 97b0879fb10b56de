import { describe, expect, inject, it } from "vitest";
import { AUDIO_MIME, inspectAudio } from "../src/modules/speech/audio-format";

// Every file here is built byte by byte from its format's specification, so each expected duration
// is exact. The real recordings (tests' shared audio data) are checked too when the harness serves them.

type Part = Uint8Array | readonly number[] | string;

const encoder = new TextEncoder();

function concat(...parts: Part[]): Uint8Array {
  const arrays = parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part instanceof Uint8Array ? part : Uint8Array.from(part)));
  const out = new Uint8Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function bytesOf(length: number, write: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(length);
  write(new DataView(out.buffer));
  return out;
}
const u16le = (n: number) => bytesOf(2, (v) => v.setUint16(0, n, true));
const u32le = (n: number) => bytesOf(4, (v) => v.setUint32(0, n, true));
const u64le = (n: bigint) => bytesOf(8, (v) => v.setBigUint64(0, n, true));
const u16be = (n: number) => bytesOf(2, (v) => v.setUint16(0, n));
const u32be = (n: number) => bytesOf(4, (v) => v.setUint32(0, n));
const u64be = (n: bigint) => bytesOf(8, (v) => v.setBigUint64(0, n));
const f32be = (n: number) => bytesOf(4, (v) => v.setFloat32(0, n));
const f64be = (n: number) => bytesOf(8, (v) => v.setFloat64(0, n));
const zeros = (length: number) => new Uint8Array(length);

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function repeat(unit: Uint8Array, times: number): Uint8Array {
  const out = new Uint8Array(unit.length * times);
  for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
  return out;
}

function expectOk(bytes: Uint8Array, declared?: Parameters<typeof inspectAudio>[1]) {
  const result = inspectAudio(bytes, declared);
  if (!result.ok) throw new Error(`expected audio, got ${result.reason}: ${result.message}`);
  return result;
}

function expectRefused(bytes: Uint8Array, reason: string, declared?: Parameters<typeof inspectAudio>[1]) {
  const result = inspectAudio(bytes, declared);
  expect(result).toMatchObject({ ok: false, reason });
  if (result.ok) throw new Error("unreachable");
  expect(result.message.length).toBeGreaterThan(0);
  return result;
}

// --- WAV -------------------------------------------------------------------------------------

function wav(options: {
  format?: number;
  channels?: number;
  sampleRate: number;
  bitsPerSample: number;
  dataBytes: number;
  declaredDataBytes?: number;
  before?: Part[];
  fmt?: Uint8Array;
}): Uint8Array {
  const { format = 1, channels = 1, sampleRate, bitsPerSample, dataBytes } = options;
  const blockAlign = (channels * bitsPerSample) / 8;
  const fmt =
    options.fmt ??
    concat("fmt ", u32le(16), u16le(format), u16le(channels), u32le(sampleRate), u32le(sampleRate * blockAlign), u16le(blockAlign), u16le(bitsPerSample));
  const data = concat("data", u32le(options.declaredDataBytes ?? dataBytes), randomBytes(dataBytes, 7));
  const body = concat("WAVE", ...(options.before ?? []), fmt, data);
  return concat("RIFF", u32le(body.length), body);
}

describe("WAV", () => {
  it("reads PCM16 16 kHz mono: duration = data bytes / byte rate", () => {
    expect(expectOk(wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: 48_000 }))).toEqual({
      ok: true,
      format: "wav",
      mime: "audio/wav",
      durationSeconds: 1.5,
      sampleRate: 16000,
      channels: 1,
      codec: "pcm",
    });
  });

  it("reads u-law and a-law WAV at 8 kHz, and stereo 44.1 kHz", () => {
    expect(expectOk(wav({ format: 7, sampleRate: 8000, bitsPerSample: 8, dataBytes: 160 }))).toMatchObject({ durationSeconds: 0.02, codec: "mulaw" });
    expect(expectOk(wav({ format: 6, sampleRate: 8000, bitsPerSample: 8, dataBytes: 4000 }))).toMatchObject({ durationSeconds: 0.5, codec: "alaw" });
    expect(expectOk(wav({ channels: 2, sampleRate: 44100, bitsPerSample: 16, dataBytes: 44100 * 4 * 2 }))).toMatchObject({
      durationSeconds: 2,
      channels: 2,
      sampleRate: 44100,
    });
  });

  it("skips chunks before data (an odd-sized one is padded) and reads WAVE_FORMAT_EXTENSIBLE", () => {
    const list = concat("LIST", u32le(5), "INFOx", [0]);
    expect(expectOk(wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: 3200, before: [list] })).durationSeconds).toBe(0.1);
    const pcmGuid = concat(u16le(1), [0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]);
    const extensible = concat(
      "fmt ",
      u32le(40),
      u16le(0xfffe),
      u16le(1),
      u32le(24000),
      u32le(48000),
      u16le(2),
      u16le(16),
      u16le(22),
      u16le(16),
      u32le(4),
      pcmGuid,
    );
    expect(expectOk(wav({ sampleRate: 24000, bitsPerSample: 16, dataBytes: 24000, fmt: extensible }))).toMatchObject({ durationSeconds: 0.5, codec: "pcm" });
  });

  it("takes a streamed data size (0xFFFFFFFF) as running to the end", () => {
    expect(expectOk(wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: 16000, declaredDataBytes: 0xffffffff })).durationSeconds).toBe(0.5);
  });

  it("calls a data chunk claiming more bytes than present truncated, and a cut header too", () => {
    const full = wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: 32000 });
    expect(expectRefused(full.subarray(0, full.length - 1), "truncated").message).toContain("31999");
    expectRefused(full.subarray(0, 8), "truncated");
    expectRefused(full.subarray(0, 30), "truncated");
    expectRefused(full.subarray(0, 44), "truncated"); // header complete, data missing entirely
  });

  it("refuses a codec it does not handle (IMA ADPCM) as unsupported", () => {
    expect(expectRefused(wav({ format: 0x11, sampleRate: 8000, bitsPerSample: 4, dataBytes: 4000 }), "unsupported").message).toContain("0x0011");
  });
});

// --- MP3 -------------------------------------------------------------------------------------

// MPEG-1 Layer III, 128 kbps, 44.1 kHz, joint stereo: FF FB 90 40 (or 92 with the padding bit).
// Frame length = floor(144 * 128000 / 44100) + padding = 417 or 418 bytes; 1152 samples each.
function mpegFrame(header: readonly number[], length: number): Uint8Array {
  const frame = new Uint8Array(length).fill(0x55);
  frame.set(header);
  return frame;
}
const frame128 = mpegFrame([0xff, 0xfb, 0x90, 0x40], 417);
const frame128Padded = mpegFrame([0xff, 0xfb, 0x92, 0x40], 418);
const MP3_FRAME_SECONDS = 1152 / 44100;

function id3v2(bodyLength: number): Uint8Array {
  const syncsafe = [(bodyLength >> 21) & 0x7f, (bodyLength >> 14) & 0x7f, (bodyLength >> 7) & 0x7f, bodyLength & 0x7f];
  return concat("ID3", [4, 0, 0], syncsafe, concat("TIT2", u32be(6), [0, 0, 3], "Hello"), zeros(bodyLength - 16));
}

function xingFrame(tag: "Xing" | "Info", frames: number): Uint8Array {
  const frame = mpegFrame([0xff, 0xfb, 0x90, 0x40], 417);
  frame.fill(0, 4, 36); // side information
  frame.set(concat(tag, u32be(0x0f), u32be(frames), u32be(frames * 417), zeros(100), u32be(0)), 36);
  return frame;
}

describe("MP3", () => {
  it("walks CBR frames (with and without padding) after an ID3v2 tag, ignoring an ID3v1 tail", () => {
    const frames = Array.from({ length: 100 }, (_, i) => (i % 3 === 2 ? frame128Padded : frame128));
    const file = concat(id3v2(2000), ...frames, "TAG", zeros(125));
    const result = expectOk(file);
    expect(result).toMatchObject({ format: "mp3", mime: "audio/mpeg", sampleRate: 44100, channels: 2, codec: "mp3" });
    expect(result.durationSeconds).toBeCloseTo(100 * MP3_FRAME_SECONDS, 3);
  });

  it("walks MPEG-2 Layer III (22.05 kHz mono, 576 samples a frame) with no tag", () => {
    // 64 kbps: floor(72 * 64000 / 22050) = 208 bytes.
    const result = expectOk(repeat(mpegFrame([0xff, 0xf3, 0x80, 0xc0], 208), 50));
    expect(result).toMatchObject({ sampleRate: 22050, channels: 1 });
    expect(result.durationSeconds).toBeCloseTo((50 * 576) / 22050, 3);
  });

  it("uses the Xing / Info frame count when present, not the bytes at hand", () => {
    const xing = expectOk(concat(xingFrame("Xing", 1000), repeat(frame128, 10)));
    expect(xing.durationSeconds).toBeCloseTo(1000 * MP3_FRAME_SECONDS, 3);
    const info = expectOk(concat(id3v2(64), xingFrame("Info", 250), repeat(frame128, 3)));
    expect(info.durationSeconds).toBeCloseTo(250 * MP3_FRAME_SECONDS, 3);
  });

  it("uses a VBRI frame count", () => {
    const vbri = mpegFrame([0xff, 0xfb, 0x90, 0x40], 417);
    vbri.set(concat("VBRI", u16be(1), u16be(0), u16be(75), u32be(500 * 417), u32be(500)), 36);
    expect(expectOk(concat(vbri, repeat(frame128, 4))).durationSeconds).toBeCloseTo(500 * MP3_FRAME_SECONDS, 3);
  });

  it("does not count a Xing frame without a count as audio", () => {
    const frame = xingFrame("Xing", 0);
    frame.set(u32be(0), 40); // flags: no frame count
    expect(expectOk(concat(frame, repeat(frame128, 20))).durationSeconds).toBeCloseTo(20 * MP3_FRAME_SECONDS, 3);
  });

  it("accepts a stream whose last frame is cut, counting the whole frames", () => {
    const result = expectOk(concat(repeat(frame128, 40), frame128.subarray(0, 200)));
    expect(result.durationSeconds).toBeCloseTo(40 * MP3_FRAME_SECONDS, 3);
  });

  it("finds the first frame after a few junk bytes following the tag", () => {
    expect(expectOk(concat(id3v2(32), zeros(7), repeat(frame128, 5))).durationSeconds).toBeCloseTo(5 * MP3_FRAME_SECONDS, 3);
  });

  it("takes a lone Xing frame, even cut short, as MP3 (the tiny silent MP3s browsers unlock audio with)", () => {
    const result = expectOk(concat(id3v2(35), xingFrame("Xing", 2).subarray(0, 190)));
    expect(result.durationSeconds).toBeCloseTo(2 * MP3_FRAME_SECONDS, 3);
  });

  it("does not take a lone frame sync, or one lone frame, for MP3", () => {
    expectRefused(Uint8Array.from([0xff, 0xfb, 0x90, 0x40]), "not_audio");
    expectRefused(frame128, "not_audio");
    expectRefused(concat(frame128, zeros(417)), "not_audio");
  });

  it("calls an ID3 tag cut short, or with nothing after it, truncated", () => {
    expectRefused(id3v2(2000).subarray(0, 500), "truncated");
    expectRefused(id3v2(100), "truncated");
    expectRefused(concat(id3v2(100), "just some text after the tag"), "not_audio");
  });
});

// --- Ogg -------------------------------------------------------------------------------------

function oggPage(options: { headerType?: number; granule: bigint; serial?: number; sequence: number; packets: Uint8Array[] }): Uint8Array {
  const lacing: number[] = [];
  for (const packet of options.packets) {
    let n = packet.length;
    for (; n >= 255; n -= 255) lacing.push(255);
    lacing.push(n);
  }
  return concat(
    "OggS",
    [0, options.headerType ?? 0],
    u64le(options.granule),
    u32le(options.serial ?? 0x1234),
    u32le(options.sequence),
    u32le(0), // CRC: not verified
    [lacing.length],
    lacing,
    ...options.packets,
  );
}

const opusHead = (preSkip: number, channels = 1) => concat("OpusHead", [1, channels], u16le(preSkip), u32le(48000), u16le(0), [0]);
const opusTags = concat("OpusTags", u32le(5), "billx", u32le(0));

function opusStream(audioGranules: bigint[]): Uint8Array {
  return concat(
    oggPage({ headerType: 2, granule: 0n, sequence: 0, packets: [opusHead(312)] }),
    oggPage({ granule: 0n, sequence: 1, packets: [opusTags] }),
    ...audioGranules.map((granule, i) =>
      oggPage({ headerType: i === audioGranules.length - 1 ? 4 : 0, granule, sequence: 2 + i, packets: [randomBytes(300, i + 1), randomBytes(80, 9)] }),
    ),
  );
}

describe("Ogg", () => {
  it("reads Opus: duration = last granule position - pre-skip, over 48 kHz", () => {
    expect(expectOk(opusStream([48312n, 96312n, 120_312n]))).toEqual({
      ok: true,
      format: "ogg",
      mime: "audio/ogg",
      durationSeconds: 2.5,
      sampleRate: 48000,
      channels: 1,
      codec: "opus",
    });
  });

  it("skips pages with no granule (-1) and pages of another logical stream", () => {
    const file = concat(
      opusStream([24312n]),
      oggPage({ granule: 0xffff_ffff_ffff_ffffn, sequence: 3, packets: [randomBytes(100, 3)] }),
      oggPage({ granule: 999_999n, serial: 0x9999, sequence: 0, packets: [randomBytes(10, 4)] }),
    );
    expect(expectOk(file).durationSeconds).toBe(0.5);
  });

  it("uses the last whole page when the final page is cut", () => {
    const file = opusStream([48312n, 96312n]);
    expect(expectOk(file.subarray(0, file.length - 100)).durationSeconds).toBe(1);
  });

  it("reads Vorbis with the sample rate from its identification header", () => {
    const identification = concat([1], "vorbis", u32le(0), [2], u32le(44100), u32le(0), u32le(128000), u32le(0), [0xb8, 1]);
    const file = concat(
      oggPage({ headerType: 2, granule: 0n, sequence: 0, packets: [identification] }),
      oggPage({ granule: 0n, sequence: 1, packets: [concat([3], "vorbis", zeros(20)), concat([5], "vorbis", zeros(40))] }),
      oggPage({ headerType: 4, granule: 132_300n, sequence: 2, packets: [randomBytes(600, 5)] }),
    );
    expect(expectOk(file)).toMatchObject({ format: "ogg", durationSeconds: 3, sampleRate: 44100, channels: 2, codec: "vorbis" });
  });

  it("refuses FLAC in Ogg as unsupported and a cut first page as truncated", () => {
    expectRefused(oggPage({ headerType: 2, granule: 0n, sequence: 0, packets: [concat("\x7fFLAC", [1, 0], zeros(40))] }), "unsupported");
    expectRefused(opusStream([48312n]).subarray(0, 40), "truncated");
  });
});

// --- WebM / Matroska -------------------------------------------------------------------------

function ebml(id: readonly number[], ...children: Part[]): Uint8Array {
  const body = concat(...children);
  const size = body.length < 127 ? [0x80 | body.length] : [0x01, ...u64be(BigInt(body.length)).subarray(1)];
  return concat(id, size, body);
}
const unknownSize = (id: readonly number[], ...children: Part[]) => concat(id, [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...children);

const EBML_HEADER = (docType: string) =>
  ebml(
    [0x1a, 0x45, 0xdf, 0xa3],
    ebml([0x42, 0x86], [1]),
    ebml([0x42, 0xf7], [1]),
    ebml([0x42, 0x82], docType),
    ebml([0x42, 0x87], [4]),
    ebml([0x42, 0x85], [2]),
  );
const INFO = (...fields: Uint8Array[]) => ebml([0x15, 0x49, 0xa9, 0x66], ...fields, ebml([0x4d, 0x80], "billx-test"));
const TIMECODE_SCALE = (scale: number) => ebml([0x2a, 0xd7, 0xb1], u32be(scale).subarray(1));
const DURATION = (value: Uint8Array) => ebml([0x44, 0x89], value);
const TRACKS = (type: number, codec: string) =>
  ebml(
    [0x16, 0x54, 0xae, 0x6b],
    ebml([0xae], ebml([0xd7], [1]), ebml([0x83], [type]), ebml([0x86], codec), ebml([0xe1], ebml([0xb5], f64be(48000)), ebml([0x9f], [1]))),
  );
const CLUSTER = unknownSize([0x1f, 0x43, 0xb6, 0x75], ebml([0xe7], [0]), ebml([0xa3], randomBytes(200, 11)));

describe("WebM / Matroska", () => {
  it("reads Segment > Info Duration x TimecodeScale (float 8 bytes) and the audio track", () => {
    const file = concat(
      EBML_HEADER("webm"),
      ebml([0x18, 0x53, 0x80, 0x67], INFO(TIMECODE_SCALE(1_000_000), DURATION(f64be(2500))), TRACKS(2, "A_OPUS"), CLUSTER),
    );
    expect(expectOk(file)).toEqual({ ok: true, format: "webm", mime: "audio/webm", durationSeconds: 2.5, sampleRate: 48000, channels: 1, codec: "opus" });
  });

  it("reads a 4-byte float duration and another timecode scale", () => {
    const file = concat(EBML_HEADER("webm"), ebml([0x18, 0x53, 0x80, 0x67], INFO(TIMECODE_SCALE(100_000), DURATION(f32be(12345.5)))));
    expect(expectOk(file).durationSeconds).toBeCloseTo(1.23455, 6);
  });

  it("defaults TimecodeScale to 1 ms", () => {
    const file = concat(EBML_HEADER("webm"), ebml([0x18, 0x53, 0x80, 0x67], INFO(DURATION(f64be(1234)))));
    expect(expectOk(file).durationSeconds).toBeCloseTo(1.234, 6);
  });

  it("answers a null duration for a MediaRecorder-style stream (unknown sizes, no Duration)", () => {
    const file = concat(EBML_HEADER("webm"), unknownSize([0x18, 0x53, 0x80, 0x67], INFO(TIMECODE_SCALE(1_000_000)), TRACKS(2, "A_OPUS"), CLUSTER, CLUSTER));
    expect(expectOk(file)).toMatchObject({ format: "webm", durationSeconds: null, codec: "opus" });
  });

  it("says audio/x-matroska for DocType matroska", () => {
    const file = concat(EBML_HEADER("matroska"), ebml([0x18, 0x53, 0x80, 0x67], INFO(DURATION(f64be(500))), TRACKS(2, "A_VORBIS")));
    expect(expectOk(file)).toMatchObject({ format: "webm", mime: "audio/x-matroska", durationSeconds: 0.5, codec: "vorbis" });
  });

  it("refuses a video-only WebM, another DocType, and a cut header", () => {
    expectRefused(concat(EBML_HEADER("webm"), ebml([0x18, 0x53, 0x80, 0x67], INFO(DURATION(f64be(500))), TRACKS(1, "V_VP9"))), "not_audio");
    expectRefused(concat(EBML_HEADER("ebmlfoo"), ebml([0x18, 0x53, 0x80, 0x67])), "unsupported");
    expectRefused(EBML_HEADER("webm").subarray(0, 12), "truncated");
    const info = concat(EBML_HEADER("webm"), ebml([0x18, 0x53, 0x80, 0x67], INFO(DURATION(f64be(500)))));
    expectRefused(info.subarray(0, info.length - 4), "truncated");
  });
});

// --- M4A / MP4 -------------------------------------------------------------------------------

const box = (type: string, ...children: Part[]) => {
  const body = concat(...children);
  return concat(u32be(8 + body.length), type, body);
};
const FTYP_M4A = box("ftyp", "M4A ", u32be(0), "M4A ", "mp42", "isom");
const MATRIX = concat(u32be(0x10000), zeros(12), u32be(0x10000), zeros(12), u32be(0x40000000));
const mvhdV0 = (timescale: number, duration: number) =>
  box("mvhd", [0, 0, 0, 0], u32be(0), u32be(0), u32be(timescale), u32be(duration), u32be(0x10000), u16be(0x100), zeros(10), MATRIX, zeros(24), u32be(2));
const mvhdV1 = (timescale: number, duration: bigint) =>
  box("mvhd", [1, 0, 0, 0], u64be(0n), u64be(0n), u32be(timescale), u64be(duration), u32be(0x10000), u16be(0x100), zeros(10), MATRIX, zeros(24), u32be(2));
const track = (handler: "soun" | "vide", sampleRate: number, channels: number) =>
  box(
    "trak",
    box("tkhd", [0, 0, 0, 7], zeros(80)),
    box(
      "mdia",
      box("mdhd", [0, 0, 0, 0], u32be(0), u32be(0), u32be(sampleRate), u32be(0), u16be(0x55c4), u16be(0)),
      box("hdlr", [0, 0, 0, 0], u32be(0), handler, zeros(12), "Handler\0"),
      box(
        "minf",
        box("smhd", zeros(8)),
        box(
          "stbl",
          box(
            "stsd",
            [0, 0, 0, 0],
            u32be(1),
            box(handler === "soun" ? "mp4a" : "avc1", zeros(6), u16be(1), zeros(8), u16be(channels), u16be(16), u16be(0), u16be(0), u32be(sampleRate * 65536)),
          ),
        ),
      ),
    ),
  );
const MDAT = box("mdat", randomBytes(3000, 13));

describe("M4A / MP4", () => {
  it("reads moov > mvhd v0 duration / timescale and the sound track", () => {
    const file = concat(FTYP_M4A, box("moov", mvhdV0(1000, 3250), track("soun", 44100, 2)), MDAT);
    expect(expectOk(file)).toEqual({ ok: true, format: "m4a", mime: "audio/mp4", durationSeconds: 3.25, sampleRate: 44100, channels: 2, codec: "mp4a" });
  });

  it("reads mvhd v1 with a 64-bit duration, moov after mdat, and a generic isom brand", () => {
    const ftyp = box("ftyp", "isom", u32be(512), "isom", "iso2", "mp41");
    const file = concat(ftyp, MDAT, box("moov", mvhdV1(48000, 48000n * 108_000n), track("soun", 48000, 1)));
    expect(expectOk(file)).toMatchObject({ durationSeconds: 108_000, sampleRate: 48000, channels: 1 });
  });

  it("takes a fragmented MP4's length from mvex > mehd, or null without it", () => {
    const mehd = box("mehd", [0, 0, 0, 0], u32be(4500));
    const fragmented = concat(FTYP_M4A, box("moov", mvhdV0(1000, 0), track("soun", 16000, 1), box("mvex", mehd)), box("moof", zeros(16)), MDAT);
    expect(expectOk(fragmented).durationSeconds).toBe(4.5);
    const unknown = concat(FTYP_M4A, box("moov", mvhdV0(1000, 0), track("soun", 16000, 1), box("mvex", box("trex", zeros(24)))), MDAT);
    expect(expectOk(unknown).durationSeconds).toBeNull();
  });

  it("calls a box running past the end, or a file without moov, truncated", () => {
    const file = concat(FTYP_M4A, box("moov", mvhdV0(1000, 3250), track("soun", 44100, 2)), MDAT);
    expect(expectRefused(file.subarray(0, file.length - 500), "truncated").message).toContain("mdat");
    expectRefused(concat(FTYP_M4A, MDAT), "truncated");
    expectRefused(FTYP_M4A.subarray(0, 14), "truncated");
  });

  it("refuses an image brand (HEIC) and a video with no sound track as not audio", () => {
    expectRefused(concat(box("ftyp", "heic", u32be(0), "mif1", "heic"), box("meta", zeros(40))), "not_audio");
    expectRefused(concat(FTYP_M4A, box("moov", mvhdV0(1000, 3250), track("vide", 90000, 0)), MDAT), "not_audio");
  });
});

// --- Raw u-law / PCM (declared) --------------------------------------------------------------

describe("declared raw audio", () => {
  it("times u-law 8 kHz at 8000 bytes a second: a 160-byte Twilio frame is 20 ms", () => {
    expect(expectOk(randomBytes(160, 3), "ulaw_8000")).toEqual({
      ok: true,
      format: "ulaw_8000",
      mime: "audio/basic",
      durationSeconds: 0.02,
      sampleRate: 8000,
      channels: 1,
      codec: "mulaw",
    });
    expect(expectOk(new Uint8Array(23_520).fill(0xff), "ulaw_8000").durationSeconds).toBe(2.94);
  });

  it("times PCM16 at 2 bytes a sample", () => {
    expect(expectOk(randomBytes(32_000, 5), "pcm_16000")).toMatchObject({ durationSeconds: 1, sampleRate: 16000, mime: "audio/pcm;rate=16000" });
    expect(expectOk(randomBytes(4800, 5), "pcm_24000").durationSeconds).toBe(0.1);
    expect(expectOk(randomBytes(1600, 5), "pcm_8000").durationSeconds).toBe(0.1);
  });

  it("lets the bytes win over the declaration when they are a container", () => {
    expect(expectOk(wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: 16000 }), "ulaw_8000")).toMatchObject({ format: "wav", durationSeconds: 0.5 });
  });

  it("refuses what is certainly not audio even when declared", () => {
    expectRefused(encoder.encode(JSON.stringify({ transcript: "hello there, this is not audio at all" })), "not_audio", "ulaw_8000");
    expectRefused(concat("%PDF-1.7\n", randomBytes(400, 1)), "not_audio", "pcm_16000");
    expectRefused(new Uint8Array(0), "empty", "ulaw_8000");
  });

  it("never takes headerless bytes for u-law unless declared", () => {
    expectRefused(new Uint8Array(8000).fill(0xff), "not_audio");
  });
});

// --- Not audio -------------------------------------------------------------------------------

describe("not audio", () => {
  it("answers empty for no bytes", () => {
    expect(inspectAudio(new Uint8Array(0))).toEqual({ ok: false, reason: "empty", message: "the audio is empty" });
  });

  it("refuses a PDF, JSON, plain text and a PNG", () => {
    expectRefused(concat("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), "not_audio");
    expectRefused(encoder.encode('{"audio":"not really","format":"mp3"}'), "not_audio");
    expectRefused(encoder.encode("RIFF is a word, WAVE is another, OggS and ID3 too."), "not_audio");
    expectRefused(concat([0x89], "PNG\r\n\x1a\n", u32be(13), "IHDR", u32be(1), u32be(1), [8, 6, 0, 0, 0], u32be(0)), "not_audio");
    expectRefused(concat("RIFF", u32le(100), "WEBP", "VP8 ", zeros(88)), "not_audio");
  });

  it("refuses 4 KB of random bytes, for 300 different seeds", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const result = inspectAudio(randomBytes(4096, seed * 2654435761));
      expect(result, `seed ${seed}`).toMatchObject({ ok: false, reason: "not_audio" });
    }
  });

  it("refuses FLAC and AAC in ADTS as unsupported audio", () => {
    expectRefused(concat("fLaC", [0x80, 0, 0, 34], zeros(34)), "unsupported");
    const adts = (length: number) =>
      concat([0xff, 0xf1, 0x50, 0x80 | ((length >> 11) & 3), (length >> 3) & 0xff, ((length & 7) << 5) | 0x1f, 0xfc], randomBytes(length - 7, length));
    expect(expectRefused(concat(adts(200), adts(180), adts(190)), "unsupported").message).toContain("AAC");
  });
});

// --- Large inputs ----------------------------------------------------------------------------

describe("on 25 MB", () => {
  const size = 25 * 1024 * 1024;

  it("walks 62,000 MP3 frames and a 25 MB WAV quickly", () => {
    const frames = Math.floor(size / 417);
    const mp3 = repeat(frame128, frames);
    const pcm = wav({ sampleRate: 16000, bitsPerSample: 16, dataBytes: size });
    const started = performance.now();
    const mp3Result = expectOk(mp3);
    const wavResult = expectOk(pcm);
    const elapsed = performance.now() - started;
    expect(mp3Result.durationSeconds).toBeCloseTo(frames * MP3_FRAME_SECONDS, 3);
    expect(wavResult.durationSeconds).toBeCloseTo(size / 32000, 6);
    expect(elapsed).toBeLessThan(500);
  });

  it("walks a 25 MB Ogg Opus stream page by page", () => {
    const page = (i: number) => oggPage({ granule: BigInt(312 + (i + 1) * 48000), sequence: i + 2, packets: Array.from({ length: 200 }, () => zeros(320)) });
    const pages = Math.floor(size / page(0).length);
    const file = new Uint8Array(size);
    const head = concat(
      oggPage({ headerType: 2, granule: 0n, sequence: 0, packets: [opusHead(312)] }),
      oggPage({ granule: 0n, sequence: 1, packets: [opusTags] }),
    );
    file.set(head);
    let at = head.length;
    for (let i = 0; i < pages - 1; i++) {
      const next = page(i);
      file.set(next, at);
      at += next.length;
    }
    expect(expectOk(file.subarray(0, at)).durationSeconds).toBe(pages - 1);
  });
});

// --- Real recordings, when the harness serves them -------------------------------------------

interface AudioManifest {
  files: { wav: string; ulaw: string; duration_ms: number }[];
}

async function fromHarness(name: string): Promise<Response | null> {
  try {
    const response = await fetch(`${inject("harnessUrl")}/audio-data/${name}`);
    return response.ok ? response : null;
  } catch {
    return null;
  }
}

describe("the real recordings", () => {
  it("times each 16 kHz WAV and its u-law twin to the manifest's milliseconds", async (context) => {
    const manifestResponse = await fromHarness("manifest.json");
    if (!manifestResponse) return context.skip("the harness does not serve /audio-data yet");
    const manifest = (await manifestResponse.json()) as AudioManifest;
    expect(manifest.files.length).toBeGreaterThan(0);
    for (const entry of manifest.files) {
      const wavBytes = new Uint8Array(await (await fromHarness(entry.wav))!.arrayBuffer());
      const ulawBytes = new Uint8Array(await (await fromHarness(entry.ulaw))!.arrayBuffer());
      const wavResult = expectOk(wavBytes);
      expect(wavResult, entry.wav).toMatchObject({ format: "wav", mime: AUDIO_MIME.wav, sampleRate: 16000, channels: 1, codec: "pcm" });
      expect(wavResult.durationSeconds! * 1000, entry.wav).toBeCloseTo(entry.duration_ms, 0);
      expect(expectOk(ulawBytes, "ulaw_8000").durationSeconds! * 1000, entry.ulaw).toBeCloseTo(entry.duration_ms, 0);
      expect(inspectAudio(ulawBytes), `${entry.ulaw} undeclared`).toMatchObject({ ok: false, reason: "not_audio" });
    }
  });
});
