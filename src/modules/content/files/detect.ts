/**
 * What an uploaded file is, decided from its bytes alone (a client's name and declared type are
 * only checked against it), and the pixel size of an image from its header. Dependency-free.
 *
 * Text is the one family bytes cannot split: valid UTF-8 without NUL is text, and its name
 * decides between CSV and plain text. A `.csv` must have a consistent delimiter (`,`, `;` or
 * tab: the same number of them on each of its first lines, at least one, at least two lines);
 * otherwise it is refused rather than stored as something it is not.
 */

export type FileKind = "image" | "document" | "video" | "audio";

export interface DetectedType {
  kind: FileKind;
  contentType: string;
  /** Extensions a file of this type may carry, lower case, the usual one first. */
  extensions: readonly string[];
}

const TYPES = {
  png: { kind: "image", contentType: "image/png", extensions: ["png"] },
  jpeg: { kind: "image", contentType: "image/jpeg", extensions: ["jpg", "jpeg", "jpe"] },
  webp: { kind: "image", contentType: "image/webp", extensions: ["webp"] },
  gif: { kind: "image", contentType: "image/gif", extensions: ["gif"] },
  pdf: { kind: "document", contentType: "application/pdf", extensions: ["pdf"] },
  csv: { kind: "document", contentType: "text/csv", extensions: ["csv"] },
  text: { kind: "document", contentType: "text/plain", extensions: ["txt", "text", "log", "md"] },
  mp4: { kind: "video", contentType: "video/mp4", extensions: ["mp4", "m4v"] },
  webm: { kind: "video", contentType: "video/webm", extensions: ["webm"] },
  mp3: { kind: "audio", contentType: "audio/mpeg", extensions: ["mp3"] },
  wav: { kind: "audio", contentType: "audio/wav", extensions: ["wav"] },
} as const satisfies Record<string, DetectedType>;

/** Every content type the detector can answer, for documentation. */
export const DETECTED_CONTENT_TYPES = Object.values(TYPES).map((type) => type.contentType);

function ascii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (bytes.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

function hasPrefix(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}

// An MPEG audio frame header: 11 sync bits, a version that is not "reserved" (01), a layer that is not reserved (00).
function isMp3FrameSync(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0xff) return false;
  const second = bytes[1] ?? 0;
  return (second & 0xe0) === 0xe0 && (second & 0x18) !== 0x08 && (second & 0x06) !== 0x00;
}

function binaryType(bytes: Uint8Array): DetectedType | null {
  if (hasPrefix(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return TYPES.png;
  if (hasPrefix(bytes, [0xff, 0xd8, 0xff])) return TYPES.jpeg;
  if (ascii(bytes, 0, "GIF87a") || ascii(bytes, 0, "GIF89a")) return TYPES.gif;
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WEBP")) return TYPES.webp;
  if (ascii(bytes, 0, "RIFF") && ascii(bytes, 8, "WAVE")) return TYPES.wav;
  if (ascii(bytes, 0, "%PDF-")) return TYPES.pdf;
  if (ascii(bytes, 4, "ftyp")) return TYPES.mp4;
  if (hasPrefix(bytes, [0x1a, 0x45, 0xdf, 0xa3])) return TYPES.webm;
  if (ascii(bytes, 0, "ID3") || isMp3FrameSync(bytes)) return TYPES.mp3;
  return null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The text of valid UTF-8 bytes without NUL (BOM dropped), else null. */
function utf8Text(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return utf8.decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    return null;
  }
}

const CSV_DELIMITERS = [",", ";", "\t"] as const;
const CSV_LINES_CHECKED = 20;

/** Whether the first lines of `text` share one delimiter, the same number of times on each line. */
export function hasConsistentDelimiter(text: string): boolean {
  const lines = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(0, CSV_LINES_CHECKED);
  if (lines.length < 2) return false;
  return CSV_DELIMITERS.some((delimiter) => {
    const counts = lines.map((line) => line.split(delimiter).length - 1);
    return counts[0]! > 0 && counts.every((count) => count === counts[0]);
  });
}

/** The lower-case extension of a file name, or null when it has none. */
export function extensionOf(filename: string): string | null {
  const match = /\.([A-Za-z0-9]{1,10})$/.exec(filename);
  return match ? match[1]!.toLowerCase() : null;
}

export type Detection = { ok: true; type: DetectedType } | { ok: false; reason: string };

/**
 * The type of `bytes` and whether `filename` agrees with it: a name with an extension must carry
 * one of the detected type's; a name without one is accepted. Unknown bytes, and a `.csv` that
 * is not consistent CSV, are refusals with the reason.
 */
export function detectFileType(bytes: Uint8Array, filename: string): Detection {
  const extension = extensionOf(filename);
  let type = binaryType(bytes);
  if (!type) {
    const text = utf8Text(bytes);
    if (text === null) return { ok: false, reason: "the content is not a PNG, JPEG, WebP, GIF, PDF, MP4, WebM, MP3, WAV, CSV or plain text file" };
    if (extension === "csv") {
      if (!hasConsistentDelimiter(text)) return { ok: false, reason: "the content is not CSV: its lines do not share one delimiter (comma, semicolon or tab)" };
      type = TYPES.csv;
    } else {
      type = TYPES.text;
    }
  }
  if (extension !== null && !type.extensions.includes(extension)) {
    return { ok: false, reason: `the content is ${type.contentType} but the name ends in .${extension}` };
  }
  return { ok: true, type };
}

export interface PixelSize {
  width: number;
  height: number;
}

function u16be(bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
}
function u16le(bytes: Uint8Array, at: number): number {
  return (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
}
function u24le(bytes: Uint8Array, at: number): number {
  return u16le(bytes, at) | ((bytes[at + 2] ?? 0) << 16);
}
function u32be(bytes: Uint8Array, at: number): number {
  return u16be(bytes, at) * 0x10000 + u16be(bytes, at + 2);
}

// JPEG start-of-frame markers (baseline, progressive, lossless...): not DHT (C4), JPG (C8) or DAC (CC).
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegSize(bytes: Uint8Array): PixelSize | null {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] ?? 0;
    // Fill bytes and standalone markers carry no length.
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (JPEG_SOF.has(marker)) return { height: u16be(bytes, at + 5), width: u16be(bytes, at + 7) };
    if (marker === 0xd9 || marker === 0xda) return null;
    at += 2 + u16be(bytes, at + 2);
  }
  return null;
}

function webpSize(bytes: Uint8Array): PixelSize | null {
  if (ascii(bytes, 12, "VP8X")) return { width: u24le(bytes, 24) + 1, height: u24le(bytes, 27) + 1 };
  if (ascii(bytes, 12, "VP8L") && bytes[20] === 0x2f) {
    const bits = (bytes[21] ?? 0) | ((bytes[22] ?? 0) << 8) | ((bytes[23] ?? 0) << 16) | ((bytes[24] ?? 0) << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  // Lossy: after the frame tag, the start code 9D 01 2A, then 14-bit width and height.
  if (ascii(bytes, 12, "VP8 ") && bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a) {
    return { width: u16le(bytes, 26) & 0x3fff, height: u16le(bytes, 28) & 0x3fff };
  }
  return null;
}

/** Width and height from an image's header, or null when the header does not say (or is damaged). */
export function imageSize(bytes: Uint8Array, contentType: string): PixelSize | null {
  let size: PixelSize | null = null;
  if (contentType === "image/png" && ascii(bytes, 12, "IHDR")) size = { width: u32be(bytes, 16), height: u32be(bytes, 20) };
  else if (contentType === "image/gif" && bytes.length >= 10) size = { width: u16le(bytes, 6), height: u16le(bytes, 8) };
  else if (contentType === "image/jpeg") size = jpegSize(bytes);
  else if (contentType === "image/webp") size = webpSize(bytes);
  if (!size || size.width <= 0 || size.height <= 0 || size.width > 1_000_000 || size.height > 1_000_000) return null;
  return size;
}
