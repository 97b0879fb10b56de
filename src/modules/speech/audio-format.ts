/**
 * What an audio upload is, and how long it lasts, from its bytes: a client's file name or
 * Content-Type is never trusted. Containers are recognised by their headers (WAV, MP3, Ogg,
 * WebM/Matroska, M4A/MP4); raw G.711 u-law and raw PCM16 have no header, so they are only taken
 * when the caller declares them. Pure and allocation-light: nothing is copied, and the longest walk
 * (MP3 frames, Ogg pages) is one jump per frame or page, so a 25 MB upload takes milliseconds.
 */

/** Headerless audio the caller can declare: Twilio's u-law 8 kHz, or little-endian signed 16-bit mono PCM. */
export type DeclaredRawAudio = "ulaw_8000" | "pcm_8000" | "pcm_16000" | "pcm_24000";

export type AudioFormat = "wav" | "mp3" | "ogg" | "webm" | "m4a" | DeclaredRawAudio;

export type AudioRefusalReason = "not_audio" | "truncated" | "empty" | "unsupported";

export type AudioInspection =
  | {
      ok: true;
      format: AudioFormat;
      mime: string;
      /** Null when the container does not say (a WebM from MediaRecorder, a fragmented MP4 without mehd). */
      durationSeconds: number | null;
      sampleRate?: number;
      channels?: number;
      /** The codec inside the container: pcm, float, alaw, mulaw, mp3, mp2, mp1, opus, vorbis, a WebM codec id, an MP4 sample entry. */
      codec?: string;
    }
  | { ok: false; reason: AudioRefusalReason; message: string };

/** The usual MIME type of each format. Raw PCM16 has no registered little-endian type; `audio/pcm` is what speech APIs accept. */
export const AUDIO_MIME: Readonly<Record<AudioFormat, string>> = {
  wav: "audio/wav",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  webm: "audio/webm",
  m4a: "audio/mp4",
  ulaw_8000: "audio/basic",
  pcm_8000: "audio/pcm;rate=8000",
  pcm_16000: "audio/pcm;rate=16000",
  pcm_24000: "audio/pcm;rate=24000",
};

const RAW_AUDIO: Readonly<Record<DeclaredRawAudio, { sampleRate: number; bytesPerSecond: number; codec: string }>> = {
  ulaw_8000: { sampleRate: 8000, bytesPerSecond: 8000, codec: "mulaw" },
  pcm_8000: { sampleRate: 8000, bytesPerSecond: 16000, codec: "pcm" },
  pcm_16000: { sampleRate: 16000, bytesPerSecond: 32000, codec: "pcm" },
  pcm_24000: { sampleRate: 24000, bytesPerSecond: 48000, codec: "pcm" },
};

/**
 * The format, MIME type and duration of `bytes`, or why they are not usable audio: `empty`, `not_audio`
 * (text, PDF, images, random bytes), `truncated` (a header promising more bytes than there are) or
 * `unsupported` (audio, but a codec or container this does not handle: FLAC, AAC in ADTS, ADPCM WAV...).
 * A recognisable container always wins over `declared`; `declared` only makes headerless bytes u-law or PCM.
 */
export function inspectAudio(bytes: Uint8Array, declared?: DeclaredRawAudio): AudioInspection {
  if (bytes.length === 0) return refuse("empty", "the audio is empty");
  const r = new Reader(bytes);
  try {
    const container = inspectWav(r) ?? inspectOgg(r) ?? inspectWebm(r) ?? inspectMp4(r) ?? inspectMp3(r, declared === undefined);
    if (container) return container;
    const other = otherAudio(r, 0);
    if (other) return refuse("unsupported", `${other} is not supported`);
    if (declared) return inspectRaw(r, declared);
    return refuse("not_audio", "the bytes are not WAV, MP3, Ogg, WebM or M4A audio");
  } catch (error) {
    // Every parser checks its bounds; a read past the end that slips through still means a cut file, not a 500.
    if (error instanceof RangeError) return refuse("truncated", "the audio ends inside a header");
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Raw u-law / PCM (declared only)

function inspectRaw(r: Reader, declared: DeclaredRawAudio): AudioInspection {
  const known = knownNonAudio(r);
  if (known) return refuse("not_audio", `declared ${declared}, but the bytes are ${known}`);
  const raw = RAW_AUDIO[declared];
  return found(declared, r.length / raw.bytesPerSecond, { sampleRate: raw.sampleRate, channels: 1, codec: raw.codec });
}

// u-law and PCM can hold any byte, so only what is certainly something else is refused: common file
// signatures, and printable text (u-law silence is 0xFF, so speech is never all ASCII for 512 bytes).
function knownNonAudio(r: Reader): string | null {
  if (r.is(0, "%PDF-")) return "a PDF";
  if (r.is(1, "PNG\r\n")) return "a PNG image";
  if (r.length >= 3 && r.u8(0) === 0xff && r.u8(1) === 0xd8 && r.u8(2) === 0xff) return "a JPEG image";
  if (r.is(0, "GIF8")) return "a GIF image";
  if (r.is(0, "PK\x03\x04")) return "a ZIP archive";
  const head = Math.min(r.length, 512);
  if (head < 16) return null;
  for (let i = 0; i < head; i++) {
    const b = r.u8(i);
    if (!(b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e))) return null;
  }
  return "text";
}

// Audio this module recognises but does not handle, at `offset` (0, or after an ID3 tag).
function otherAudio(r: Reader, offset: number): string | null {
  if (r.is(offset, "fLaC")) return "FLAC";
  if (r.is(offset, "FORM") && (r.is(offset + 8, "AIFF") || r.is(offset + 8, "AIFC"))) return "AIFF";
  if (r.is(offset, "#!AMR")) return "AMR";
  if (r.is(offset, "caff")) return "Core Audio Format";
  if (r.is(offset, "RF64") && r.is(offset + 8, "WAVE")) return "RF64 WAV";
  // AAC in ADTS: 12 sync bits and layer 00; two frames in a row so that chance bytes do not count.
  const adtsLength = (o: number) =>
    o + 7 <= r.length && r.u8(o) === 0xff && (r.u8(o + 1) & 0xf6) === 0xf0 ? ((r.u8(o + 3) & 3) << 11) | (r.u8(o + 4) << 3) | (r.u8(o + 5) >> 5) : 0;
  const first = adtsLength(offset);
  if (first >= 7 && adtsLength(offset + first) >= 7) return "AAC (ADTS)";
  return null;
}

// ---------------------------------------------------------------------------------------------
// WAV: RIFF....WAVE, a fmt chunk, then a data chunk; duration = data bytes / byte rate.

const WAV_CODECS: Readonly<Record<number, string>> = { 1: "pcm", 3: "float", 6: "alaw", 7: "mulaw" };

function inspectWav(r: Reader): AudioInspection | null {
  if (!r.is(0, "RIFF")) return null;
  if (r.length < 12) return refuse("truncated", "the WAV ends inside its RIFF header");
  if (!r.is(8, "WAVE")) return null;
  let fmt: { codec: string; channels: number; sampleRate: number; byteRate: number } | null = null;
  let offset = 12;
  while (offset + 8 <= r.length) {
    const id = r.ascii(offset, 4);
    const size = r.u32le(offset + 4);
    const body = offset + 8;
    const available = r.length - body;
    if (id === "data") {
      if (!fmt) return refuse("unsupported", "the WAV has its data chunk before its fmt chunk");
      // 0xFFFFFFFF is what streaming writers leave when they cannot seek back: the data runs to the end.
      const streamed = size === 0xffffffff;
      if (!streamed && size > available) return refuse("truncated", `the WAV data chunk declares ${size} bytes but only ${available} are present`);
      const dataBytes = streamed ? available : size;
      return found("wav", dataBytes / fmt.byteRate, { sampleRate: fmt.sampleRate, channels: fmt.channels, codec: fmt.codec });
    }
    if (size > available) return refuse("truncated", `the WAV ends inside its "${id}" chunk`);
    if (id === "fmt ") {
      if (size < 16) return refuse("unsupported", "the WAV fmt chunk is too short");
      let code = r.u16le(body);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (code === 0xfffe && size >= 40) code = r.u16le(body + 24);
      const codec = WAV_CODECS[code];
      if (!codec) return refuse("unsupported", `WAV with codec 0x${code.toString(16).padStart(4, "0")} is not supported (PCM, float, a-law and u-law are)`);
      const channels = r.u16le(body + 2);
      const sampleRate = r.u32le(body + 4);
      const blockAlign = r.u16le(body + 12);
      const bitsPerSample = r.u16le(body + 14);
      const byteRate = r.u32le(body + 8) || sampleRate * blockAlign || (sampleRate * channels * bitsPerSample) / 8;
      if (channels === 0 || sampleRate === 0 || byteRate === 0) return refuse("unsupported", "the WAV fmt chunk has no channels, sample rate or byte rate");
      fmt = { codec, channels, sampleRate, byteRate };
    }
    offset = body + size + (size & 1);
  }
  return refuse("truncated", "the WAV ends before its data chunk");
}

// ---------------------------------------------------------------------------------------------
// MP3: optional ID3v2 tags, then MPEG audio frames. Two consecutive valid frame headers are needed.

// kbps by [MPEG-1 ? 0 : 1][layer - 1][bitrate index - 1]; indexes 0 (free format) and 15 are refused.
const MPEG_BITRATES = [
  [
    [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  [
    [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
] as const;
const MPEG1_SAMPLE_RATES = [44100, 48000, 32000] as const;

interface MpegFrame {
  /** Version and layer bits and sample-rate index: frames of one stream share them. */
  key: number;
  mpeg1: boolean;
  layer: 1 | 2 | 3;
  sampleRate: number;
  channels: number;
  samples: number;
  length: number;
}

function mpegFrameAt(r: Reader, o: number): MpegFrame | null {
  if (o + 4 > r.length || r.u8(o) !== 0xff) return null;
  const b1 = r.u8(o + 1);
  const b2 = r.u8(o + 2);
  const b3 = r.u8(o + 3);
  if ((b1 & 0xe0) !== 0xe0) return null;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3 || (b3 & 3) === 2) return null;
  const mpeg1 = versionBits === 3;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const sampleRate = MPEG1_SAMPLE_RATES[rateIndex as 0 | 1 | 2] / (mpeg1 ? 1 : versionBits === 2 ? 2 : 4);
  const bitrate = MPEG_BITRATES[mpeg1 ? 0 : 1][layer - 1]![bitrateIndex - 1]! * 1000;
  const padding = (b2 >> 1) & 1;
  const samples = layer === 1 ? 384 : layer === 3 && !mpeg1 ? 576 : 1152;
  const length = layer === 1 ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4 : Math.floor(((samples / 8) * bitrate) / sampleRate) + padding;
  return { key: (b1 & 0x1e) | (rateIndex << 5), mpeg1, layer, sampleRate, channels: b3 >> 6 === 3 ? 1 : 2, samples, length };
}

/** `count` frames in a row from `o`, all of one stream (the last one's body may be cut). */
function mpegRun(r: Reader, o: number, count: number): MpegFrame | null {
  const first = mpegFrameAt(r, o);
  if (!first) return null;
  let at = o + first.length;
  for (let i = 1; i < count; i++) {
    const next = mpegFrameAt(r, at);
    if (!next || next.key !== first.key) return null;
    at += next.length;
  }
  return first;
}

// A Xing/Info (LAME) or VBRI header in the first frame: that frame carries no audio, and its count of
// the frames after it (when present) is the length. Null when the first frame is plain audio.
function mpegInfoFrame(r: Reader, o: number, frame: MpegFrame): { frames: number | null } | null {
  if (frame.layer !== 3) return null;
  const sideInfo = frame.mpeg1 ? (frame.channels === 1 ? 17 : 32) : frame.channels === 1 ? 9 : 17;
  const xing = o + 4 + sideInfo;
  if ((r.is(xing, "Xing") || r.is(xing, "Info")) && xing + 8 <= r.length) {
    return { frames: (r.u32be(xing + 4) & 1) === 1 && xing + 12 <= r.length ? r.u32be(xing + 8) : null };
  }
  const vbri = o + 36;
  if (r.is(vbri, "VBRI") && vbri + 18 <= r.length) return { frames: r.u32be(vbri + 14) };
  return null;
}

function inspectMp3(r: Reader, mayScan: boolean): AudioInspection | null {
  let start = 0;
  while (r.is(start, "ID3")) {
    if (start + 10 > r.length) return refuse("truncated", "the MP3 ends inside its ID3 tag header");
    let size = 0;
    for (let i = 6; i < 10; i++) {
      const b = r.u8(start + i);
      if (b >= 0x80) return null;
      size = size * 128 + b;
    }
    const total = 10 + size + (r.u8(start + 5) & 0x10 ? 10 : 0);
    if (start + total > r.length) return refuse("truncated", `the ID3 tag declares ${total} bytes but only ${r.length - start} are present`);
    start += total;
  }
  const tagged = start > 0;
  if (tagged && start === r.length) return refuse("truncated", "the MP3 ends after its ID3 tag, before any audio");
  if (tagged) {
    const other = otherAudio(r, start);
    if (other) return refuse("unsupported", `${other} is not supported`);
  }
  // Frames normally start right after the tag; some encoders leave padding or junk first. Away from
  // the expected place, three frames in a row are asked for, so random bytes are not taken for MP3.
  let offset = start;
  let first = mpegRun(r, offset, 2);
  if (!first && (tagged || mayScan)) {
    const limit = Math.min(r.length - 4, start + 4096);
    for (offset = start + 1; offset <= limit && !first; offset++) if (r.u8(offset) === 0xff) first = mpegRun(r, offset, 3);
    offset--;
  }
  if (!first) {
    // A lone first frame carrying a Xing/Info/VBRI tag where the tag belongs is as sure a sign as a
    // second frame (the tiny "silent MP3" data URIs that browsers unlock audio with are just that).
    const lone = mpegFrameAt(r, start);
    if (lone && mpegInfoFrame(r, start, lone)) [first, offset] = [lone, start];
  }
  if (!first) return tagged ? refuse("not_audio", "an ID3 tag followed by no MPEG audio frames") : null;
  const info = mpegInfoFrame(r, offset, first);
  let frames = info?.frames ?? null;
  if (frames === null) {
    // Walk the frames: one jump each. A last frame cut short is not counted; a foreign tail (ID3v1, APE) ends the walk.
    frames = info ? -1 : 0;
    let at = offset;
    for (let frame: MpegFrame | null = first; frame && frame.key === first.key && at + frame.length <= r.length; frame = mpegFrameAt(r, at)) {
      frames++;
      at += frame.length;
    }
  }
  const codec = first.layer === 3 ? "mp3" : first.layer === 2 ? "mp2" : "mp1";
  return found("mp3", (frames * first.samples) / first.sampleRate, { sampleRate: first.sampleRate, channels: first.channels, codec });
}

// ---------------------------------------------------------------------------------------------
// Ogg: pages of `OggS`; the first packet says Opus or Vorbis; the last page's granule position gives the length.

function inspectOgg(r: Reader): AudioInspection | null {
  if (!r.is(0, "OggS")) return null;
  const firstPage = oggPage(r, 0);
  if (!firstPage) return refuse("truncated", "the Ogg stream ends inside its first page");
  const head = firstPage.body;
  const serial = r.u32le(14);
  let codec: { name: "opus" | "vorbis"; sampleRate: number; channels: number; preSkip: number };
  if (r.is(head, "OpusHead")) {
    if (head + 19 > r.length) return refuse("truncated", "the Ogg stream ends inside its OpusHead");
    codec = { name: "opus", sampleRate: 48000, channels: r.u8(head + 9), preSkip: r.u16le(head + 10) };
  } else if (r.u8(head) === 1 && r.is(head + 1, "vorbis")) {
    if (head + 30 > r.length) return refuse("truncated", "the Ogg stream ends inside its Vorbis identification header");
    codec = { name: "vorbis", sampleRate: r.u32le(head + 12), channels: r.u8(head + 11), preSkip: 0 };
    if (codec.sampleRate === 0) return refuse("unsupported", "the Vorbis identification header has no sample rate");
  } else {
    const name = r.is(head, "\x7fFLAC") ? "FLAC in Ogg" : r.is(head, "Speex   ") ? "Speex in Ogg" : "an Ogg stream that is neither Opus nor Vorbis";
    return refuse("unsupported", `${name} is not supported`);
  }
  // Walk the pages of the first logical stream; a last page cut short is left out, junk between pages is skipped.
  let granule: number | null = null;
  let at = 0;
  while (at + 27 <= r.length) {
    if (!r.is(at, "OggS")) {
      at = r.indexOf("OggS", at + 1);
      if (at < 0) break;
      continue;
    }
    const page = oggPage(r, at);
    if (!page) break;
    const high = r.u32le(at + 10);
    // A granule position of -1 marks a page on which no packet ends; negative ones are not lengths.
    if (r.u32le(at + 14) === serial && high < 0x80000000) granule = high * 2 ** 32 + r.u32le(at + 6);
    at = page.end;
  }
  const duration = granule === null ? null : Math.max(0, granule - codec.preSkip) / codec.sampleRate;
  return found("ogg", duration, { sampleRate: codec.sampleRate, channels: codec.channels, codec: codec.name });
}

function oggPage(r: Reader, at: number): { body: number; end: number } | null {
  if (at + 27 > r.length) return null;
  const segments = r.u8(at + 26);
  const body = at + 27 + segments;
  if (body > r.length) return null;
  let end = body;
  for (let i = 0; i < segments; i++) end += r.u8(at + 27 + i);
  return end <= r.length ? { body, end } : null;
}

// ---------------------------------------------------------------------------------------------
// WebM / Matroska: EBML elements; Segment > Info > Duration x TimecodeScale, Segment > Tracks for the audio track.

const EBML = 0x1a45dfa3;
const EBML_DOC_TYPE = 0x4282;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMECODE_SCALE = 0x2ad7b1;
const DURATION = 0x4489;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_TYPE = 0x83;
const TRACK_TYPE_AUDIO = 2;
const CODEC_ID = 0x86;
const AUDIO = 0xe1;
const SAMPLING_FREQUENCY = 0xb5;
const CHANNELS = 0x9f;
const CLUSTER = 0x1f43b675;

interface EbmlElement {
  id: number;
  data: number;
  /** Null when the size is "unknown" (all ones), as live recorders write for Segment and Cluster. */
  size: number | null;
  end: number;
}

function inspectWebm(r: Reader): AudioInspection | null {
  if (r.length < 4 || r.u32be(0) !== EBML) return null;
  const header = ebmlElement(r, 0, r.length);
  if (!header || header.size === null || header.end > r.length) return refuse("truncated", "the file ends inside its EBML header");
  let docType = "matroska"; // the EBML default when DocType is absent
  for (const child of ebmlChildren(r, header.data, header.end)) if (child.id === EBML_DOC_TYPE) docType = r.text(child.data, child.end);
  if (docType !== "webm" && docType !== "matroska") return refuse("unsupported", `EBML document type "${docType}" is not WebM or Matroska`);
  const segment = ebmlElement(r, header.end, r.length);
  if (!segment) return refuse("truncated", "the WebM ends before its Segment");
  if (segment.id !== SEGMENT) return refuse("unsupported", "the WebM has no Segment after its EBML header");

  let timecodeScale = 1_000_000;
  let duration: number | null = null;
  let audioTrack: { codec?: string; sampleRate?: number; channels?: number } | null = null;
  let tracksSeen = false;
  // Info and Tracks come before the first Cluster; the clusters (the media) are not walked.
  for (const child of ebmlChildren(r, segment.data, Math.min(segment.end, r.length))) {
    if (child.id === CLUSTER) break;
    if (child.id !== INFO && child.id !== TRACKS) continue;
    if (child.size === null || child.end > r.length) return refuse("truncated", `the WebM ends inside its ${child.id === INFO ? "Info" : "Tracks"} element`);
    if (child.id === INFO) {
      for (const field of ebmlChildren(r, child.data, child.end)) {
        if (field.id === TIMECODE_SCALE) timecodeScale = r.uintBe(field.data, field.end) || timecodeScale;
        if (field.id === DURATION) duration = r.floatBe(field.data, field.end);
      }
    } else {
      tracksSeen = true;
      for (const entry of ebmlChildren(r, child.data, child.end)) {
        if (entry.id !== TRACK_ENTRY || audioTrack) continue;
        const track: { type?: number; codec?: string; sampleRate?: number; channels?: number } = {};
        for (const field of ebmlChildren(r, entry.data, entry.end)) {
          if (field.id === TRACK_TYPE) track.type = r.uintBe(field.data, field.end);
          if (field.id === CODEC_ID) track.codec = r.text(field.data, field.end).replace(/^A_/, "").toLowerCase();
          if (field.id === AUDIO) {
            for (const setting of ebmlChildren(r, field.data, field.end)) {
              if (setting.id === SAMPLING_FREQUENCY) track.sampleRate = r.floatBe(setting.data, setting.end) ?? undefined;
              if (setting.id === CHANNELS) track.channels = r.uintBe(setting.data, setting.end);
            }
          }
        }
        if (track.type === TRACK_TYPE_AUDIO) audioTrack = { codec: track.codec, sampleRate: track.sampleRate, channels: track.channels ?? 1 };
      }
    }
  }
  if (tracksSeen && !audioTrack) return refuse("not_audio", "the WebM has no audio track");
  const seconds = duration === null ? null : (duration * timecodeScale) / 1e9;
  return found("webm", seconds, withoutUndefined(audioTrack ?? {}), docType === "matroska" ? "audio/x-matroska" : AUDIO_MIME.webm);
}

function ebmlElement(r: Reader, at: number, limit: number): EbmlElement | null {
  if (at >= limit) return null;
  const first = r.u8(at);
  const idLength = Math.clz32(first) - 23;
  if (first === 0 || idLength > 4 || at + idLength >= limit) return null;
  let id = 0;
  for (let i = 0; i < idLength; i++) id = id * 256 + r.u8(at + i);
  const sizeAt = at + idLength;
  const sizeFirst = r.u8(sizeAt);
  const sizeLength = Math.clz32(sizeFirst) - 23;
  if (sizeFirst === 0 || sizeAt + sizeLength > limit) return null;
  let size = sizeFirst & (0xff >> sizeLength);
  let allOnes = size === 0xff >> sizeLength;
  for (let i = 1; i < sizeLength; i++) {
    const b = r.u8(sizeAt + i);
    size = size * 256 + b;
    allOnes &&= b === 0xff;
  }
  const data = sizeAt + sizeLength;
  return allOnes ? { id, data, size: null, end: limit } : { id, data, size, end: data + size };
}

// Children of [start, end); stops at a child whose header is cut. A child may reach past `end` (the caller checks).
function* ebmlChildren(r: Reader, start: number, end: number): Generator<EbmlElement> {
  let at = start;
  while (at < end) {
    const element = ebmlElement(r, at, end);
    if (!element) return;
    yield element;
    at = element.end;
  }
}

// ---------------------------------------------------------------------------------------------
// M4A / MP4: boxes; `ftyp` with an audio brand, then moov > mvhd duration / timescale and a `soun` track.

const MP4_AUDIO_BRANDS = new Set([
  "M4A ",
  "M4B ",
  "M4P ",
  "F4A ",
  "F4B ",
  "mp41",
  "mp42",
  "isom",
  "iso2",
  "iso3",
  "iso4",
  "iso5",
  "iso6",
  "dash",
  "3gp4",
  "3gp5",
  "3gp6",
  "3g2a",
  "qt  ",
]);
const MP4_IMAGE_BRANDS = new Set(["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1", "avif", "avis", "jp2 ", "crx "]);
const MP4_CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl", "mvex"]);

interface Mp4Box {
  type: string;
  body: number;
  end: number;
}

function inspectMp4(r: Reader): AudioInspection | null {
  if (!r.is(4, "ftyp")) return null;
  const ftyp = mp4Box(r, 0, r.length);
  if (!ftyp || ftyp.end > r.length || ftyp.end - ftyp.body < 8) return refuse("truncated", "the MP4 ends inside its ftyp box");
  const brands = [r.ascii(ftyp.body, 4)];
  for (let at = ftyp.body + 8; at + 4 <= ftyp.end; at += 4) brands.push(r.ascii(at, 4));
  if (!brands.some((brand) => MP4_AUDIO_BRANDS.has(brand))) {
    if (brands.some((brand) => MP4_IMAGE_BRANDS.has(brand))) return refuse("not_audio", `an image (ISO brand "${brands[0]}"), not audio`);
    return refuse("unsupported", `an ISO media file of brand "${brands[0]}" is not supported`);
  }
  let moov: Mp4Box | null = null;
  for (let at = 0; at < r.length; ) {
    const box = mp4Box(r, at, r.length);
    if (!box) return refuse("truncated", "the MP4 ends inside a box header");
    if (box.end > r.length) return refuse("truncated", `the MP4 "${box.type}" box declares ${box.end - at} bytes but only ${r.length - at} are present`);
    if (box.type === "moov" && !moov) moov = box;
    at = box.end;
  }
  if (!moov) return refuse("truncated", "the MP4 has no moov box (a recording that was never finished?)");

  const boxes = new Map<string, Mp4Box>();
  let hasTracks = false;
  let sound: { mdhd?: Mp4Box; stsd?: Mp4Box } | null = null;
  // Depth-first over the containers that matter; the first sound track gives the sample rate and channels.
  const walk = (start: number, end: number, path: string, track: { mdhd?: Mp4Box; stsd?: Mp4Box; sound?: boolean } | null) => {
    for (let at = start; at + 8 <= end; ) {
      const box = mp4Box(r, at, end);
      if (!box || box.end > end) return;
      const here = `${path}/${box.type}`;
      if (!boxes.has(here)) boxes.set(here, box);
      if (box.type === "trak") {
        hasTracks = true;
        const inner: { mdhd?: Mp4Box; stsd?: Mp4Box; sound?: boolean } = {};
        walk(box.body, box.end, here, inner);
        if (inner.sound && !sound) sound = inner;
      } else if (MP4_CONTAINERS.has(box.type)) {
        walk(box.body, box.end, here, track);
      } else if (track && box.type === "hdlr") {
        track.sound ||= box.body + 12 <= box.end && r.is(box.body + 8, "soun");
      } else if (track && (box.type === "mdhd" || box.type === "stsd")) {
        track[box.type] = box;
      }
      at = box.end;
    }
  };
  walk(moov.body, moov.end, "moov", null);
  if (hasTracks && !sound) return refuse("not_audio", "the MP4 has no sound track");

  const mvhd = boxes.get("moov/mvhd");
  const mehd = boxes.get("moov/mvex/mehd");
  let duration: number | null = null;
  if (mvhd && mvhd.end - mvhd.body >= 20) {
    const v1 = r.u8(mvhd.body) === 1;
    const timescale = r.u32be(mvhd.body + (v1 ? 20 : 12));
    let units = v1 ? (mvhd.end - mvhd.body >= 32 ? r.u64be(mvhd.body + 24) : null) : r.u32be(mvhd.body + 16);
    const unknown = units === null || units === 0xffffffff || units >= 2 ** 64 - 1;
    // A fragmented MP4 leaves mvhd at zero and may give the whole length in mvex > mehd.
    if ((units === 0 || unknown) && mehd && mehd.end - mehd.body >= 8) units = r.u8(mehd.body) === 1 ? r.u64be(mehd.body + 4) : r.u32be(mehd.body + 4);
    else if (unknown || (units === 0 && boxes.has("moov/mvex"))) units = null;
    if (timescale > 0 && units !== null) duration = units / timescale;
  }
  return found("m4a", duration, sound ? mp4SoundDetails(r, sound) : {});
}

function mp4SoundDetails(r: Reader, track: { mdhd?: Mp4Box; stsd?: Mp4Box }): AudioDetails {
  const details: AudioDetails = {};
  const { mdhd, stsd } = track;
  if (mdhd && mdhd.end - mdhd.body >= 24) details.sampleRate = r.u32be(mdhd.body + (r.u8(mdhd.body) === 1 ? 20 : 12)) || undefined;
  // stsd: version/flags, entry count, then an AudioSampleEntry: size, format, 8 reserved/ref bytes, sound version, ...
  const entry = stsd ? stsd.body + 8 : 0;
  if (stsd && entry + 36 <= stsd.end) {
    details.codec = r.ascii(entry + 4, 4).trim();
    details.channels = r.u16be(entry + 24) || undefined;
    const rate = r.u32be(entry + 32) >>> 16;
    if (r.u16be(entry + 16) === 0 && rate > 0) details.sampleRate = rate;
  }
  return withoutUndefined(details);
}

function mp4Box(r: Reader, at: number, limit: number): Mp4Box | null {
  if (at + 8 > limit) return null;
  let size = r.u32be(at);
  let header = 8;
  if (size === 1) {
    if (at + 16 > limit) return null;
    size = r.u64be(at + 8);
    header = 16;
  } else if (size === 0) {
    size = limit - at; // "to the end of the file"
  }
  if (size < header) return null;
  return { type: r.ascii(at + 4, 4), body: at + header, end: at + size };
}

// ---------------------------------------------------------------------------------------------
// Helpers

type AudioDetails = { sampleRate?: number; channels?: number; codec?: string };

function found(format: AudioFormat, durationSeconds: number | null, details: AudioDetails, mime = AUDIO_MIME[format]): AudioInspection {
  const duration = durationSeconds !== null && Number.isFinite(durationSeconds) && durationSeconds >= 0 ? durationSeconds : null;
  return { ok: true, format, mime, durationSeconds: duration, ...details };
}

function refuse(reason: AudioRefusalReason, message: string): AudioInspection {
  return { ok: false, reason, message };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Bounds-aware reads over the caller's bytes, without copying them. */
class Reader {
  readonly length: number;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.length = bytes.length;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(at: number): number {
    return this.view.getUint8(at);
  }
  u16le(at: number): number {
    return this.view.getUint16(at, true);
  }
  u16be(at: number): number {
    return this.view.getUint16(at);
  }
  u32le(at: number): number {
    return this.view.getUint32(at, true);
  }
  u32be(at: number): number {
    return this.view.getUint32(at);
  }
  u64be(at: number): number {
    return this.view.getUint32(at) * 2 ** 32 + this.view.getUint32(at + 4);
  }
  /** Big-endian unsigned integer of 1 to 8 bytes in [start, end) (EBML). */
  uintBe(start: number, end: number): number {
    let value = 0;
    for (let at = start; at < end && at < start + 8; at++) value = value * 256 + this.u8(at);
    return value;
  }
  /** Big-endian float of 4 or 8 bytes in [start, end), else null (EBML). */
  floatBe(start: number, end: number): number | null {
    if (end - start === 4) return this.view.getFloat32(start);
    if (end - start === 8) return this.view.getFloat64(start);
    return null;
  }
  /** True when the ASCII string `ascii` stands at `at`. */
  is(at: number, ascii: string): boolean {
    if (at < 0 || at + ascii.length > this.length) return false;
    for (let i = 0; i < ascii.length; i++) if (this.bytes[at + i] !== ascii.charCodeAt(i)) return false;
    return true;
  }
  ascii(at: number, length: number): string {
    return String.fromCharCode(...this.bytes.subarray(at, at + length));
  }
  /** An EBML string: ASCII up to the first NUL in [start, end), at most 64 characters. */
  text(start: number, end: number): string {
    const slice = this.bytes.subarray(start, Math.min(end, start + 64, this.length));
    const nul = slice.indexOf(0);
    return String.fromCharCode(...(nul < 0 ? slice : slice.subarray(0, nul)));
  }
  /** Offset of the next `ascii` at or after `from`, or -1. */
  indexOf(ascii: string, from: number): number {
    const first = ascii.charCodeAt(0);
    for (let at = this.bytes.indexOf(first, from); at >= 0; at = this.bytes.indexOf(first, at + 1)) if (this.is(at, ascii)) return at;
    return -1;
  }
}
