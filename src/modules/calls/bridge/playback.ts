/**
 * What the caller has actually heard. Model audio goes to Twilio as soon as it arrives, with a
 * mark after each chunk; Twilio echoes a mark when the audio before it has played. So the heard
 * part of an assistant item is the audio up to its last echoed mark, not the audio sent, which
 * can run seconds ahead. A barge-in truncates the item there, so the model's memory of what it
 * said matches what the caller heard.
 *
 * Twilio also echoes the marks a `clear` dropped, at once: after an interruption those echoes say
 * nothing about playback and are ignored.
 */

/** g711 u-law at 8 kHz: one byte per sample, 8 bytes per millisecond. */
export const ULAW_BYTES_PER_MS = 8;

interface PendingMark {
  itemId: string;
  /** Milliseconds of the item's audio that have played once this mark is echoed. */
  itemMsAtMark: number;
}

export interface Interruption {
  itemId: string;
  /** Milliseconds of the item the caller heard: the truncate point. */
  playedMs: number;
}

export class PlaybackTracker {
  private sequence = 0;
  private readonly pending = new Map<string, PendingMark>();
  private readonly sentMs = new Map<string, number>();
  private readonly playedMs = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();

  /** Records a chunk of `item`'s audio sent to Twilio; returns the name of the mark to send after it. */
  sent(itemId: string, audioBytes: number): string {
    const total = (this.sentMs.get(itemId) ?? 0) + audioBytes / ULAW_BYTES_PER_MS;
    this.sentMs.set(itemId, total);
    this.sequence += 1;
    const name = `${itemId}:${this.sequence}`;
    this.pending.set(name, { itemId, itemMsAtMark: total });
    return name;
  }

  /** Twilio echoed `name`: the audio before it has played. Unknown (or cleared) marks change nothing. */
  confirmed(name: string): void {
    const mark = this.pending.get(name);
    if (!mark) return;
    this.pending.delete(name);
    this.playedMs.set(mark.itemId, Math.max(this.playedMs.get(mark.itemId) ?? 0, mark.itemMsAtMark));
    this.waiters.get(name)?.();
    this.waiters.delete(name);
    if (this.pending.size === 0) this.resolveAllWaiters();
  }

  /** Milliseconds of `itemId` Twilio confirmed played. */
  played(itemId: string): number {
    return Math.round(this.playedMs.get(itemId) ?? 0);
  }

  /** Whether audio sent to Twilio has not been confirmed played yet. */
  get playing(): boolean {
    return this.pending.size > 0;
  }

  /**
   * The caller started speaking: every item whose audio had not finished playing, in the order
   * they play, each with how much of it was heard (the truncate point). The first is the one being
   * heard; any after it were queued behind it (a reply that followed a tool call while the first
   * was still playing) and were heard not at all. Empty when nothing is playing. Every pending mark
   * is forgotten: Twilio's echoes of them after the `clear` do not mean played.
   */
  interrupt(): Interruption[] {
    const unfinished = [...new Set([...this.pending.values()].map((mark) => mark.itemId))];
    this.pending.clear();
    this.resolveAllWaiters();
    return unfinished.map((itemId) => ({ itemId, playedMs: this.played(itemId) }));
  }

  /** Resolves when everything sent so far has played (or was cleared): e.g. the goodbye before hanging up. */
  drained(): Promise<void> {
    const last = [...this.pending.keys()].at(-1);
    if (!last) return Promise.resolve();
    return new Promise((resolve) => {
      const earlier = this.waiters.get(last);
      this.waiters.set(last, () => {
        earlier?.();
        resolve();
      });
    });
  }

  private resolveAllWaiters(): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const resolve of waiters) resolve();
  }
}
