/**
 * How a bill's figures read to a person. `symbol` for messages and the HTML page; `code` ("USD 54.58")
 * for the PDF, whose standard font cannot draw most currency signs (₹, ₦, ...).
 */
export function formatMoney(minorUnits: number, currency: string, display: "symbol" | "code" = "symbol"): string {
  try {
    const format = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase(), currencyDisplay: display });
    // The currency's own number of decimals: JPY has none, BHD three.
    return format.format(minorUnits / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${minorUnits} ${currency.toUpperCase()} (minor units)`;
  }
}

/** "2.500" -> "2.5", "1.000" -> "1": stored quantities always carry three decimals. */
export function formatQuantity(quantity: string): string {
  return quantity.includes(".") ? quantity.replace(/\.?0+$/, "") : quantity;
}

/** A tax rate in basis points as a percentage: 1800 -> "18%", 1250 -> "12.5%". */
export function formatTaxRate(bps: number): string {
  return `${formatQuantity((bps / 100).toFixed(2))}%`;
}

/** A timestamp's UTC calendar date, YYYY-MM-DD. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const STATUS_LABELS: Record<string, string> = {
  draft: "Draft",
  issued: "Unpaid",
  partially_paid: "Partially paid",
  paid: "Paid",
  refunded: "Refunded",
  void: "Void",
};

/** The bill's status as its customer reads it. */
export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}

/** The document's heading: its number, or "Draft bill" / "Draft invoice" before it has one. */
export function documentHeading(document: { number: string | null; noun?: "Bill" | "Invoice" }): string {
  return document.number ?? `Draft ${(document.noun ?? "Bill").toLowerCase()}`;
}
