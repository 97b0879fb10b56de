/**
 * The bill money rule, the one place totals are computed (clients never send totals):
 *
 * Per line, in integer minor units of the bill's currency:
 *   gross        = round_half_up(quantity × unit_price)   quantity has 3 decimals; computed with
 *                                                          BigInt on quantity × 1000, never floats
 *   net          = gross − line discount                  (a discount larger than gross is refused)
 * Tax-exclusive prices (the default):
 *   line_subtotal = net
 *   line_tax      = round_half_up(net × tax_rate_bps / 10000)
 *   line_total    = line_subtotal + line_tax
 * Tax-inclusive prices (organisation setting `prices_include_tax`; unit prices and discounts
 * already contain the tax, so the customer pays exactly `net`):
 *   line_tax      = round_half_up(net × tax_rate_bps / (10000 + tax_rate_bps))
 *   line_subtotal = net − line_tax
 *   line_total    = net
 * Per bill:
 *   subtotal = Σ line_subtotal,  tax = Σ line_tax
 *   discount = the optional bill-level discount, at most `subtotal`. It is applied after the
 *              lines and reduces the total only: line taxes are NOT recomputed or spread.
 *   total    = subtotal − discount + tax
 * A bill keeps the setting it was priced with (`bills.prices_include_tax`).
 */

/** A non-negative decimal string with at most 3 decimals, as thousandths: "2.5" -> 2500n. */
export function thousandths(quantity: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,3}))?$/.exec(quantity);
  if (!match) throw new Error(`not a quantity: ${quantity}`);
  return BigInt(match[1] ?? "0") * 1000n + BigInt((match[2] ?? "").padEnd(3, "0"));
}

/** `numerator / denominator` rounded half up, for non-negative operands. */
function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

export interface LineInput {
  quantity: string;
  unitPrice: number;
  discount: number;
  taxRateBps: number;
}

export interface LineAmounts {
  gross: number;
  lineSubtotal: number;
  lineTax: number;
  lineTotal: number;
}

export function lineAmounts(line: LineInput, pricesIncludeTax: boolean): LineAmounts {
  const gross = divideHalfUp(thousandths(line.quantity) * BigInt(line.unitPrice), 1000n);
  const net = gross - BigInt(line.discount);
  const rate = BigInt(line.taxRateBps);
  if (net <= 0n) return { gross: Number(gross), lineSubtotal: Number(net), lineTax: 0, lineTotal: Number(net) };
  if (pricesIncludeTax) {
    const tax = divideHalfUp(net * rate, 10000n + rate);
    return { gross: Number(gross), lineSubtotal: Number(net - tax), lineTax: Number(tax), lineTotal: Number(net) };
  }
  const tax = divideHalfUp(net * rate, 10000n);
  return { gross: Number(gross), lineSubtotal: Number(net), lineTax: Number(tax), lineTotal: Number(net + tax) };
}

export interface BillAmounts {
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
}

export function billAmounts(lines: LineAmounts[], discount: number): BillAmounts {
  const subtotal = lines.reduce((sum, l) => sum + l.lineSubtotal, 0);
  const tax = lines.reduce((sum, l) => sum + l.lineTax, 0);
  return { subtotal, discount, tax, total: subtotal - discount + tax };
}
