import { thousandths } from "../bills/money";

/**
 * The purchase money rule (PURCHASE_RULE in schemas.ts): line_total = round_half_up(quantity ×
 * unit_cost). The quantity has 3 decimals, so the product is in thousandths of a minor unit;
 * BigInt keeps it exact where a float would not be.
 */
export function purchaseLineTotal(quantity: string, unitCost: number): bigint {
  return (thousandths(quantity) * BigInt(unitCost) + 500n) / 1000n;
}

/** Thousandths back to the decimal string Postgres and the API use: 2500n -> "2.500". */
export function quantityFromThousandths(value: bigint): string {
  return `${value / 1000n}.${String(value % 1000n).padStart(3, "0")}`;
}
