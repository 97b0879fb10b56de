/**
 * Tiny real audio for the speech fakes and their tests: RIFF WAV write/parse, G.711 u-law,
 * hand-built silent MP3 frames (MPEG-1 and MPEG-2 Layer III) and their parser, raw PCM16,
 * plainly fake "speech" (one tone burst per word), and what a speech-to-text fake needs to read
 * an upload: its format, duration, samples and whether it is silence. Plain Uint8Array/DataView
 * code (and node:crypto's SHA-256, which workerd's nodejs_compat has), so test files in workerd can
 * import it too.
 */
import { createHash } from "node:crypto";

// ---------------------------------------------------------------- PCM16 and WAV

/** PCM16 samples as little-endian bytes (raw `pcm_*` output). */
export function pcm16Bytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i] as number, true);
  return out;
}

/** Little-endian PCM16 bytes back to samples (an odd trailing byte is dropped). */
export function pcm16Samples(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Int16Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

/** WAVE format tags this file writes or reads. */
export const WAV_PCM = 1;
export const WAV_MULAW = 7;

/** A mono RIFF WAV around `data`: 16-bit PCM (format 1) or 8-bit u-law (format 7). */
export function wrapWav(data: Uint8Array, sampleRate: number, format: typeof WAV_PCM | typeof WAV_MULAW = WAV_PCM): Uint8Array {
  const bitsPerSample = format === WAV_PCM ? 16 : 8;
  const blockAlign = bitsPerSample / 8;
  const out = new Uint8Array(44 + data.byteLength + (data.byteLength % 2));
  const view = new DataView(out.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, out.byteLength - 8, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, format, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bitsPerSample, true);
  ascii(36, "data");
  view.setUint32(40, data.byteLength, true);
  out.set(data, 44);
  return out;
}

/** A mono 16-bit PCM WAV of `samples`. */
export function writeWav(samples: Int16Array, sampleRate: number): Uint8Array {
  return wrapWav(pcm16Bytes(samples), sampleRate, WAV_PCM);
}

export interface ParsedWav {
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** The `data` chunk's bytes. */
  data: Uint8Array;
  /** The first channel as PCM16, for PCM 8/16-bit and u-law; undefined for other encodings. */
  samples: Int16Array | undefined;
  durationSeconds: number;
}

/** Parses a RIFF WAV; undefined when the bytes are not one. */
export function parseWav(bytes: Uint8Array): ParsedWav | undefined {
  if (bytes.byteLength < 12 || text4(bytes, 0) !== "RIFF" || text4(bytes, 8) !== "WAVE") return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; sampleRate: number; bitsPerSample: number } | undefined;
  let at = 12;
  while (at + 8 <= bytes.byteLength) {
    const id = text4(bytes, at);
    const declared = view.getUint32(at + 4, true);
    // Streamed WAVs declare 0 or 0xFFFFFFFF for the data size: take what is there.
    const size = Math.min(declared === 0 && id === "data" ? Number.MAX_SAFE_INTEGER : declared, bytes.byteLength - at - 8);
    if (id === "fmt " && size >= 16) {
      let format = view.getUint16(at + 8, true);
      // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && size >= 26) format = view.getUint16(at + 32, true);
      fmt = { format, channels: view.getUint16(at + 10, true), sampleRate: view.getUint32(at + 12, true), bitsPerSample: view.getUint16(at + 22, true) };
    } else if (id === "data") {
      if (!fmt || fmt.channels < 1 || fmt.sampleRate < 1 || fmt.bitsPerSample < 1) return undefined;
      const data = bytes.subarray(at + 8, at + 8 + size);
      const frameBytes = (fmt.channels * fmt.bitsPerSample) / 8;
      return { ...fmt, data, samples: firstChannel(data, fmt), durationSeconds: data.byteLength / frameBytes / fmt.sampleRate };
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}

function firstChannel(data: Uint8Array, fmt: { format: number; channels: number; bitsPerSample: number }): Int16Array | undefined {
  const frames = Math.floor(data.byteLength / ((fmt.channels * fmt.bitsPerSample) / 8));
  const out = new Int16Array(frames);
  if (fmt.format === WAV_PCM && fmt.bitsPerSample === 16) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < frames; i++) out[i] = view.getInt16(i * fmt.channels * 2, true);
    return out;
  }
  if (fmt.format === WAV_PCM && fmt.bitsPerSample === 8) {
    for (let i = 0; i < frames; i++) out[i] = ((data[i * fmt.channels] as number) - 128) << 8;
    return out;
  }
  if (fmt.format === WAV_MULAW && fmt.bitsPerSample === 8) {
    for (let i = 0; i < frames; i++) out[i] = mulawDecodeSample(data[i * fmt.channels] as number);
    return out;
  }
  return undefined;
}

function text4(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);
}

// ---------------------------------------------------------------- G.711 u-law

const MULAW_BIAS = 0x84;
const MULAW_CLIP = 32635;

export function mulawEncodeSample(sample: number): number {
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > MULAW_CLIP) s = MULAW_CLIP;
  s += MULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function mulawDecodeSample(byte: number): number {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + MULAW_BIAS) << ((u >> 4) & 0x07)) - MULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

export function mulawEncode(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = mulawEncodeSample(samples[i] as number);
  return out;
}

export function mulawDecode(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = mulawDecodeSample(bytes[i] as number);
  return out;
}

// ---------------------------------------------------------------- MP3 (Layer III)

const MPEG1_BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MPEG2_BITRATES = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MPEG1_RATES = [44100, 48000, 32000];
const MPEG2_RATES = [22050, 24000, 16000];

/** Bytes of one MPEG Layer III frame. */
function mp3FrameBytes(mpeg1: boolean, kbps: number, sampleRate: number, padding: number): number {
  return Math.floor(((mpeg1 ? 144 : 72) * kbps * 1000) / sampleRate) + padding;
}

/**
 * A constant-bitrate mono MP3 of silence lasting at least `durationSeconds`: real Layer III frames
 * (MPEG-1 for 32/44.1/48 kHz, MPEG-2 for 16/22.05/24 kHz), each a correct 4-byte header, zeroed side
 * information (no main data, so every granule decodes to silence) and zero padding.
 * Throws for a rate or bitrate Layer III does not have.
 */
export function silentMp3(durationSeconds: number, sampleRate = 44100, kbps = 128): Uint8Array {
  const mpeg1 = MPEG1_RATES.includes(sampleRate);
  const rateIndex = (mpeg1 ? MPEG1_RATES : MPEG2_RATES).indexOf(sampleRate);
  const bitrateIndex = (mpeg1 ? MPEG1_BITRATES : MPEG2_BITRATES).indexOf(kbps);
  if (rateIndex < 0 || bitrateIndex < 1) throw new Error(`no MPEG Layer III frame at ${sampleRate} Hz, ${kbps} kbps`);
  const samplesPerFrame = mpeg1 ? 1152 : 576;
  const frames = Math.max(1, Math.ceil((durationSeconds * sampleRate) / samplesPerFrame));
  const frameBytes = mp3FrameBytes(mpeg1, kbps, sampleRate, 0);
  const out = new Uint8Array(frames * frameBytes);
  for (let f = 0; f < frames; f++) {
    const at = f * frameBytes;
    out[at] = 0xff;
    // sync (3 more bits), version (11 = MPEG-1, 10 = MPEG-2), layer (01 = III), no CRC.
    out[at + 1] = mpeg1 ? 0xfb : 0xf3;
    out[at + 2] = (bitrateIndex << 4) | (rateIndex << 2);
    // channel mode 11 = mono, original.
    out[at + 3] = 0xc4;
  }
  return out;
}

export interface ParsedMp3 {
  frames: number;
  sampleRate: number;
  channels: number;
  durationSeconds: number;
  /** Every frame's side information and main data are zero: it decodes to silence. */
  silent: boolean;
  /** Byte offset of each frame, for cutting the stream on frame boundaries. */
  frameOffsets: number[];
}

/** Walks MPEG Layer III frames (after an optional ID3v2 tag); undefined unless the bytes are nothing but frames. */
export function parseMp3(bytes: Uint8Array): ParsedMp3 | undefined {
  let at = 0;
  if (text4(bytes, 0).startsWith("ID3") && bytes.byteLength >= 10) {
    at = 10 + (((bytes[6] as number) << 21) | ((bytes[7] as number) << 14) | ((bytes[8] as number) << 7) | (bytes[9] as number));
  }
  let frames = 0;
  let samples = 0;
  let sampleRate = 0;
  let channels = 0;
  let silent = true;
  const frameOffsets: number[] = [];
  while (at + 4 <= bytes.byteLength) {
    const b1 = bytes[at + 1] as number;
    const b2 = bytes[at + 2] as number;
    const b3 = bytes[at + 3] as number;
    const version = (b1 >> 3) & 0x03;
    if (bytes[at] !== 0xff || (b1 & 0xe0) !== 0xe0 || ((b1 >> 1) & 0x03) !== 0x01 || version === 0x01) return undefined;
    const mpeg1 = version === 0x03;
    const kbps = (mpeg1 ? MPEG1_BITRATES : MPEG2_BITRATES)[b2 >> 4];
    const baseRate = (mpeg1 ? MPEG1_RATES : MPEG2_RATES)[(b2 >> 2) & 0x03];
    if (!kbps || !baseRate) return undefined;
    // MPEG-2.5 (version 00) halves the MPEG-2 rates.
    const rate = version === 0x00 ? baseRate / 2 : baseRate;
    const size = mp3FrameBytes(mpeg1, kbps, rate, (b2 >> 1) & 0x01);
    if (at + size > bytes.byteLength) return undefined;
    const mono = b3 >> 6 === 0x03;
    const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
    const crc = b1 & 0x01 ? 0 : 2;
    for (let i = at + 4 + crc; silent && i < at + Math.min(size, 4 + crc + sideInfo); i++) if (bytes[i] !== 0) silent = false;
    frameOffsets.push(at);
    frames++;
    samples += mpeg1 ? 1152 : 576;
    sampleRate = rate;
    channels = mono ? 1 : 2;
    at += size;
  }
  if (frames === 0 || at !== bytes.byteLength) return undefined;
  return { frames, sampleRate, channels, durationSeconds: samples / sampleRate, silent, frameOffsets };
}

// ---------------------------------------------------------------- FLAC, Ogg Opus, ADTS AAC

/** Writes bits most significant first. */
class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private filled = 0;

  write(value: number, bits: number) {
    for (let i = bits - 1; i >= 0; i--) {
      this.current = (this.current << 1) | (Math.floor(value / 2 ** i) & 1);
      if (++this.filled === 8) {
        this.bytes.push(this.current);
        this.current = 0;
        this.filled = 0;
      }
    }
  }

  toBytes(): Uint8Array {
    if (this.filled > 0) this.write(0, 8 - this.filled);
    return Uint8Array.from(this.bytes);
  }
}

function crc8(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8005) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

const FLAC_BLOCK = 4096;

/** A mono 16-bit FLAC stream of `samples`: STREAMINFO, then fixed-size frames of VERBATIM subframes with their CRCs. */
export function writeFlac(samples: Int16Array, sampleRate: number): Uint8Array {
  const info = new BitWriter();
  info.write(FLAC_BLOCK, 16);
  info.write(FLAC_BLOCK, 16);
  info.write(0, 24); // min frame size unknown
  info.write(0, 24); // max frame size unknown
  info.write(sampleRate, 20);
  info.write(0, 3); // channels - 1
  info.write(15, 5); // bits per sample - 1
  info.write(samples.length, 36);
  for (let i = 0; i < 16; i++) info.write(0, 8); // MD5 unknown
  const parts = [Uint8Array.from([0x66, 0x4c, 0x61, 0x43, 0x80, 0x00, 0x00, 0x22]), info.toBytes()];
  for (let frame = 0, at = 0; at < samples.length; frame++, at += FLAC_BLOCK) {
    const block = samples.subarray(at, at + FLAC_BLOCK);
    const header = new BitWriter();
    header.write(0xfff8, 16); // sync, fixed block size
    header.write(block.length === FLAC_BLOCK ? 0b1100 : 0b0111, 4);
    header.write(0, 4); // sample rate from STREAMINFO
    header.write(0, 4); // mono
    header.write(0b100, 3); // 16 bits per sample
    header.write(0, 1);
    // Frame number, UTF-8 coded.
    if (frame < 0x80) header.write(frame, 8);
    else if (frame < 0x800) {
      header.write(0xc0 | (frame >> 6), 8);
      header.write(0x80 | (frame & 0x3f), 8);
    } else {
      header.write(0xe0 | (frame >> 12), 8);
      header.write(0x80 | ((frame >> 6) & 0x3f), 8);
      header.write(0x80 | (frame & 0x3f), 8);
    }
    if (block.length !== FLAC_BLOCK) header.write(block.length - 1, 16);
    const headerBytes = header.toBytes();
    const body = new Uint8Array(1 + block.length * 2);
    body[0] = 0x02; // VERBATIM subframe, no wasted bits
    const view = new DataView(body.buffer);
    for (let i = 0; i < block.length; i++) view.setInt16(1 + i * 2, block[i] as number, false);
    const frameBytes = concatBytes([headerBytes, Uint8Array.of(crc8(headerBytes)), body]);
    const crc = crc16(frameBytes);
    parts.push(frameBytes, Uint8Array.of(crc >> 8, crc & 0xff));
  }
  return concatBytes(parts);
}

/** STREAMINFO of a FLAC stream; undefined when the bytes do not start as one. */
export function parseFlacInfo(bytes: Uint8Array): { sampleRate: number; channels: number; bitsPerSample: number; durationSeconds: number } | undefined {
  if (text4(bytes, 0) !== "fLaC" || bytes.byteLength < 42 || ((bytes[4] as number) & 0x7f) !== 0) return undefined;
  const b = (i: number) => bytes[8 + i] as number;
  const sampleRate = (b(10) << 12) | (b(11) << 4) | (b(12) >> 4);
  const channels = ((b(12) >> 1) & 0x07) + 1;
  const bitsPerSample = (((b(12) & 0x01) << 4) | (b(13) >> 4)) + 1;
  const total = (b(13) & 0x0f) * 2 ** 32 + ((b(14) << 24) >>> 0) + (b(15) << 16) + (b(16) << 8) + b(17);
  if (sampleRate === 0) return undefined;
  return { sampleRate, channels, bitsPerSample, durationSeconds: total / sampleRate };
}

const OGG_CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let r = n << 24;
  for (let i = 0; i < 8; i++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

function oggPage(packets: Uint8Array[], headerType: number, granule: number, serial: number, sequence: number): Uint8Array {
  const lacing: number[] = [];
  for (const packet of packets) {
    for (let left = packet.byteLength; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  const header = new Uint8Array(27 + lacing.length);
  const view = new DataView(header.buffer);
  header.set([0x4f, 0x67, 0x67, 0x53, 0, headerType]);
  view.setBigUint64(6, BigInt(granule), true);
  view.setUint32(14, serial, true);
  view.setUint32(18, sequence, true);
  header[26] = lacing.length;
  header.set(lacing, 27);
  const page = concatBytes([header, ...packets]);
  let crc = 0;
  for (const byte of page) crc = ((crc << 8) ^ (OGG_CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  new DataView(page.buffer).setUint32(22, crc, true);
  return page;
}

const OPUS_PRE_SKIP = 312;

/**
 * Ogg Opus of silence lasting at least `durationSeconds`: OpusHead, OpusTags, then 20 ms packets that
 * are a TOC byte only (CELT fullband, mono, one empty frame, which decoders play as silence), 50 to a page.
 */
export function silentOggOpus(durationSeconds: number): Uint8Array {
  const serial = 0x42494c58;
  const head = new Uint8Array(19);
  head.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 1, 1]);
  new DataView(head.buffer).setUint16(10, OPUS_PRE_SKIP, true);
  new DataView(head.buffer).setUint32(12, 48000, true);
  const vendor = new TextEncoder().encode("billx speech fake");
  const tags = new Uint8Array(8 + 4 + vendor.byteLength + 4);
  tags.set(new TextEncoder().encode("OpusTags"));
  new DataView(tags.buffer).setUint32(8, vendor.byteLength, true);
  tags.set(vendor, 12);
  const pages = [oggPage([head], 0x02, 0, serial, 0), oggPage([tags], 0, 0, serial, 1)];
  const packets = Math.max(1, Math.ceil(durationSeconds / 0.02));
  for (let first = 0, sequence = 2; first < packets; first += 50, sequence++) {
    const count = Math.min(50, packets - first);
    const last = first + count >= packets;
    const granule = OPUS_PRE_SKIP + (first + count) * 960;
    pages.push(
      oggPage(
        Array.from({ length: count }, () => Uint8Array.of(0xf8)),
        last ? 0x04 : 0,
        granule,
        serial,
        sequence,
      ),
    );
  }
  return concatBytes(pages);
}

/** Duration of an Ogg Opus stream by its last page's granule position; undefined unless it starts with OpusHead. */
export function parseOggOpus(bytes: Uint8Array): { durationSeconds: number; pages: number } | undefined {
  if (text4(bytes, 0) !== "OggS" || text4(bytes, 28) !== "Opus") return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const preSkip = view.getUint16(28 + 10, true);
  let at = 0;
  let pages = 0;
  let granule = 0;
  while (at + 27 <= bytes.byteLength && text4(bytes, at) === "OggS") {
    granule = Number(view.getBigUint64(at + 6, true));
    const segments = bytes[at + 26] as number;
    let size = 27 + segments;
    for (let i = 0; i < segments; i++) size += bytes[at + 27 + i] as number;
    at += size;
    pages++;
  }
  if (at !== bytes.byteLength) return undefined;
  return { durationSeconds: (granule - preSkip) / 48000, pages };
}

const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * ADTS AAC-LC of silence, mono, lasting at least `durationSeconds`: 1024-sample frames, each a 7-byte
 * ADTS header and a raw data block holding one channel element with no scale-factor bands, then END.
 */
export function silentAdtsAac(durationSeconds: number, sampleRate = 24000): Uint8Array {
  const rateIndex = ADTS_RATES.indexOf(sampleRate);
  if (rateIndex < 0) throw new Error(`ADTS has no sampling frequency index for ${sampleRate} Hz`);
  // SCE tag 0, global_gain 0, ics_info long window with max_sfb 0, no pulse/TNS/gain control, then ID_END.
  const block = Uint8Array.of(0x00, 0x00, 0x00, 0x07);
  const length = 7 + block.byteLength;
  const frame = new Uint8Array(length);
  frame.set([0xff, 0xf1, (1 << 6) | (rateIndex << 2), (1 << 6) | (length >> 11), (length >> 3) & 0xff, ((length & 0x07) << 5) | 0x1f, 0xfc]);
  frame.set(block, 7);
  const frames = Math.max(1, Math.ceil((durationSeconds * sampleRate) / 1024));
  return concatBytes(Array.from({ length: frames }, () => frame));
}

/** Walks ADTS frames; undefined unless the bytes are nothing but ADTS frames. */
export function parseAdts(bytes: Uint8Array): { frames: number; sampleRate: number; durationSeconds: number; frameOffsets: number[] } | undefined {
  let at = 0;
  let sampleRate = 0;
  const frameOffsets: number[] = [];
  while (at + 7 <= bytes.byteLength) {
    if (bytes[at] !== 0xff || ((bytes[at + 1] as number) & 0xf6) !== 0xf0) return undefined;
    sampleRate = ADTS_RATES[((bytes[at + 2] as number) >> 2) & 0x0f] ?? 0;
    const length = (((bytes[at + 3] as number) & 0x03) << 11) | ((bytes[at + 4] as number) << 3) | ((bytes[at + 5] as number) >> 5);
    if (!sampleRate || length < 7) return undefined;
    frameOffsets.push(at);
    at += length;
  }
  if (frameOffsets.length === 0 || at !== bytes.byteLength) return undefined;
  return { frames: frameOffsets.length, sampleRate, durationSeconds: (frameOffsets.length * 1024) / sampleRate, frameOffsets };
}

// ---------------------------------------------------------------- fake speech

/** Seconds a fake voice takes to say `text`: one burst per word sized to its letters, short gaps, lead-in and tail. */
export function speechDurationSeconds(text: string, speed = 1): number {
  return speechPlan(text, speed).total;
}

function speechPlan(text: string, speed: number) {
  const words = text.split(/\s+/).filter(Boolean);
  const lead = 0.1 / speed;
  const gap = 0.07 / speed;
  const bursts: { start: number; length: number; frequency: number }[] = [];
  let t = lead;
  for (const [index, word] of words.entries()) {
    const length = Math.max(0.12, 0.06 * [...word].length) / speed;
    bursts.push({ start: t, length, frequency: 180 + ((index * 37 + word.length * 53) % 160) });
    t += length + gap;
  }
  return { bursts, total: Math.max(0.3 / speed, t - gap + lead) };
}

/**
 * Plainly fake speech for `text` at `sampleRate`: a tone burst per word (raised-cosine envelope,
 * 30% of full scale) with silence between, so its length and loudness behave like speech.
 */
export function synthesizeSpeech(text: string, sampleRate: number, speed = 1): Int16Array {
  const plan = speechPlan(text, speed);
  const out = new Int16Array(Math.round(plan.total * sampleRate));
  for (const burst of plan.bursts) {
    const first = Math.round(burst.start * sampleRate);
    const count = Math.round(burst.length * sampleRate);
    for (let i = 0; i < count && first + i < out.length; i++) {
      const envelope = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / count);
      out[first + i] = Math.round(9830 * envelope * Math.sin((2 * Math.PI * burst.frequency * i) / sampleRate));
    }
  }
  return out;
}

export type SpeechFormat =
  | { kind: "mp3"; sampleRate: number; kbps: number }
  | { kind: "flac"; sampleRate: number }
  | { kind: "opus" }
  | { kind: "aac"; sampleRate: number }
  | { kind: "pcm"; sampleRate: number }
  | { kind: "wav"; sampleRate: number }
  | { kind: "ulaw"; sampleRate: 8000 };

export interface RenderedSpeech {
  bytes: Uint8Array;
  contentType: string;
  durationSeconds: number;
  /** Where a stream may be cut: frame boundaries for MP3, whole samples for PCM, after the header for WAV. */
  chunking: { align?: number; boundaries?: number[]; headerBytes?: number };
}

/**
 * Fake speech for `text` as real audio of `format`: PCM16/WAV/u-law/FLAC carry the tone bursts of
 * `synthesizeSpeech`; MP3, Ogg Opus and AAC are silent frames of the same length.
 */
export function renderSpeech(text: string, format: SpeechFormat, speed = 1): RenderedSpeech {
  if (format.kind === "mp3") {
    const bytes = silentMp3(speechDurationSeconds(text, speed), format.sampleRate, format.kbps);
    const parsed = parseMp3(bytes) as ParsedMp3;
    return { bytes, contentType: "audio/mpeg", durationSeconds: parsed.durationSeconds, chunking: { boundaries: parsed.frameOffsets } };
  }
  if (format.kind === "opus") {
    const bytes = silentOggOpus(speechDurationSeconds(text, speed));
    return { bytes, contentType: "audio/opus", durationSeconds: parseOggOpus(bytes)?.durationSeconds ?? 0, chunking: {} };
  }
  if (format.kind === "aac") {
    const bytes = silentAdtsAac(speechDurationSeconds(text, speed), format.sampleRate);
    const parsed = parseAdts(bytes);
    return { bytes, contentType: "audio/aac", durationSeconds: parsed?.durationSeconds ?? 0, chunking: { boundaries: parsed?.frameOffsets ?? [] } };
  }
  const samples = synthesizeSpeech(text, format.sampleRate, speed);
  const durationSeconds = samples.length / format.sampleRate;
  if (format.kind === "flac") return { bytes: writeFlac(samples, format.sampleRate), contentType: "audio/flac", durationSeconds, chunking: {} };
  if (format.kind === "ulaw") return { bytes: mulawEncode(samples), contentType: "audio/basic", durationSeconds, chunking: {} };
  if (format.kind === "wav")
    return { bytes: writeWav(samples, format.sampleRate), contentType: "audio/wav", durationSeconds, chunking: { align: 2, headerBytes: 44 } };
  return { bytes: pcm16Bytes(samples), contentType: "audio/pcm", durationSeconds, chunking: { align: 2 } };
}

// ---------------------------------------------------------------- reading uploads

/** Root mean square of samples, as a fraction of full scale (0..1). */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length) / 32768;
}

/** Silence: RMS under `threshold` of full scale (default 0.003, about -50 dBFS). */
export function isSilence(samples: Int16Array, threshold = 0.003): boolean {
  return rms(samples) < threshold;
}

export type AudioContainer = "wav" | "mp3" | "ulaw" | "pcm" | "ogg" | "flac" | "aac" | "webm" | "mp4";

export interface UploadedAudio {
  container: AudioContainer;
  sampleRate: number | undefined;
  durationSeconds: number;
  /** Whether it is silence; null when the fake does not decode the encoding (flac, ogg, aac, webm, mp4). */
  silent: boolean | null;
  /** The encoded audio without its container header (a WAV's data chunk), for transcript look-ups. */
  payload: Uint8Array;
}

/** Raw audio has no header: the caller says what it is (a file_format field, a .ulaw name, audio/basic). */
export type RawAudioHint = { kind: "ulaw"; sampleRate: number } | { kind: "pcm16"; sampleRate: number };

/**
 * What an uploaded file is, by its bytes (WAV, MP3, FLAC, Ogg, ADTS AAC, WebM, MP4) or, for headerless
 * audio, by `raw`. Undefined when it is not audio.
 */
export function inspectAudio(bytes: Uint8Array, raw?: RawAudioHint): UploadedAudio | undefined {
  if (bytes.byteLength === 0) return undefined;
  if (raw?.kind === "ulaw") {
    return {
      container: "ulaw",
      sampleRate: raw.sampleRate,
      durationSeconds: bytes.byteLength / raw.sampleRate,
      silent: isSilence(mulawDecode(bytes)),
      payload: bytes,
    };
  }
  if (raw?.kind === "pcm16") {
    const samples = pcm16Samples(bytes);
    return { container: "pcm", sampleRate: raw.sampleRate, durationSeconds: samples.length / raw.sampleRate, silent: isSilence(samples), payload: bytes };
  }
  const wav = parseWav(bytes);
  if (wav) {
    return {
      container: "wav",
      sampleRate: wav.sampleRate,
      durationSeconds: wav.durationSeconds,
      silent: wav.samples ? isSilence(wav.samples) : null,
      payload: wav.data,
    };
  }
  const mp3 = parseMp3(bytes);
  if (mp3) return { container: "mp3", sampleRate: mp3.sampleRate, durationSeconds: mp3.durationSeconds, silent: mp3.silent, payload: bytes };
  const flac = parseFlacInfo(bytes);
  if (flac) return { container: "flac", sampleRate: flac.sampleRate, durationSeconds: flac.durationSeconds, silent: null, payload: bytes };
  const opus = parseOggOpus(bytes);
  if (opus) return { container: "ogg", sampleRate: 48000, durationSeconds: opus.durationSeconds, silent: null, payload: bytes };
  const adts = parseAdts(bytes);
  if (adts) return { container: "aac", sampleRate: adts.sampleRate, durationSeconds: adts.durationSeconds, silent: null, payload: bytes };
  const signature = text4(bytes, 0);
  const container: AudioContainer | undefined =
    signature === "OggS" ? "ogg" : signature === "\x1a\x45\xdf\xa3" ? "webm" : text4(bytes, 4) === "ftyp" ? "mp4" : undefined;
  if (!container) return undefined;
  // Not decoded here: estimate the length as 128 kbit/s.
  return { container, sampleRate: undefined, durationSeconds: bytes.byteLength / 16000, silent: null, payload: bytes };
}

export interface TimedWord {
  word: string;
  start: number;
  end: number;
}

/** Words of `text` spread over `durationSeconds` by their length, after a short lead-in and before a short tail. */
export function spreadWords(text: string, durationSeconds: number): TimedWord[] {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length === 0 || durationSeconds <= 0) return [];
  const margin = Math.min(0.1, durationSeconds * 0.05);
  const span = durationSeconds - 2 * margin;
  // One unit of gap after each word but the last.
  const units = words.reduce((sum, w) => sum + [...w].length, 0) + (words.length - 1);
  const perUnit = span / units;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  let t = margin;
  return words.map((word) => {
    const start = t;
    const end = t + [...word].length * perUnit;
    t = end + perUnit;
    return { word, start: round(start), end: round(Math.min(end, durationSeconds)) };
  });
}

// ---------------------------------------------------------------- transcripts

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface RegisteredTranscript {
  text: string;
  /** ISO 639-1 ("en"), as tests register it; each fake answers in its provider's own form. */
  language?: string;
}

export interface Transcript {
  text: string;
  language: string | undefined;
  /** Why this text: the registry knew the audio, it was silence, or neither (the fake's fixed text). */
  source: "registered" | "silence" | "unknown";
}

/**
 * What tests registered for which audio, keyed by the SHA-256 of the uploaded file's bytes. A WAV also
 * matches by its data chunk, so u-law registered as a raw `.ulaw` file is still known inside a u-law WAV.
 */
export class TranscriptRegistry {
  private readonly bySha = new Map<string, RegisteredTranscript>();

  register(sha256: string, transcript: RegisteredTranscript) {
    this.bySha.set(sha256.toLowerCase(), transcript);
  }

  /** The transcript of an upload: registered, else "" for silence, else `unknownText`. */
  transcribe(file: Uint8Array, audio: UploadedAudio, unknownText: string): Transcript {
    const registered = this.bySha.get(sha256Hex(file)) ?? (audio.payload === file ? undefined : this.bySha.get(sha256Hex(audio.payload)));
    if (registered) return { text: registered.text, language: registered.language, source: "registered" };
    if (audio.silent) return { text: "", language: undefined, source: "silence" };
    return { text: unknownText, language: undefined, source: "unknown" };
  }
}

/** ISO 639-1 to ISO 639-3 (ElevenLabs answers `eng`) and to the English name (Whisper answers `english`). */
const LANGUAGES: Record<string, [string, string]> = {
  en: ["eng", "english"],
  es: ["spa", "spanish"],
  fr: ["fra", "french"],
  de: ["deu", "german"],
  it: ["ita", "italian"],
  pt: ["por", "portuguese"],
  nl: ["nld", "dutch"],
  hi: ["hin", "hindi"],
  ar: ["ara", "arabic"],
  zh: ["cmn", "chinese"],
  ja: ["jpn", "japanese"],
  ru: ["rus", "russian"],
};

export function languageCode3(language: string | undefined): string {
  const key = (language ?? "en").toLowerCase();
  return LANGUAGES[key]?.[0] ?? key;
}

export function languageName(language: string | undefined): string {
  const key = (language ?? "en").toLowerCase();
  return LANGUAGES[key]?.[1] ?? Object.values(LANGUAGES).find(([code3]) => code3 === key)?.[1] ?? key;
}

// ---------------------------------------------------------------- streaming

/** `bytes` cut into about `count` chunks whose inner boundaries are at `boundaries` (sorted offsets) or multiples of `align`. */
export function chunkAudio(bytes: Uint8Array, count: number, options: { align?: number; boundaries?: number[]; headerBytes?: number } = {}): Uint8Array[] {
  const { align = 1, headerBytes = 0 } = options;
  const target = Math.max(1, Math.ceil((bytes.byteLength - headerBytes) / count));
  const cuts: number[] = [];
  let next = headerBytes + target;
  for (const candidate of options.boundaries ?? []) {
    if (candidate >= next && candidate < bytes.byteLength) {
      cuts.push(candidate);
      next = candidate + target;
    }
  }
  if (!options.boundaries) {
    for (let at = headerBytes + target; at < bytes.byteLength; at += target) {
      const aligned = headerBytes + Math.floor((at - headerBytes) / align) * align;
      if (aligned > (cuts.at(-1) ?? 0)) cuts.push(aligned);
    }
  }
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}
