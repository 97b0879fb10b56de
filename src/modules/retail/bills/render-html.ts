import type { BillDocument } from "./document";
import { documentHeading, formatMoney, formatQuantity, formatTaxRate, statusLabel, utcDate } from "./format";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe anywhere in HTML content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:760px;margin:24px auto;background:#fff;padding:32px;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.1rem;margin:0 0 16px;color:#57606a;font-weight:500}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 24px}dt{color:#57606a}dd{margin:0}
table{width:100%;border-collapse:collapse;margin-bottom:16px}th,td{padding:8px 6px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}
th.n,td.n{text-align:right;white-space:nowrap}tfoot td{border:0;padding:4px 6px}tfoot tr.total td{font-weight:600;border-top:2px solid #1f2328}
tfoot tr.due td{font-weight:700;font-size:1.1rem}.status{display:inline-block;padding:2px 10px;border-radius:12px;background:#eaeef2;font-size:.9rem}
.status.paid{background:#dafbe1}.status.void,.status.refunded{background:#ffebe9}.notes{white-space:pre-wrap;color:#57606a}
a.pdf{display:inline-block;margin-top:8px}`;

let styleHash: Promise<string> | undefined;

/** The CSP source for the one inline stylesheet, so the policy can allow it and nothing else. */
function styleSource(): Promise<string> {
  styleHash ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(STYLE)).then((digest) => {
    const bytes = new Uint8Array(digest);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return `'sha256-${btoa(binary)}'`;
  });
  return styleHash;
}

/**
 * A Content-Security-Policy that allows the page's own stylesheet and nothing else: no scripts,
 * images, fonts, frames, forms or connections, even if escaping ever failed.
 */
export async function billPageCsp(): Promise<string> {
  return `default-src 'none'; style-src ${await styleSource()}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

function row(label: string, value: string, className = ""): string {
  return `<tr${className ? ` class="${className}"` : ""}><td colspan="4"></td><td>${escapeHtml(label)}</td><td class="n">${escapeHtml(value)}</td></tr>`;
}

/**
 * The bill as a self-contained HTML page (no external resources). Every value that came from a
 * user (organisation and customer names, line descriptions, notes, units) is escaped.
 */
export function renderBillHtml(bill: BillDocument): string {
  const money = (amount: number) => formatMoney(amount, bill.currency);
  const title = `${documentHeading(bill)} from ${bill.orgName}`;
  const details: [string, string][] = [
    [bill.noun ?? "Bill", bill.number ?? "Draft"],
    ["Issued", bill.issuedAt ? utcDate(bill.issuedAt) : "Not issued"],
    ...(bill.dueDate ? ([["Due", bill.dueDate]] as [string, string][]) : []),
    ...(bill.customer ? ([["Billed to", bill.customer.name]] as [string, string][]) : []),
  ];
  const lines = bill.lines
    .map(
      (line) =>
        `<tr><td>${escapeHtml(line.description)}</td><td class="n">${escapeHtml(`${formatQuantity(line.quantity)} ${line.unit}`)}</td>` +
        `<td class="n">${escapeHtml(money(line.unitPrice))}</td><td class="n">${line.discount ? escapeHtml(money(line.discount)) : ""}</td>` +
        `<td class="n">${escapeHtml(formatTaxRate(line.taxRateBps))}</td><td class="n">${escapeHtml(money(line.lineTotal))}</td></tr>`,
    )
    .join("\n");
  const totals = [
    row("Subtotal", money(bill.subtotal)),
    ...(bill.discount ? [row("Discount", `−${money(bill.discount)}`)] : []),
    row("Tax", money(bill.tax)),
    row("Total", money(bill.total), "total"),
    row("Paid", money(bill.amountPaid)),
    row("Balance due", money(bill.balanceDue), "due"),
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(bill.orgName)}</h1>
<h2>${escapeHtml(documentHeading(bill))} <span class="status ${escapeHtml(bill.status)}">${escapeHtml(statusLabel(bill.status))}</span></h2>
<dl>
${details.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join("\n")}
</dl>
<table>
<thead><tr><th>Item</th><th class="n">Qty</th><th class="n">Price</th><th class="n">Discount</th><th class="n">Tax</th><th class="n">Amount</th></tr></thead>
<tbody>
${lines}
</tbody>
<tfoot>
${totals}
</tfoot>
</table>
${bill.notes ? `<p class="notes">${escapeHtml(bill.notes)}</p>` : ""}
${bill.footer ? `<footer class="notes">${escapeHtml(bill.footer)}</footer>` : ""}
<a class="pdf" href="?format=pdf">Download PDF</a>
</main>
</body>
</html>
`;
}
