/**
 * Headerless audio given a RIFF/WAV header providers accept: G.711 u-law stays u-law (WAV format
 * 7, 8 bits a sample, lossless), raw PCM16 becomes PCM WAV (format 1). Mono either way.
 */
import type { DeclaredRawAudio } from "./audio-format";

const LAYOUTS: Record<DeclaredRawAudio, { rate: number; formatTag: number; bits: number }> = {
  ulaw_8000: { rate: 8000, formatTag: 7, bits: 8 },
  pcm_8000: { rate: 8000, formatTag: 1, bits: 16 },
  pcm_16000: { rate: 16000, formatTag: 1, bits: 16 },
  pcm_24000: { rate: 24000, formatTag: 1, bits: 16 },
};

export function rawToWav(bytes: Uint8Array, format: DeclaredRawAudio): Uint8Array {
  const { rate, formatTag, bits } = LAYOUTS[format];
  const blockAlign = bits / 8;
  const data = bytes.subarray(0, bytes.length - (bytes.length % blockAlign));
  const wav = new Uint8Array(44 + data.length);
  const header = new DataView(wav.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) wav[at + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  header.setUint32(4, 36 + data.length, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, formatTag, true);
  header.setUint16(22, 1, true);
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * blockAlign, true);
  header.setUint16(32, blockAlign, true);
  header.setUint16(34, bits, true);
  ascii(36, "data");
  header.setUint32(40, data.length, true);
  wav.set(data, 44);
  return wav;
}
