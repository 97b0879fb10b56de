/** Postgres prints numeric(14,3) with its three decimals; this only guards a bare integer value. */
export function quantityText(value: string): string {
  return value.includes(".") ? value : `${value}.000`;
}
