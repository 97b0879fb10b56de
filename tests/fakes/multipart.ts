/**
 * A small multipart/form-data parser (RFC 7578) for the fakes: it works on the raw request bytes,
 * so an uploaded file keeps its binary content exactly; text fields are decoded as UTF-8.
 */

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export interface MultipartForm {
  parts: MultipartPart[];
  /** The first text value of a field (a part without a filename), if any. */
  field(name: string): string | undefined;
  /** Every text value of a field, in order (`timestamp_granularities[]` repeats). */
  fields(name: string): string[];
  /** The first part named `name` that carries a filename (a file upload). */
  file(name: string): MultipartPart | undefined;
}

/** The boundary of a `multipart/form-data` content type, or undefined when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** Parses a body; undefined when the content type is not multipart or the body does not follow it. */
export function parseMultipart(body: Buffer, contentType: string | undefined): MultipartForm | undefined {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (;;) {
    at += delimiter.length;
    // "--" after a delimiter closes the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) break;
    // The rest of the delimiter line (transport padding, then CRLF).
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const headersEnd = body.indexOf("\r\n\r\n", lineEnd);
    if (headersEnd < 0) return undefined;
    const headers = parseHeaders(body.subarray(lineEnd + 2, headersEnd).toString("utf8"));
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), headersEnd + 4);
    if (next < 0) return undefined;
    const disposition = headers.get("content-disposition") ?? "";
    const name = dispositionParam(disposition, "name");
    if (name !== undefined) {
      parts.push({
        name,
        filename: dispositionParam(disposition, "filename"),
        contentType: headers.get("content-type"),
        data: body.subarray(headersEnd + 4, next),
      });
    }
    at = next + 2;
  }
  return {
    parts,
    field: (name) => parts.find((p) => p.name === name && p.filename === undefined)?.data.toString("utf8"),
    fields: (name) => parts.filter((p) => p.name === name && p.filename === undefined).map((p) => p.data.toString("utf8")),
    file: (name) => parts.find((p) => p.name === name && p.filename !== undefined),
  };
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** `name="file"` or `filename*=`-less `filename=x.wav` from a Content-Disposition value. */
function dispositionParam(disposition: string, key: string): string | undefined {
  const match = new RegExp(`;\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i").exec(disposition);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2]?.trim();
}
