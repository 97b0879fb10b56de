import type { DocumentKind } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { openai } from "../../../providers/openai";
import { decodeText } from "./sniff";

export interface ExtractedText {
  title: string | null;
  text: string;
}

/** The file cannot give text, whatever a retry does; its message is shown to the user as `failure_reason`. */
export class ExtractionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExtractionError";
  }
}

// A PDF whose pages give fewer letters than this has no usable text layer (a scan).
const MIN_PDF_TEXT_CHARACTERS = 20;
const TITLE_MAX = 200;

/** The text and title of a file of a sniffed kind. */
export async function extractText(ctx: ServiceCtx, kind: DocumentKind, bytes: Uint8Array, filename: string): Promise<ExtractedText> {
  if (kind === "pdf") return extractPdf(ctx, bytes, filename);
  const text = decodeText(bytes);
  if (text === null) throw new ExtractionError("The file is not UTF-8 text.");
  if (kind === "html") return extractHtml(text);
  if (kind === "md") return extractMarkdown(text);
  return { title: firstLine(text), text };
}

async function extractPdf(ctx: ServiceCtx, bytes: Uint8Array, filename: string): Promise<ExtractedText> {
  // pdf.js is large: loaded only when a PDF arrives.
  const { extractText: pdfText, getDocumentProxy, getMeta } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(bytes.slice());
  } catch (error) {
    if (error instanceof Error && error.name === "PasswordException") {
      throw new ExtractionError("The PDF is encrypted (password-protected); upload a copy without a password.");
    }
    throw new ExtractionError("The file is not a readable PDF (damaged or truncated).");
  }
  try {
    const [{ text }, meta] = await Promise.all([pdfText(pdf, { mergePages: true }), getMeta(pdf).catch(() => null)]);
    const info = (meta?.info ?? {}) as { Title?: unknown };
    const metaTitle = typeof info.Title === "string" && info.Title.trim() ? info.Title.trim().slice(0, TITLE_MAX) : null;
    if (text.replace(/\s+/g, "").length >= MIN_PDF_TEXT_CHARACTERS) return { title: metaTitle ?? firstLine(text), text };
    const scanned = await transcribeScannedPdf(ctx, bytes, filename);
    return { title: metaTitle ?? firstLine(scanned), text: scanned };
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}

/**
 * A scanned PDF has pictures of text only: a vision model (any OpenAI-compatible endpoint that
 * reads PDF file parts, e.g. Gemini's) transcribes it when one is configured.
 */
async function transcribeScannedPdf(ctx: ServiceCtx, bytes: Uint8Array, filename: string): Promise<string> {
  const vision = ctx.config.knowledge.vision;
  if (!vision) {
    throw new ExtractionError(
      "The PDF has no text layer (a scan). Set KNOWLEDGE_VISION_BASE_URL and KNOWLEDGE_VISION_API_KEY to transcribe scans, or upload a PDF with selectable text.",
    );
  }
  const client = openai({ ...ctx.config, openai: { apiKey: vision.apiKey, baseUrl: vision.baseUrl } });
  const result = await client.chat({
    model: vision.model,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "Transcribe all text of this document, page by page, as plain text. Answer with the text only." },
          { type: "file", file: { filename, file_data: `data:application/pdf;base64,${toBase64(bytes)}` } },
        ],
      },
    ],
  });
  const text = result.content?.trim() ?? "";
  if (text.length < MIN_PDF_TEXT_CHARACTERS) throw new ExtractionError("The PDF has no text layer and the vision model found no text in it.");
  return text;
}

/** Visible text of a page (HTMLRewriter, the runtime's streaming parser): scripts, styles and the head left out; blocks on their own lines. */
async function extractHtml(html: string): Promise<ExtractedText> {
  let title = "";
  let hidden = 0;
  const parts: string[] = [];
  const hide = {
    element(element: Element) {
      hidden++;
      element.onEndTag(() => {
        hidden--;
      });
    },
  };
  const block = {
    element(element: Element) {
      parts.push("\n");
      element.onEndTag(() => void parts.push("\n"));
    },
  };
  const rewriter = new HTMLRewriter()
    .on("title", {
      text(chunk) {
        title += chunk.text;
      },
    })
    .on("head, script, style, noscript, template, svg", hide)
    .on("br", { element: () => void parts.push("\n") })
    .on("p, div, li, tr, h1, h2, h3, h4, h5, h6, section, article, header, footer, blockquote, pre, table, ul, ol, dd, dt", block)
    .onDocument({ text: (chunk) => void (hidden === 0 && parts.push(chunk.text)) });
  await rewriter.transform(new Response(html)).arrayBuffer();
  const text = decodeEntities(parts.join(""))
    .replace(/[ \t\f\v\u00a0]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  const cleanTitle = decodeEntities(title).replace(/\s+/g, " ").trim();
  return { title: cleanTitle ? cleanTitle.slice(0, TITLE_MAX) : firstLine(text), text };
}

/** Markdown as prose: markers dropped, link text kept; the first heading is the title. */
function extractMarkdown(markdown: string): ExtractedText {
  const heading = markdown.match(/^#{1,6}\s+(.+?)\s*#*\s*$/m)?.[1];
  const text = markdown
    .replace(/^```.*$/gm, "")
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/^#{1,6}\s+/gm, "")
    .replace(/^\s*[-*+]\s+/gm, "")
    .replace(/(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1/g, "$2");
  return { title: heading ? heading.slice(0, TITLE_MAX) : firstLine(text), text };
}

function firstLine(text: string): string | null {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  return line ? line.slice(0, TITLE_MAX) : null;
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : "";
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
