// StreamDecoder against the tiny llava-hf tokenizer: the chunks must add up to the full decode for
// multi-byte text, leading spaces, special tokens, unfinished byte sequences and random id streams,
// and text must be held back while a UTF-8 sequence is unfinished.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeTinyTokenizer } from '../tools/tiny-tokenizer.js';
import { StreamDecoder } from './stream-decoder.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-stream-'));
after(() => rmSync(root, { recursive: true, force: true }));

function tiny(name: string, cleanUpSpaces: boolean): TextTokenizer {
  const dir = join(root, name);
  writeTinyTokenizer(dir);
  const path = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...config, clean_up_tokenization_spaces: cleanUpSpaces }));
  return loadTokenizer(dir);
}

/** Streams `ids`; returns every push's chunk and the flush at the end. */
function stream(tokenizer: TextTokenizer, ids: readonly number[], skipSpecialTokens = true): { chunks: string[]; rest: string } {
  const decoder = new StreamDecoder(tokenizer, { skipSpecialTokens });
  const chunks = ids.map((id) => decoder.push(id));
  return { chunks, rest: decoder.flush() };
}

function streamed(tokenizer: TextTokenizer, ids: readonly number[], skipSpecialTokens = true): string {
  const { chunks, rest } = stream(tokenizer, ids, skipSpecialTokens);
  return chunks.join('') + rest;
}

/** A small deterministic generator (LCG), so a failing random case can be replayed. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('StreamDecoder', () => {
  let tokenizer: TextTokenizer;
  before(() => {
    tokenizer = tiny('plain', false);
  });

  test('emoji and Chinese stream to exactly the full decode', () => {
    const text = 'A cat 😺 sits. 你好，世界！ Ünïcödé ✓🚀\nNext line 🇯🇵.';
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const { chunks, rest } = stream(tokenizer, ids);
    assert.equal(chunks.join('') + rest, tokenizer.decode(ids, { skipSpecialTokens: true }));
    assert.equal(chunks.join('') + rest, text);
    assert.equal(rest, '');
    for (const chunk of chunks) assert.ok(!chunk.includes('\uFFFD'), `chunk ${JSON.stringify(chunk)} has a broken character`);
  });

  test('holds back the bytes of a character until it is complete', () => {
    // "😀" is four byte-fallback tokens after "▁".
    const ids = tokenizer.encode('Hi 😀', { addSpecialTokens: false });
    assert.deepEqual(ids.slice(-4), [3 + 0xf0, 3 + 0x9f, 3 + 0x98, 3 + 0x80]);
    const { chunks } = stream(tokenizer, ids);
    assert.deepEqual(chunks.slice(-4), ['', '', '', '😀']);
  });

  test('the first token neither loses nor gains a space', () => {
    const ids = tokenizer.encode('The answer is two cats.', { addSpecialTokens: false });
    const { chunks } = stream(tokenizer, ids);
    assert.equal(chunks[0], 'The');
    assert.equal(chunks[1], ' answer');
    // A leading lone "▁" keeps one space, as in the full decode.
    const spaced = [29871, ...ids];
    assert.equal(streamed(tokenizer, spaced), tokenizer.decode(spaced, { skipSpecialTokens: true }));
    assert.equal(streamed(tokenizer, spaced), ' The answer is two cats.');
  });

  test('special tokens: skipped or kept exactly as decode does', () => {
    const ids = [1, ...tokenizer.encode('Yes . 😀 ok', { addSpecialTokens: false }), 2, 32000, 29871, 13, 15043, 2];
    assert.equal(streamed(tokenizer, ids, true), tokenizer.decode(ids, { skipSpecialTokens: true }));
    assert.equal(streamed(tokenizer, ids, false), tokenizer.decode(ids));
    // A skipped token in the middle must not eat the next token's space.
    assert.equal(streamed(tokenizer, [3869, 2, 3869]), 'Yes Yes');
  });

  test('an unfinished byte sequence at the end comes out of flush, as decode gives it', () => {
    const ids = [15043, 3 + 0xe2, 3 + 0x82];
    const { chunks, rest } = stream(tokenizer, ids);
    assert.deepEqual(chunks, ['Hello', '', '']);
    assert.equal(rest, tokenizer.decode(ids, { skipSpecialTokens: true }).slice('Hello'.length));
    assert.ok(rest.endsWith('\uFFFD'));
  });

  test('random id streams add up to the full decode', () => {
    const pool = [
      ...tokenizer.encode('Hello, world! 你好 😀 new\nline', { addSpecialTokens: false }),
      ...Array.from({ length: 24 }, (_, i) => 3 + [0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0x41, 0xff, 0xc3, 0xa9, 0x20][i % 12]!),
      0, 1, 2, 32000, 32001, 29871, 13,
    ];
    const next = lcg(7);
    for (let run = 0; run < 300; run++) {
      const ids = Array.from({ length: 1 + Math.floor(next() * 14) }, () => pool[Math.floor(next() * pool.length)]!);
      for (const skip of [true, false]) {
        assert.equal(streamed(tokenizer, ids, skip), tokenizer.decode(ids, { skipSpecialTokens: skip }), `ids ${JSON.stringify(ids)}`);
      }
    }
  });
});

describe('StreamDecoder with clean_up_tokenization_spaces', () => {
  let tokenizer: TextTokenizer;
  before(() => {
    tokenizer = tiny('cleanup', true);
  });

  test("streams to transformers' cleaned-up text", () => {
    const ids = tokenizer.encode("I do n't know , it 's a cat . Is it ? Yes !", { addSpecialTokens: false });
    assert.equal(streamed(tokenizer, ids), "I don't know, it's a cat. Is it? Yes!");
  });

  test('clean-up passes that join across a space are not cut apart', () => {
    // " ' " removes both its spaces, after which " n't" / " 's" can match across them.
    for (const text of ["a n ' t", "it ' s", "so ' ' m", "we  ' re", "x ' . y", 'a , b . c']) {
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      assert.equal(streamed(tokenizer, ids), tokenizer.decode(ids, { skipSpecialTokens: true }), text);
    }
  });

  test('random streams of clean-up prone tokens add up to the full decode', () => {
    // Words, lone spaces and the characters clean-up patterns are made of.
    const pool = ['▁', '▁n', "'", "▁'", 't', 's', 'm', 're', 've', '.', '▁.', ',', '?', '!', '▁a', 'n', '▁is']
      .map((token) => tokenizer.tokenId(token))
      .filter((id): id is number => id !== undefined);
    assert.ok(pool.length >= 15);
    const next = lcg(11);
    for (let run = 0; run < 1000; run++) {
      const ids = Array.from({ length: 1 + Math.floor(next() * 12) }, () => pool[Math.floor(next() * pool.length)]!);
      assert.equal(streamed(tokenizer, ids), tokenizer.decode(ids, { skipSpecialTokens: true }), `ids ${JSON.stringify(ids)}`);
    }
  });
});
