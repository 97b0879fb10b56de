/**
 * How long a channel lets a text be. SMS counts segments: GSM-7 text (the GSM 03.38 alphabet;
 * its extension characters take two septets) fits 160 septets in one segment and 153 in each
 * of several (the rest is the concatenation header); anything outside the alphabet sends the
 * whole message as UCS-2: 70 UTF-16 units in one segment, 67 in each of several.
 */

const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION = "^{}\\[~]|€\f";
const GSM_BASIC_SET = new Set(GSM_BASIC);
const GSM_EXTENSION_SET = new Set(GSM_EXTENSION);

export type SmsEncoding = "gsm7" | "ucs2";

export interface SmsSize {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
}

/** The encoding an SMS of `text` is sent in, its length in that encoding's units, and its segments. */
export function smsSize(text: string): SmsSize {
  let septets = 0;
  for (const char of text) {
    if (GSM_BASIC_SET.has(char)) septets += 1;
    else if (GSM_EXTENSION_SET.has(char)) septets += 2;
    else return ucs2Size(text);
  }
  return { encoding: "gsm7", units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
}

function ucs2Size(text: string): SmsSize {
  const units = text.length;
  return { encoding: "ucs2", units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** Characters as a reader counts them (code points, so an emoji is one). */
export function characterCount(text: string): number {
  return [...text].length;
}

/**
 * The longest start of `text` that `fits`, cut at a word boundary (whitespace) when there is one,
 * without trailing spaces or a dangling comma; the text itself when it fits already.
 */
export function trimToFit(text: string, fits: (candidate: string) => boolean): string {
  const trimmed = text.trim();
  if (fits(trimmed)) return trimmed;
  const chars = [...trimmed];
  // The longest prefix that fits, by code points: fitting only shrinks as text grows.
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(chars.slice(0, mid).join(""))) low = mid;
    else high = mid - 1;
  }
  const prefix = chars.slice(0, low).join("");
  // Cut at the last whitespace inside the prefix, unless the next character already is one.
  const nextIsSpace = /\s/.test(chars[low] ?? " ");
  const lastSpace = prefix.search(/\s\S*$/);
  const cut = nextIsSpace || lastSpace <= 0 ? prefix : prefix.slice(0, lastSpace);
  return cut.replace(/[\s,;:–-]+$/u, "");
}
