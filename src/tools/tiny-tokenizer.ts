// Writes the tokenizer files of a llava-hf/llava-1.5-7b-hf style checkpoint (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json), built from the real LLaMA/Vicuna 32000-token
// vocabulary and merges that llama-tokenizer-js ships, so test checkpoints tokenize like the real one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import llamaTokenizer from 'llama-tokenizer-js';
import { LLAVA_15_CHAT_TEMPLATE } from '../text/chat-template.js';

/** `<image>` and `<pad>` sit right after LLaMA's 32000 tokens, as in llava-hf's checkpoints. */
export const TINY_IMAGE_TOKEN_ID = 32000;
export const TINY_PAD_TOKEN_ID = 32001;

const SPECIAL_TOKENS: ReadonlyArray<readonly [number, string]> = [
  [0, '<unk>'],
  [1, '<s>'],
  [2, '</s>'],
  [TINY_IMAGE_TOKEN_ID, '<image>'],
  [TINY_PAD_TOKEN_ID, '<pad>'],
];

/** A token as special_tokens_map.json serialises it: never normalised or stripped. */
function tokenEntry(content: string) {
  return { content, lstrip: false, normalized: false, rstrip: false, single_word: false };
}

/** An added token as tokenizer.json and tokenizer_config.json serialise it. */
function addedToken(content: string) {
  return { ...tokenEntry(content), special: true };
}

/** HF's LLaMA fast-tokenizer layout (transformers' LlamaConverter, legacy normaliser). */
function tokenizerJson() {
  const { vocabById, merges } = llamaTokenizer;
  if (vocabById.length !== 32000) {
    throw new Error(`llama-tokenizer-js: expected 32000 vocabulary entries, found ${vocabById.length}`);
  }
  const vocab = Object.fromEntries(vocabById.map((token, id) => [token, id]));
  // llama-tokenizer-js keeps the merges of LLaMA's tokenizer.json in a Map keyed "left right",
  // inserted in merge order (its values are increasing priorities), so key order is rank order.
  const mergeList = [...merges.keys()];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map(([id, content]) => ({ id, ...addedToken(content) })),
    // The "legacy" SentencePiece emulation: every text segment between added tokens gets a
    // leading "▁", which is why HF encodes "\n" after `<image>` as [29871, 13].
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: mergeList,
    },
  };
}

/** Mirrors llava-hf/llava-1.5-7b-hf's tokenizer_config.json. */
function tokenizerConfig() {
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(SPECIAL_TOKENS.map(([id, content]) => [String(id), addedToken(content)])),
    bos_token: '<s>',
    chat_template: LLAVA_15_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    // Like the real file: `legacy: false` only matters when transformers converts from the slow
    // tokenizer; the shipped tokenizer.json (above) keeps the legacy normaliser and is what runs.
    legacy: false,
    model_max_length: 1e30,
    pad_token: '<pad>',
    padding_side: 'left',
    processor_class: 'LlavaProcessor',
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizer',
    unk_token: '<unk>',
    use_default_system_prompt: false,
  };
}

function specialTokensMap() {
  return {
    bos_token: tokenEntry('<s>'),
    eos_token: tokenEntry('</s>'),
    pad_token: tokenEntry('<pad>'),
    unk_token: tokenEntry('<unk>'),
  };
}

/** Writes the three tokenizer files into `outDir` (created if needed); returns their paths. */
export function writeTinyTokenizer(outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const files: Array<[string, unknown]> = [
    ['tokenizer.json', tokenizerJson()],
    ['tokenizer_config.json', tokenizerConfig()],
    ['special_tokens_map.json', specialTokensMap()],
  ];
  return files.map(([name, content]) => {
    const path = join(outDir, name);
    writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
    return path;
  });
}
