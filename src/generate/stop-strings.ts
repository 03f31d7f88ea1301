// Stop strings over streamed text: text is released only once it can no longer be the start of a
// stop string, so a caller never sees part of a stop string it will not get the rest of.

export class StopStringFilter {
  private pending = '';
  private stoppedAt = -1;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.stoppedAt >= 0;
  }

  /** Adds streamed text; returns the text that is now safe to show. */
  push(chunk: string): string {
    if (this.stopped) return '';
    this.pending += chunk;
    const hits = this.stops.map((s) => (s ? this.pending.indexOf(s) : -1)).filter((i) => i >= 0);
    if (hits.length > 0) {
      this.stoppedAt = Math.min(...hits);
      const released = this.pending.slice(0, this.stoppedAt);
      this.pending = '';
      return released;
    }
    const held = this.heldBack();
    const released = this.pending.slice(0, this.pending.length - held);
    this.pending = this.pending.slice(this.pending.length - held);
    return released;
  }

  /** At the end of generation, whatever was held back is text after all. */
  flush(): string {
    const rest = this.stopped ? '' : this.pending;
    this.pending = '';
    return rest;
  }

  /** Length of the longest tail of the pending text that is a proper prefix of a stop string. */
  private heldBack(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.pending.length); n > longest; n--) {
        if (this.pending.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
