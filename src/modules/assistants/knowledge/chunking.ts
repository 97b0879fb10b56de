/**
 * Splits document text into retrieval chunks. Pure and dependency-free: the ingest pipeline
 * calls it on text extracted from uploads, and the same text always yields the same chunks.
 */

export interface ChunkOptions {
  /** Largest chunk in characters (UTF-16 code units); default 512. */
  size?: number;
  /** Characters of the previous chunk repeated at the start of the next, cut at a word; default 64. */
  overlap?: number;
}

const DEFAULT_SIZE = 512;
const DEFAULT_OVERLAP = 64;
const PARAGRAPH_BREAK = "\n\n";

/** A piece that fits in one chunk, and whether it begins a paragraph (joined by a blank line then). */
interface Unit {
  text: string;
  paragraphStart: boolean;
}

export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const size = options.size ?? DEFAULT_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const requestedOverlap = options.overlap ?? DEFAULT_OVERLAP;
  if (!Number.isInteger(requestedOverlap) || requestedOverlap < 0)
    throw new RangeError(`chunk overlap must be a non-negative integer, got ${requestedOverlap}`);
  // An overlap as long as the chunk would leave no room for new text.
  const overlap = Math.min(requestedOverlap, Math.floor(size / 2));

  const units = paragraphs(text).flatMap((paragraph) => splitToFit(paragraph, size));
  return pack(units, size, overlap);
}

/** Control characters out (except newline and tab), whitespace collapsed, blank lines kept as paragraph breaks. */
function paragraphs(text: string): string[] {
  const cleaned = text
    .replace(/\r\n?/g, "\n")
    // Form feed (a page break in extracted PDFs) ends a paragraph; vertical tab is a line break.
    .replace(/\f/g, "\n\n")
    .replace(/\v/g, "\n")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
    .replace(/[\u0000-\u0008\u000E-\u001F\u007F-\u009F]/g, "");
  return cleaned
    .split(/\n[^\S\n]*\n\s*/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter((p) => p !== "");
}

/** A paragraph as units of at most `size`: whole, else by sentence, else by word, else hard-split. */
function splitToFit(paragraph: string, size: number): Unit[] {
  const pieces = paragraph.length <= size ? [paragraph] : sentences(paragraph).flatMap((s) => (s.length <= size ? [s] : words(s, size)));
  return pieces.map((piece, i) => ({ text: piece, paragraphStart: i === 0 }));
}

function sentences(paragraph: string): string[] {
  // After . ! ? … followed by a space, or after CJK full stops (which take no space).
  return paragraph
    .split(/(?<=[.!?…])\s+|(?<=[。！？])/u)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function words(sentence: string, size: number): string[] {
  return sentence.split(" ").flatMap((word) => (word.length <= size ? [word] : hardSplit(word, size)));
}

/** Cuts a word longer than `size` into pieces, never between the two halves of a surrogate pair. */
function hardSplit(word: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < word.length) {
    let end = Math.min(start + size, word.length);
    if (end < word.length && end - start > 1 && isHighSurrogate(word.charCodeAt(end - 1))) end--;
    pieces.push(word.slice(start, end));
    start = end;
  }
  return pieces;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Greedy packing: units fill a chunk up to `size`; each new chunk opens with the previous chunk's tail. */
function pack(units: Unit[], size: number, overlap: number): string[] {
  const chunks: string[] = [];
  let current = "";
  for (const unit of units) {
    const separator = unit.paragraphStart ? PARAGRAPH_BREAK : " ";
    if (current === "") {
      current = unit.text;
      continue;
    }
    if (current.length + separator.length + unit.text.length <= size) {
      current += separator + unit.text;
      continue;
    }
    chunks.push(current);
    let tail = overlapTail(current, overlap);
    // The tail gives way to the new text: drop its first word until both fit.
    while (tail !== "" && tail.length + separator.length + unit.text.length > size) tail = dropFirstWord(tail);
    current = tail === "" ? unit.text : tail + separator + unit.text;
  }
  if (current !== "") chunks.push(current);
  return chunks;
}

/** The last at most `overlap` characters of `chunk`, starting at a word. */
function overlapTail(chunk: string, overlap: number): string {
  if (overlap === 0) return "";
  const from = chunk.length - overlap;
  if (from <= 0) return chunk;
  // The tail starts right after a whitespace at or after `from - 1`, so no word is cut.
  const rest = chunk.slice(from - 1);
  const boundary = rest.search(/\s/);
  return boundary === -1 ? "" : rest.slice(boundary).trimStart();
}

function dropFirstWord(text: string): string {
  const boundary = text.search(/\s/);
  return boundary === -1 ? "" : text.slice(boundary).trimStart();
}
