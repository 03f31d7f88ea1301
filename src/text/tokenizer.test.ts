// loadTokenizer on a tiny llava-hf tokenizer: special tokens, decode round trips, the config
// switches transformers honours, and a TokenizerError naming the file for every broken input.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenizerError } from '../errors.js';
import { writeTinyTokenizer } from '../tools/tiny-tokenizer.js';
import { cleanUpTokenizationSpaces, loadTokenizer, type TextTokenizer } from './tokenizer.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-tokenizer-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh tiny tokenizer directory, with `edit` applied to its tokenizer_config.json. */
function tinyDir(edit?: (config: Record<string, unknown>) => void): string {
  const dir = join(root, `t${dirCount++}`);
  writeTinyTokenizer(dir);
  if (edit) {
    const path = join(dir, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(config);
    writeFileSync(path, JSON.stringify(config));
  }
  return dir;
}

function assertTokenizerError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TokenizerError, `expected a TokenizerError, got ${String(error)}`);
    for (const text of mentions) assert.ok(error.message.includes(text), `"${error.message}" should mention ${text}`);
    return true;
  });
}

describe('loadTokenizer', () => {
  let tokenizer: TextTokenizer;
  before(() => {
    tokenizer = loadTokenizer(tinyDir());
  });

  test('exposes the special tokens and the vocabulary size', () => {
    assert.equal(tokenizer.bosToken, '<s>');
    assert.equal(tokenizer.bosTokenId, 1);
    assert.equal(tokenizer.eosToken, '</s>');
    assert.equal(tokenizer.eosTokenId, 2);
    assert.equal(tokenizer.vocabSize, 32002);
    assert.equal(tokenizer.tokenId('<image>'), 32000);
    assert.equal(tokenizer.tokenId('▁Hello'), 15043);
    assert.equal(tokenizer.tokenId('no such token'), undefined);
    assert.equal(tokenizer.token(32001), '<pad>');
    assert.equal(tokenizer.token(99999), undefined);
    assert.equal(tokenizer.cleanUpSpaces, false);
  });

  test('encodes without special tokens on request', () => {
    assert.deepEqual(tokenizer.encode('Hello world!', { addSpecialTokens: false }), [15043, 3186, 29991]);
  });

  test('decodes as transformers does, with and without special tokens', () => {
    const ids = [1, 15043, 3186, 29991, 2];
    assert.equal(tokenizer.decode(ids), '<s> Hello world!</s>');
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), 'Hello world!');
    assert.equal(tokenizer.decode([]), '');
  });

  test('round-trips text through byte-fallback tokens', () => {
    const texts = ['Hello world!', ' leading space', 'Emoji 😀🐱, 你好世界, Ünïcödé ✓', 'two\nlines\n\nand  gaps'];
    for (const text of texts) assert.equal(tokenizer.decode(tokenizer.encode(text), { skipSpecialTokens: true }), text);
  });

  test('decodes the space the legacy normaliser puts after an added token', () => {
    const ids = tokenizer.encode('<image> is kept whole');
    assert.equal(ids[1], 32000);
    assert.equal(tokenizer.decode(ids), '<s><image>  is kept whole');
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), ' is kept whole');
  });

  test('encodes an emoji as its UTF-8 bytes', () => {
    // 😀 is F0 9F 98 80; byte tokens <0xNN> have id 3 + NN.
    assert.deepEqual(tokenizer.encode('😀', { addSpecialTokens: false }), [29871, 3 + 0xf0, 3 + 0x9f, 3 + 0x98, 3 + 0x80]);
  });
});

describe('tokenizer_config.json switches', () => {
  test('add_bos_token false and add_eos_token true rebuild the post-processor, as LlamaTokenizerFast does', () => {
    const noBos = loadTokenizer(tinyDir((c) => (c.add_bos_token = false)));
    assert.deepEqual(noBos.encode('Hello world!'), [15043, 3186, 29991]);
    const withEos = loadTokenizer(tinyDir((c) => (c.add_eos_token = true)));
    assert.deepEqual(withEos.encode('Hello world!'), [1, 15043, 3186, 29991, 2]);
  });

  test('special tokens may be serialised AddedTokens', () => {
    const dir = tinyDir((c) => (c.eos_token = { __type: 'AddedToken', content: '</s>', special: true }));
    assert.equal(loadTokenizer(dir).eosTokenId, 2);
  });

  test('clean_up_tokenization_spaces true cleans decoded text unless told not to', () => {
    const tokenizer = loadTokenizer(tinyDir((c) => (c.clean_up_tokenization_spaces = true)));
    const ids = tokenizer.encode("Hello , world . I do n't know !");
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), "Hello, world. I don't know!");
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true, cleanUpSpaces: false }), "Hello , world . I do n't know !");
  });

  test('cleanUpTokenizationSpaces applies the passes of transformers in order', () => {
    assert.equal(cleanUpTokenizationSpaces("a ' b it 's we 're they 've I 'm no ?"), "a'b it's we're they've I'm no?");
  });
});

describe('broken tokenizer files', () => {
  test('a missing tokenizer.json names the file', () => {
    const dir = tinyDir();
    rmSync(join(dir, 'tokenizer.json'));
    assertTokenizerError(() => loadTokenizer(dir), join(dir, 'tokenizer.json'), 'no such file');
  });

  test('a missing tokenizer_config.json names the file', () => {
    const dir = tinyDir();
    rmSync(join(dir, 'tokenizer_config.json'));
    assertTokenizerError(() => loadTokenizer(dir), join(dir, 'tokenizer_config.json'));
  });

  test('malformed JSON names the file', () => {
    const dir = tinyDir();
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    assertTokenizerError(() => loadTokenizer(dir), join(dir, 'tokenizer.json'), 'valid JSON');
    const dir2 = tinyDir();
    writeFileSync(join(dir2, 'tokenizer_config.json'), 'not json');
    assertTokenizerError(() => loadTokenizer(dir2), join(dir2, 'tokenizer_config.json'), 'valid JSON');
  });

  test('JSON that is not a tokenizer names the file', () => {
    const dir = tinyDir();
    writeFileSync(join(dir, 'tokenizer.json'), '{"added_tokens": []}');
    assertTokenizerError(() => loadTokenizer(dir), join(dir, 'tokenizer.json'), 'model');
    writeFileSync(join(dir, 'tokenizer.json'), '[1, 2]');
    assertTokenizerError(() => loadTokenizer(dir), join(dir, 'tokenizer.json'), 'a JSON object');
  });

  test('a special token of the wrong kind names the key', () => {
    const dir = tinyDir((c) => (c.bos_token = 7));
    assertTokenizerError(() => loadTokenizer(dir), 'tokenizer_config.json: bos_token');
  });
});
