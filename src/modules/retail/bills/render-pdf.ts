import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from "pdf-lib";
import type { BillDocument } from "./document";
import { documentHeading, formatMoney, formatQuantity, formatTaxRate, statusLabel, utcDate } from "./format";

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 48;
const TEXT_SIZE = 9;
const LINE_HEIGHT = 13;
const GREY = rgb(0.34, 0.38, 0.42);
const RULE = rgb(0.82, 0.84, 0.87);

/** Table columns: the item column is left-aligned and wraps; the others end (right-aligned) at `right`. */
const ITEM_X = MARGIN;
const ITEM_WIDTH = 240;
const COLUMNS = [
  { title: "Qty", right: 345 },
  { title: "Price", right: 412 },
  { title: "Discount", right: 470 },
  { title: "Tax", right: 500 },
  { title: "Amount", right: A4[0] - MARGIN },
] as const;

/**
 * Replaces what the standard fonts' WinAnsi encoding cannot draw (pdf-lib would throw): a
 * character with a drawable base letter keeps it (ő -> o), anything else becomes "?". Control
 * characters become spaces.
 */
function drawable(font: PDFFont, supported: Set<number>, text: string): string {
  let out = "";
  for (const char of text.normalize("NFC")) {
    const code = char.codePointAt(0) ?? 0;
    if (supported.has(code)) out += char;
    else if (/\s|\p{Cc}/u.test(char)) out += " ";
    else {
      const base = [...char.normalize("NFKD")].filter((c) => supported.has(c.codePointAt(0) ?? 0)).join("");
      out += base || "?";
    }
  }
  // The font's own check, should the character set and the encoder ever disagree.
  try {
    font.encodeText(out);
    return out;
  } catch {
    return out.replace(/[^\x20-\x7e]/g, "?");
  }
}

/** Splits one paragraph into lines no wider than `width`, between words, or inside a word too long for a line. */
function wrap(font: PDFFont, text: string, size: number, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    const candidate = line ? `${line} ${word}` : word;
    if (font.widthOfTextAtSize(candidate, size) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    let rest = word;
    while (rest.length > 1 && font.widthOfTextAtSize(rest, size) > width) {
      let cut = rest.length - 1;
      while (cut > 1 && font.widthOfTextAtSize(rest.slice(0, cut), size) > width) cut--;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    line = rest;
  }
  lines.push(line);
  return lines;
}

/** Writes pages top to bottom, starting a new page (with the table header again) when one is full. */
class PageWriter {
  page: PDFPage;
  y: number;
  private readonly supported: Set<number>;

  constructor(
    private readonly pdf: PDFDocument,
    readonly font: PDFFont,
    readonly bold: PDFFont,
  ) {
    this.supported = new Set(font.getCharacterSet());
    this.page = pdf.addPage(A4);
    this.y = A4[1] - MARGIN;
  }

  clean(text: string): string {
    return drawable(this.font, this.supported, text);
  }

  /** Moves down by `height`, first starting a new page if it would not fit. */
  reserve(height: number, onNewPage?: () => void): void {
    if (this.y - height >= MARGIN) return;
    this.page = this.pdf.addPage(A4);
    this.y = A4[1] - MARGIN;
    onNewPage?.();
  }

  text(text: string, x: number, options: { size?: number; bold?: boolean; grey?: boolean; alignRight?: boolean } = {}): void {
    const size = options.size ?? TEXT_SIZE;
    const font = options.bold ? this.bold : this.font;
    const clean = this.clean(text);
    const left = options.alignRight ? x - font.widthOfTextAtSize(clean, size) : x;
    this.page.drawText(clean, { x: left, y: this.y, size, font, color: options.grey ? GREY : rgb(0.12, 0.14, 0.16) });
  }

  rule(): void {
    this.page.drawLine({ start: { x: MARGIN, y: this.y }, end: { x: A4[0] - MARGIN, y: this.y }, thickness: 0.5, color: RULE });
  }
}

function tableHeader(writer: PageWriter): void {
  writer.text("Item", ITEM_X, { bold: true });
  for (const column of COLUMNS) writer.text(column.title, column.right, { bold: true, alignRight: true });
  writer.y -= 5;
  writer.rule();
  writer.y -= LINE_HEIGHT;
}

/**
 * The bill as a PDF, drawn in the Worker with pdf-lib and the standard Helvetica fonts (nothing
 * to download or embed). Amounts show the currency code, which any font can draw.
 */
export async function renderBillPdf(bill: BillDocument): Promise<Uint8Array<ArrayBuffer>> {
  const pdf = await PDFDocument.create();
  const title = `${documentHeading(bill)} from ${bill.orgName}`;
  pdf.setTitle(title.replace(/[^\x20-\x7e]/g, "?"));
  pdf.setProducer("Billx");
  pdf.setCreator("Billx");
  const writer = new PageWriter(pdf, await pdf.embedFont(StandardFonts.Helvetica), await pdf.embedFont(StandardFonts.HelveticaBold));
  const money = (amount: number) => formatMoney(amount, bill.currency, "code");
  const right = A4[0] - MARGIN;

  writer.text(statusLabel(bill.status), right, { size: 11, bold: true, alignRight: true });
  for (const line of wrap(writer.bold, writer.clean(bill.orgName), 18, right - MARGIN - 110)) {
    writer.text(line, MARGIN, { size: 18, bold: true });
    writer.y -= 22;
  }
  writer.text(documentHeading(bill), MARGIN, { size: 12, grey: true });
  writer.y -= 26;

  const details: [string, string][] = [
    ["Issued", bill.issuedAt ? utcDate(bill.issuedAt) : "Not issued"],
    ...(bill.dueDate ? ([["Due", bill.dueDate]] as [string, string][]) : []),
    ...(bill.customer ? ([["Billed to", bill.customer.name]] as [string, string][]) : []),
  ];
  for (const [label, value] of details) {
    writer.text(label, MARGIN, { grey: true });
    writer.text(value, MARGIN + 70);
    writer.y -= LINE_HEIGHT;
  }
  writer.y -= LINE_HEIGHT;

  tableHeader(writer);
  for (const line of bill.lines) {
    const descriptionLines = wrap(writer.font, writer.clean(line.description), TEXT_SIZE, ITEM_WIDTH);
    writer.reserve(descriptionLines.length * LINE_HEIGHT, () => tableHeader(writer));
    const cells = [
      `${formatQuantity(line.quantity)} ${line.unit}`,
      money(line.unitPrice),
      line.discount ? money(line.discount) : "",
      formatTaxRate(line.taxRateBps),
      money(line.lineTotal),
    ];
    for (const [index, column] of COLUMNS.entries()) writer.text(cells[index] ?? "", column.right, { alignRight: true });
    for (const [index, text] of descriptionLines.entries()) {
      if (index > 0) writer.y -= LINE_HEIGHT;
      writer.text(text, ITEM_X);
    }
    writer.y -= 5;
    writer.rule();
    writer.y -= LINE_HEIGHT;
  }

  const totals: [string, string, boolean][] = [
    ["Subtotal", money(bill.subtotal), false],
    ...(bill.discount ? ([["Discount", `-${money(bill.discount)}`, false]] as [string, string, boolean][]) : []),
    ["Tax", money(bill.tax), false],
    ["Total", money(bill.total), true],
    ["Paid", money(bill.amountPaid), false],
    ["Balance due", money(bill.balanceDue), true],
  ];
  writer.reserve(totals.length * LINE_HEIGHT);
  for (const [label, value, strong] of totals) {
    writer.text(label, COLUMNS[2].right - 60, { bold: strong });
    writer.text(value, right, { bold: strong, alignRight: true });
    writer.y -= LINE_HEIGHT;
  }

  // The bill's notes, then the organisation's footer, as grey paragraphs under the totals.
  for (const block of [bill.notes, bill.footer]) {
    if (!block) continue;
    writer.y -= LINE_HEIGHT;
    const paragraphs = block.split(/\r?\n/);
    for (const text of paragraphs.flatMap((paragraph) => wrap(writer.font, writer.clean(paragraph), TEXT_SIZE, right - MARGIN))) {
      writer.reserve(LINE_HEIGHT);
      writer.text(text, MARGIN, { grey: true });
      writer.y -= LINE_HEIGHT;
    }
  }
  // pdf-lib types its bytes over ArrayBufferLike; a Response body wants a plain ArrayBuffer.
  return new Uint8Array(await pdf.save());
}
