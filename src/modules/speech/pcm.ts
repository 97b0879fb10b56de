/**
 * Headerless audio made into a WAV file providers accept: G.711 u-law decoded to 16-bit PCM
 * (the ITU-T G.711 expansion), or raw PCM16 given a RIFF header.
 */
import type { DeclaredRawAudio } from "./audio-format";

const SAMPLE_RATES: Record<DeclaredRawAudio, number> = { ulaw_8000: 8000, pcm_8000: 8000, pcm_16000: 16000, pcm_24000: 24000 };

/** One u-law byte as a linear 16-bit sample. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

/** A mono 16-bit PCM WAV of headerless `bytes` in `format`. */
export function rawToWav(bytes: Uint8Array, format: DeclaredRawAudio): Uint8Array {
  const rate = SAMPLE_RATES[format];
  const pcm = format === "ulaw_8000" ? new Uint8Array(bytes.length * 2) : bytes.subarray(0, bytes.length - (bytes.length % 2));
  if (format === "ulaw_8000") {
    const view = new DataView(pcm.buffer);
    for (let i = 0; i < bytes.length; i++) view.setInt16(i * 2, ulawToLinear(bytes[i] as number), true);
  }
  const wav = new Uint8Array(44 + pcm.length);
  const header = new DataView(wav.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) wav[at + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  header.setUint32(4, 36 + pcm.length, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  ascii(36, "data");
  header.setUint32(40, pcm.length, true);
  wav.set(pcm, 44);
  return wav;
}
