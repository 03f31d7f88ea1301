// The tokenizer of visdrop-tiny: a WordPiece vocabulary built for the synthetic set (every word the
// generator emits as one token), the chat template's and the system prompt's words, and single
// characters (plain and "##"-continued) so any ASCII word still encodes, letter by letter, instead
// of as <unk>. BERT's pre-tokenizer splits on whitespace and punctuation, and the WordPiece decoder
// joins words with spaces (continuations without, " ." and the like cleaned up), so decoded text
// has its spaces back. Hugging Face's tokenizers (Rust and JS) load it as they load BERT's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthVocabulary, splitWords } from '../synth/vocabulary.js';
import { VICUNA_V1_CHAT_TEMPLATE, VICUNA_V1_SYSTEM_PROMPT } from '../text/chat-template.js';

/** Ids of the special tokens: the first five, in this order. */
export const SYNTH_SPECIAL_TOKENS = ['<unk>', '<s>', '</s>', '<pad>', '<image>'] as const;
export const SYNTH_UNK_ID = 0;
export const SYNTH_BOS_ID = 1;
export const SYNTH_EOS_ID = 2;
export const SYNTH_PAD_ID = 3;
export const SYNTH_IMAGE_TOKEN_ID = 4;

const CONTINUATION = '##';
const LETTERS_AND_DIGITS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
/** Printable ASCII punctuation: each is a word of its own for BERT's pre-tokenizer. */
const PUNCTUATION = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];

/** The vocabulary in id order: special tokens, then every other token once. */
export function synthTokenVocabulary(): string[] {
  const tokens = new Set<string>(SYNTH_SPECIAL_TOKENS);
  for (const word of ['USER', 'ASSISTANT', ...splitWords(VICUNA_V1_SYSTEM_PROMPT), ...synthVocabulary()]) tokens.add(word);
  for (const c of [...LETTERS_AND_DIGITS, ...PUNCTUATION]) tokens.add(c);
  for (const c of LETTERS_AND_DIGITS) tokens.add(`${CONTINUATION}${c}`);
  return [...tokens];
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

export function synthTokenizerJson(vocabulary: readonly string[] = synthTokenVocabulary()): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SYNTH_SPECIAL_TOKENS.map((content, id) => addedToken(id, content)),
    normalizer: null,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [SYNTH_BOS_ID], tokens: ['<s>'] } },
    },
    decoder: { type: 'WordPiece', prefix: CONTINUATION, cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '<unk>',
      continuing_subword_prefix: CONTINUATION,
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, id) => [token, id])),
    },
  };
}

export function synthTokenizerConfig(): Record<string, unknown> {
  return {
    added_tokens_decoder: Object.fromEntries(
      SYNTH_SPECIAL_TOKENS.map((content, id) => {
        const { id: _id, ...token } = addedToken(id, content);
        return [String(id), token];
      }),
    ),
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    chat_template: VICUNA_V1_CHAT_TEMPLATE,
    // The WordPiece decoder already removes the space before punctuation.
    clean_up_tokenization_spaces: false,
    model_max_length: 2048,
    padding_side: 'right',
    processor_class: 'LlavaProcessor',
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
}

function specialTokensMap() {
  const entry = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  return { bos_token: entry('<s>'), eos_token: entry('</s>'), pad_token: entry('<pad>'), unk_token: entry('<unk>') };
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json; returns the vocabulary size. */
export function writeSynthTokenizer(outDir: string): number {
  mkdirSync(outDir, { recursive: true });
  const vocabulary = synthTokenVocabulary();
  const files: Array<[string, unknown]> = [
    ['tokenizer.json', synthTokenizerJson(vocabulary)],
    ['tokenizer_config.json', synthTokenizerConfig()],
    ['special_tokens_map.json', specialTokensMap()],
  ];
  for (const [name, content] of files) writeFileSync(join(outDir, name), `${JSON.stringify(content, null, 2)}\n`);
  return vocabulary.length;
}
