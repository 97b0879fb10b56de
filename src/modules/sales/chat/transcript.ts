/** A remembered message as the agents read it. */
export interface TranscriptLine {
  role: "user" | "assistant" | "staff";
  content: string;
}

const SPEAKERS: Record<TranscriptLine["role"], string> = { user: "Visitor", assistant: "Bot", staff: "Staff" };

/** Messages as a plain transcript, one line each, for an agent's instructions. */
export function transcriptText(lines: readonly TranscriptLine[]): string {
  return lines.map((l) => `${SPEAKERS[l.role]}: ${l.content}`).join("\n");
}

/** Messages as chat turns for the reply model: the bot's and staff's words are the assistant's. */
export function chatTurns(lines: readonly TranscriptLine[]): { role: "user" | "assistant"; content: string }[] {
  return lines.map((l) => ({ role: l.role === "user" ? "user" : "assistant", content: l.content }));
}

/** The first `max` characters of `text`, never cutting an emoji or other character outside the BMP in half. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  // A lone high surrogate at the end is half a character: Postgres would refuse the text.
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}
