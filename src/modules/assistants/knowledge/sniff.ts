import type { DocumentKind } from "../../../db/schema";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * What a file is, from its bytes: a client's name or Content-Type is never trusted. PDF by its
 * `%PDF-` header; anything else must be UTF-8 text with no NUL (images, archives and office files
 * fail that) and is HTML when it starts like a page, Markdown when the name says .md or the text
 * has Markdown structure, else plain text. Null when the bytes are none of these.
 */
export function sniffKind(bytes: Uint8Array, filename: string): DocumentKind | null {
  if (startsWith(bytes, "%PDF-")) return "pdf";
  const text = decodeText(bytes);
  if (text === null) return null;
  const head = text.slice(0, 1024).trimStart().toLowerCase();
  if (head.startsWith("<!doctype html") || head.startsWith("<html") || /^<(head|body|meta|title)[\s>]/.test(head)) return "html";
  if (/\.(md|markdown)$/i.test(filename) || looksLikeMarkdown(text)) return "md";
  return "txt";
}

/** UTF-8 text without its BOM, or null when the bytes are not UTF-8 or contain NUL. */
export function decodeText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return utf8.decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    return null;
  }
}

function startsWith(bytes: Uint8Array, ascii: string): boolean {
  if (bytes.length < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[i] !== ascii.charCodeAt(i)) return false;
  return true;
}

// Headings, fenced code or links in the first lines: enough to read it as Markdown.
function looksLikeMarkdown(text: string): boolean {
  const head = text.slice(0, 4096);
  return /^#{1,6} \S/m.test(head) || /^```/m.test(head) || /\[[^\]\n]+\]\([^)\s]+\)/.test(head);
}
