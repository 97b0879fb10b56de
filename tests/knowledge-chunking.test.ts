import { describe, expect, it } from "vitest";
import { chunkText } from "../src/modules/assistants/knowledge/chunking";

/** Numbered words, so each word is unique and a chunk's position in the text can be read off it. */
function numberedWords(count: number, prefix = "word"): string {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`).join(" ");
}

function sentencesOf(count: number): string {
  return Array.from({ length: count }, (_, i) => `Sentence number ${i} says something about the salon opening hours.`).join(" ");
}

describe("chunkText", () => {
  it("returns no chunks for empty or whitespace-only text", () => {
    expect(chunkText("")).toEqual([]);
    expect(chunkText("  \n\n\t  \u0000 ")).toEqual([]);
  });

  it("keeps a text shorter than the size as one chunk, with whitespace collapsed", () => {
    expect(chunkText("  We are   open\tMonday to\nFriday.  ")).toEqual(["We are open Monday to Friday."]);
  });

  it("never makes a chunk longer than the size and loses no word", () => {
    const text = `${sentencesOf(40)}\n\n${numberedWords(300)}\n\n${sentencesOf(5)}`;
    for (const size of [80, 200, 512]) {
      const chunks = chunkText(text, { size, overlap: 20 });
      expect(chunks.length).toBeGreaterThan(1);
      for (const chunk of chunks) {
        expect(chunk.length).toBeLessThanOrEqual(size);
        expect(chunk.trim()).toBe(chunk);
        expect(chunk).not.toBe("");
      }
      const seen = new Set(chunks.join(" ").split(/\s+/));
      for (const word of text.split(/\s+/)) expect(seen.has(word)).toBe(true);
    }
  });

  it("repeats the end of a chunk at the start of the next, cut at a word", () => {
    const text = numberedWords(400);
    const chunks = chunkText(text, { size: 200, overlap: 40 });
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1] as string;
      const next = chunks[i] as string;
      const previousWords = previous.split(" ");
      const nextWords = next.split(" ");
      // The shared words are whole words of the original text, about `overlap` characters long.
      let shared = 0;
      while (shared < nextWords.length && previousWords.includes(nextWords[shared] as string)) shared++;
      expect(shared).toBeGreaterThan(0);
      const overlapText = nextWords.slice(0, shared).join(" ");
      expect(previous.endsWith(overlapText)).toBe(true);
      expect(overlapText.length).toBeLessThanOrEqual(40);
      expect(overlapText.length).toBeGreaterThan(20);
    }
  });

  it("makes no overlap when asked for none", () => {
    const chunks = chunkText(numberedWords(200), { size: 100, overlap: 0 });
    expect(chunks.join(" ")).toBe(numberedWords(200));
  });

  it("keeps paragraphs whole when they fit, joined by a blank line", () => {
    const first = "Opening hours. We are open Monday to Friday from 9am to 6pm.";
    const second = "Prices. Haircuts cost 25 dollars and colouring starts at 60 dollars.";
    const third = "Parking. There is free parking behind the building.";
    expect(chunkText(`${first}\n\n\n${second}\n \n${third}`, { size: 140, overlap: 0 })).toEqual([`${first}\n\n${second}`, third]);
    // A single newline is not a paragraph break.
    expect(chunkText("line one\nline two")).toEqual(["line one line two"]);
  });

  it("splits a long paragraph at sentence ends before splitting sentences", () => {
    const text = sentencesOf(10);
    const chunks = chunkText(text, { size: 150, overlap: 0 });
    for (const chunk of chunks) {
      expect(chunk.startsWith("Sentence number")).toBe(true);
      expect(chunk.endsWith("hours.")).toBe(true);
    }
    expect(chunks.join(" ")).toBe(text);
  });

  it("hard-splits a word longer than the size", () => {
    const word = "x".repeat(250);
    const chunks = chunkText(`before ${word} after`, { size: 100, overlap: 0 });
    expect(chunks.every((c) => c.length <= 100)).toBe(true);
    expect(chunks.join("").replace(/\s/g, "")).toBe(`before${word}after`);
    expect(chunks).toContain("x".repeat(100));
  });

  it("does not cut an emoji in half when hard-splitting", () => {
    const chunks = chunkText("😀".repeat(10), { size: 5, overlap: 0 });
    expect(chunks.join("")).toBe("😀".repeat(10));
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(5);
    for (const chunk of chunks) expect(chunk).toMatch(/^(?:😀)+$/u);
  });

  it("strips NUL and other control characters but keeps the words around them", () => {
    const chunks = chunkText("Open\u0000 daily\u0007 from\u001b 9am\u007f.\r\nClosed\u0085 Sundays.\fPage two.");
    expect(chunks).toEqual(["Open daily from 9am. Closed Sundays.\n\nPage two."]);
  });

  it("rejects a size that is not a positive integer", () => {
    expect(() => chunkText("hello", { size: 0 })).toThrow(RangeError);
    expect(() => chunkText("hello", { size: Number.NaN })).toThrow(RangeError);
    expect(() => chunkText("hello", { overlap: -1 })).toThrow(RangeError);
  });
});
