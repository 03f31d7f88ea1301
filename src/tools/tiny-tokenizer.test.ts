// The tiny llava-hf tokenizer must tokenize like the real llava-1.5-7b-hf one: known ids from HF,
// agreement with llama-tokenizer-js on plain text, and the file layout transformers writes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import llamaTokenizer from 'llama-tokenizer-js';
import { LLAVA_15_CHAT_TEMPLATE } from '../text/chat-template.js';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer.js';
import { TINY_IMAGE_TOKEN_ID, TINY_PAD_TOKEN_ID, writeTinyTokenizer } from './tiny-tokenizer.js';

describe('writeTinyTokenizer', () => {
  let dir: string;
  let tokenizer: TextTokenizer;
  const readJson = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, any>;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-tiny-tokenizer-'));
    const written = writeTinyTokenizer(dir);
    assert.deepEqual(
      written,
      ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((name) => join(dir, name)),
    );
    tokenizer = loadTokenizer(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('encodes "Hello world!" with BOS as LLaMA does', () => {
    assert.deepEqual(tokenizer.encode('Hello world!'), [1, 15043, 3186, 29991]);
  });

  test("gives HF llava-1.5-7b-hf's ids for the chat prompt, <image> as one token", () => {
    // The 29871 ("▁") after <image> is the legacy Prepend normaliser at work on the segment "\nWhat...".
    assert.deepEqual(
      tokenizer.encode('USER: <image>\nWhat is in the picture? ASSISTANT:'),
      [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618, 338, 297, 278, 7623, 29973, 319, 1799, 9047, 13566, 29901],
    );
  });

  test("matches llama-tokenizer-js's own known cases (spaces, merge order)", () => {
    assert.deepEqual(tokenizer.encode('grabbed'), [1, 2646, 1327, 287]);
    assert.deepEqual(tokenizer.encode(' grabbed'), [1, 29871, 2646, 1327, 287]);
    assert.deepEqual(tokenizer.encode('           grabbed'), [1, 9651, 2646, 1327, 287]);
  });

  test('agrees with llama-tokenizer-js on text without added tokens', () => {
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      'A picture of two cats sleeping on a red sofa\nand a dog.',
      'Emoji 😀🐱 and 你好，世界 and Ünïcödé ✓',
      'tabs\tand  double  spaces   here',
      "It's 3:45pm; isn't it? (Yes!) 12345 + 6789 = 19134",
    ];
    for (const text of texts) assert.deepEqual(tokenizer.encode(text), llamaTokenizer.encode(text), text);
  });

  test('writes the HF LLaMA tokenizer.json layout', () => {
    const json = readJson('tokenizer.json');
    assert.deepEqual(json.normalizer, {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    });
    assert.equal(json.pre_tokenizer, null);
    assert.deepEqual(json.post_processor.single, [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }]);
    assert.deepEqual(
      json.decoder.decoders.map((d: { type: string }) => d.type),
      ['Replace', 'ByteFallback', 'Fuse', 'Strip'],
    );
    assert.equal(json.model.type, 'BPE');
    assert.equal(json.model.byte_fallback, true);
    assert.equal(json.model.fuse_unk, true);
    assert.equal(json.model.unk_token, '<unk>');
    assert.equal(Object.keys(json.model.vocab).length, 32000);
    assert.equal(json.model.vocab['<0x0A>'], 13);
    // LLaMA's first merges, in rank order.
    assert.deepEqual(json.model.merges.slice(0, 3), ['▁ t', 'e r', 'i n']);
    assert.equal(json.model.merges.length, llamaTokenizer.merges.size);
    assert.deepEqual(
      json.added_tokens.map((t: { id: number; content: string; special: boolean }) => [t.id, t.content, t.special]),
      [
        [0, '<unk>', true],
        [1, '<s>', true],
        [2, '</s>', true],
        [TINY_IMAGE_TOKEN_ID, '<image>', true],
        [TINY_PAD_TOKEN_ID, '<pad>', true],
      ],
    );
  });

  test("writes llava-1.5-7b-hf's tokenizer_config.json and special_tokens_map.json", () => {
    const config = readJson('tokenizer_config.json');
    assert.equal(config.tokenizer_class, 'LlamaTokenizer');
    assert.equal(config.add_bos_token, true);
    assert.equal(config.add_eos_token, false);
    assert.equal(config.padding_side, 'left');
    assert.deepEqual([config.bos_token, config.eos_token, config.unk_token, config.pad_token], ['<s>', '</s>', '<unk>', '<pad>']);
    assert.equal(config.chat_template, LLAVA_15_CHAT_TEMPLATE);
    assert.deepEqual(Object.keys(config.added_tokens_decoder), ['0', '1', '2', '32000', '32001']);
    assert.equal(config.added_tokens_decoder['32000'].content, '<image>');
    const map = readJson('special_tokens_map.json');
    assert.equal(map.pad_token.content, '<pad>');
    assert.equal(map.bos_token.content, '<s>');
  });

  test('the loaded tokenizer knows the added tokens', () => {
    assert.equal(tokenizer.tokenId('<image>'), TINY_IMAGE_TOKEN_ID);
    assert.equal(tokenizer.tokenId('<pad>'), TINY_PAD_TOKEN_ID);
    assert.equal(tokenizer.vocabSize, 32002);
  });
});
