// A LLaVA sample into token ids and labels, as LLaVA's llava/train/train.py does it:
// - `vicuna_v1` (fine-tuning, `preprocess_v1`): system prompt + " USER: {q} ASSISTANT: {a}</s>USER: ..."
//   tokenised whole; the labels then mask the BOS, every round's instruction part and whatever
//   follows the last round, with LLaVA's token-count arithmetic: each round (text between "</s>")
//   counted tokenised alone, its instruction ("... ASSISTANT: ") alone minus 2 (its BOS and the
//   trailing "▁" that merges into the answer), one less each for rounds after the first when the
//   tokenizer does not prefix text after a special token (the slow non-legacy LLaMA tokenizer);
//   when the counts do not add up to the sequence, the whole sample is masked (LLaVA's
//   "tokenization mismatch" warning).
// - `plain` (pre-training, `preprocess_plain`): "<image>" + caption + "\n", the image part masked.
// The image placeholder is moved to the front of its turn followed by "\n" (`preprocess_multimodal`)
// and tokenised as `tokenizer_image_token` does: each text chunk on its own, with its BOS dropped
// after the first. The image stays ONE marker id here; the batcher expands it.
import { DataError } from '../errors.js';
import type { TextTokenizer } from '../text/index.js';
import { IMAGE_PLACEHOLDER, sampleSubject, type ConversationTurn, type DatasetSample } from './dataset.js';

export const IGNORE_INDEX = -100;

export const TEMPLATES = ['vicuna_v1', 'plain'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** conv_vicuna_v1 of LLaVA's conversation.py. */
export const VICUNA_V1 = {
  system:
    'A chat between a curious user and an artificial intelligence assistant. ' +
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
  roles: ['USER', 'ASSISTANT'] as const,
  sep: ' ',
  sep2: '</s>',
};

/** conv_llava_plain's separator. */
const PLAIN_SEP = '\n';

export interface TokenizedSample {
  readonly sample: DatasetSample;
  /** Token ids with the image as one `imageTokenId` marker. */
  readonly inputIds: readonly number[];
  /** Same length; IGNORE_INDEX where no loss is taken. */
  readonly labels: readonly number[];
  /** LLaVA's "tokenization mismatch": its counts and the sequence disagreed, so every label is masked. */
  readonly mismatch: { readonly counted: number; readonly total: number } | null;
}

export class ConversationTokenizer {
  /** Whether text right after a special token is tokenised as at the start of a text (LLaVA's `tokenizer.legacy`). */
  readonly legacy: boolean;
  private readonly bos: number | undefined;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly imageTokenId: number,
    readonly template: TemplateName,
    private readonly file: string,
  ) {
    this.bos = tokenizer.bosTokenId;
    // transformers' slow LLaMA tokenizer with legacy=False (vicuna's, which LLaVA trains with) does
    // not prefix text after a special token; llava-hf's tokenizer.json runs the legacy normaliser
    // whatever tokenizer_config.json's `legacy` says. So the behaviour is measured, not read.
    const eos = tokenizer.eosToken;
    if (eos === undefined || tokenizer.eosTokenId === undefined) {
      this.legacy = true;
    } else {
      const joined = tokenizer.encode(`${eos}USER`, { addSpecialTokens: false });
      const alone = [tokenizer.eosTokenId, ...tokenizer.encode('USER', { addSpecialTokens: false })];
      this.legacy = joined.length === alone.length && joined.every((id, i) => id === alone[i]);
    }
  }

  tokenize(sample: DatasetSample): TokenizedSample {
    return this.template === 'plain' ? this.plain(sample) : this.vicunaV1(sample);
  }

  /** `tokenizer_image_token`: chunks around the placeholder tokenised alone (BOS each), BOS kept once. */
  tokenizeWithImage(text: string): number[] {
    const chunks = text.split(IMAGE_PLACEHOLDER).map((chunk) => this.tokenizer.encode(chunk));
    const offset = chunks[0]!.length > 0 && chunks[0]![0] === this.bos ? 1 : 0;
    const ids: number[] = offset === 1 ? [this.bos!] : [];
    chunks.forEach((chunk, i) => {
      if (i > 0) ids.push(this.imageTokenId);
      for (let k = offset; k < chunk.length; k++) ids.push(chunk[k]!);
    });
    return ids;
  }

  private subject(sample: DatasetSample): string {
    return sampleSubject(this.file, sample.index, sample.id);
  }

  private plain(sample: DatasetSample): TokenizedSample {
    const [first, second] = sample.conversations;
    if (sample.conversations.length !== 2 || !first!.value.includes(IMAGE_PLACEHOLDER)) {
      throw new DataError({
        subject: this.subject(sample),
        expected: `a pre-training pair (template plain): a human turn with ${IMAGE_PLACEHOLDER} and a caption`,
        found: `${sample.conversations.length} turns${first && !first.value.includes(IMAGE_PLACEHOLDER) ? ` and no ${IMAGE_PLACEHOLDER} in the first` : ''}`,
      });
    }
    const inputIds = this.tokenizeWithImage(IMAGE_PLACEHOLDER + second!.value + PLAIN_SEP);
    const masked = this.tokenizeWithImage(IMAGE_PLACEHOLDER).length;
    const labels = inputIds.map((id, i) => (i < masked ? IGNORE_INDEX : id));
    return { sample, inputIds, labels, mismatch: null };
  }

  /** The vicuna_v1 prompt of the turns, after LLaVA's multimodal rewrite and first-turn skip. */
  prompt(sample: DatasetSample): string {
    let turns: readonly ConversationTurn[] = sample.conversations.map((turn) =>
      turn.value.includes(IMAGE_PLACEHOLDER)
        ? { from: turn.from, value: `${IMAGE_PLACEHOLDER}\n${turn.value.replaceAll(IMAGE_PLACEHOLDER, '').trim()}`.trim() }
        : turn,
    );
    // LLaVA skips a first turn that is not the human's.
    if (turns[0]!.from !== 'human') turns = turns.slice(1);
    const { system, roles, sep, sep2 } = VICUNA_V1;
    let text = system + sep;
    turns.forEach((turn, j) => {
      const expected = j % 2 === 0 ? 'human' : 'gpt';
      if (turn.from !== expected) {
        throw new DataError({
          subject: `${this.subject(sample)}: conversations`,
          expected: 'turns alternating human, gpt, human, ... (a leading gpt turn is skipped)',
          found: `${turn.from} where ${expected} should speak`,
        });
      }
      text += turn.value ? `${roles[j % 2]}: ${turn.value}${j % 2 === 0 ? sep : sep2}` : `${roles[j % 2]}:`;
    });
    return text;
  }

  private vicunaV1(sample: DatasetSample): TokenizedSample {
    const hasImage = sample.image !== null;
    const text = this.prompt(sample);
    const count = (s: string) => (hasImage ? this.tokenizeWithImage(s) : this.tokenizer.encode(s)).length;
    const inputIds = hasImage ? this.tokenizeWithImage(text) : this.tokenizer.encode(text);
    const labels = [...inputIds];
    const total = inputIds.length;
    const mask = (start: number, end: number) => {
      for (let i = Math.max(0, start); i < Math.min(end, labels.length); i++) labels[i] = IGNORE_INDEX;
    };
    const answerSep = `${VICUNA_V1.sep}${VICUNA_V1.roles[1]}: `;
    let cur = 1;
    mask(0, cur);
    const rounds = text.split(VICUNA_V1.sep2);
    for (let i = 0; i < rounds.length; i++) {
      const round = rounds[i]!;
      if (round === '') break;
      const parts = round.split(answerSep);
      if (parts.length !== 2) break;
      let roundLength = count(round);
      let instructionLength = count(parts[0]! + answerSep) - 2;
      if (i !== 0 && !this.legacy) {
        roundLength -= 1;
        instructionLength -= 1;
      }
      mask(cur, cur + instructionLength);
      cur += roundLength;
    }
    mask(cur, labels.length);
    if (cur !== total) {
      mask(0, labels.length);
      return { sample, inputIds, labels, mismatch: { counted: cur, total } };
    }
    return { sample, inputIds, labels, mismatch: null };
  }
}
