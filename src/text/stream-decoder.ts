// Incremental detokenisation for streaming: push token ids one at a time and get back only the
// text they complete. Promise: the concatenation of every push() and the final flush() equals
// `tokenizer.decode(allIds, { skipSpecialTokens })`.
import { cleanUpTokenizationSpaces, type TextTokenizer } from './tokenizer.js';

export interface StreamDecoderOptions {
  readonly skipSpecialTokens?: boolean;
}

/**
 * Why not decode each token alone: SentencePiece decoders strip the leading space of the whole text
 * (so "▁world" alone is "world"), and byte-fallback tokens such as <0xE2> only make a character
 * together. So, as text-generation-inference does, each step decodes a short window of recent ids
 * twice, without and with the new ids, and releases the difference; the window starts at ids whose
 * text was already released, so the leading-space rule strips both decodes alike, and text ending
 * in U+FFFD (an unfinished UTF-8 sequence) is held back until the sequence completes.
 */
export class StreamDecoder {
  /** Ids from the start of the context window on; the first `readOffset` are already released. */
  private window: number[] = [];
  private readOffset = 0;
  /** Released-but-uncleaned text, while `clean_up_tokenization_spaces` is on (see cleanSafely). */
  private pending = '';
  private readonly decodeOptions: { skipSpecialTokens: boolean; cleanUpSpaces: false };

  constructor(
    private readonly tokenizer: TextTokenizer,
    options: StreamDecoderOptions = {},
  ) {
    this.decodeOptions = { skipSpecialTokens: options.skipSpecialTokens ?? true, cleanUpSpaces: false };
  }

  /** Adds one token id; returns the text it completes (often '', never text a later id changes). */
  push(id: number): string {
    this.window.push(id);
    const released = this.decodeWindow();
    if (released === '' || released.endsWith('\uFFFD')) return '';
    // The released ids become the next window's context; older ids are no longer needed.
    this.window = this.window.slice(this.readOffset);
    this.readOffset = this.window.length;
    return this.tokenizer.cleanUpSpaces ? this.cleanSafely(released, false) : released;
  }

  /** Ends the stream: returns whatever is still held back (e.g. an unfinished byte sequence). */
  flush(): string {
    const released = this.decodeWindow();
    this.window = [];
    this.readOffset = 0;
    return this.tokenizer.cleanUpSpaces ? this.cleanSafely(released, true) : released;
  }

  /** The text of the ids after `readOffset`, in the context of the ids before it. */
  private decodeWindow(): string {
    const context = this.tokenizer.decode(this.window.slice(0, this.readOffset), this.decodeOptions);
    const all = this.tokenizer.decode(this.window, this.decodeOptions);
    return all.slice(context.length);
  }

  /**
   * transformers' space clean-up (" ." -> ".", " n't" -> "n't", ...) looks across token boundaries,
   * so it is applied only to text up to a cut where it cannot join the two sides: a space with a
   * character on each side that no clean-up pattern can involve (see safeCut).
   */
  private cleanSafely(text: string, final: boolean): string {
    this.pending += text;
    const cut = final ? this.pending.length : safeCut(this.pending);
    const ready = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return cleanUpTokenizationSpaces(ready);
  }
}

/** Characters that follow the space in a clean-up pattern (" .", " ?", " !", " ,", " '", " n't"). */
const PATTERN_SECOND = new Set(['.', '?', '!', ',', "'", 'n']);

/**
 * The last index k with text[k] == ' ' such that cleaning text[..k] and text[k..] separately gives
 * the same as cleaning the whole, however the text continues; 0 if there is none yet. Every pattern
 * starts with a space and only deletes spaces. With text[k+1] a non-space outside PATTERN_SECOND,
 * no pass ever matches at k, so that space survives as a wall; with text[k-1] neither a space nor
 * "'", no match on the left can end on the wall (only " ' " ends in a space).
 */
function safeCut(text: string): number {
  for (let k = text.length - 2; k >= 1; k--) {
    const before = text[k - 1]!;
    const after = text[k + 1]!;
    if (text[k] === ' ' && before !== ' ' && before !== "'" && after !== ' ' && !PATTERN_SECOND.has(after)) return k;
  }
  return 0;
}
