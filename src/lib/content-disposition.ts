/**
 * A `Content-Disposition` header that is safe for any stored name (RFC 6266): an ASCII-only
 * `filename` fallback with quotes, backslashes and control characters replaced, and the exact
 * name as UTF-8 in `filename*` (RFC 8187 percent-encoding), which every current browser prefers.
 */
export function contentDisposition(disposition: "inline" | "attachment", filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_") || "file";
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
