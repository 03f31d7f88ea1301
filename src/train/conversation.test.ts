// LLaVA's tokenisation and label masking (preprocess_v1, preprocess_plain) on the real LLaMA vocabulary:
// what stays unmasked is exactly each answer and its "</s>", the ids are tokenizer_image_token's, and
// LLaVA's quirks (first turn skipped when not the human's, the whole sample masked on a count mismatch) hold.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataError } from '../errors.js';
import { loadTokenizer } from '../text/index.js';
import { writeTinyTokenizer } from '../tools/tiny-tokenizer.js';
import { ConversationTokenizer, IGNORE_INDEX } from './conversation.js';
import type { ConversationTurn, DatasetSample } from './dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'visdrop-conversation-'));
after(() => rmSync(dir, { recursive: true, force: true }));
await writeTinyTokenizer(dir);
const tokenizer = loadTokenizer(dir);
const IMAGE = 32000;
const v1 = new ConversationTokenizer(tokenizer, IMAGE, 'vicuna_v1', 'data.json');
const plain = new ConversationTokenizer(tokenizer, IMAGE, 'plain', 'data.json');

const turn = (from: 'human' | 'gpt', value: string): ConversationTurn => ({ from, value });
const sample = (conversations: ConversationTurn[], image = true): DatasetSample => ({ index: 3, id: 'x7', image: image ? '/img.png' : null, conversations });

/** The unmasked stretches of labels, each decoded. */
function answerSpans(labels: readonly number[]): string[] {
  const spans: number[][] = [];
  labels.forEach((label, i) => {
    if (label === IGNORE_INDEX) return;
    if (i === 0 || labels[i - 1] === IGNORE_INDEX) spans.push([]);
    spans.at(-1)!.push(label);
  });
  return spans.map((ids) => tokenizer.decode(ids));
}

describe('vicuna_v1 (preprocess_v1)', () => {
  test('the image turn is rewritten to "<image>\\n..." and the ids are tokenizer_image_token\'s', () => {
    const s = sample([turn('human', 'What colour is it?\n<image>'), turn('gpt', 'Red')]);
    assert.equal(
      v1.prompt(s),
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: <image>\nWhat colour is it? ASSISTANT: Red</s>",
    );
    const { inputIds } = v1.tokenize(s);
    // "USER: " then the image, then "\nWhat..." tokenised on its own (its "▁" prefix kept, its BOS dropped),
    // as the llava-1.5 prompt ids Hugging Face gives: ... 3148 1001 29901 29871 32000 29871 13 5618 ...
    const at = inputIds.indexOf(IMAGE);
    assert.deepEqual(inputIds.slice(at - 4, at + 4), [3148, 1001, 29901, 29871, IMAGE, 29871, 13, 5618]);
    assert.equal(inputIds[0], 1);
    assert.equal(inputIds.filter((id) => id === 1).length, 1, 'one BOS');
  });

  test('multi-turn: only each answer and its </s> are labelled', () => {
    const s = sample([turn('human', '<image>\nWhat colour is it?'), turn('gpt', 'Red'), turn('human', 'And the shape?'), turn('gpt', 'A square.')]);
    const { inputIds, labels, mismatch } = v1.tokenize(s);
    assert.equal(mismatch, null);
    assert.equal(labels.length, inputIds.length);
    assert.deepEqual(answerSpans(labels), ['Red</s>', 'A square.</s>']);
    labels.forEach((label, i) => assert.ok(label === IGNORE_INDEX || label === inputIds[i]));
  });

  test('a text-only sample is tokenised whole, masked the same way', () => {
    const { inputIds, labels } = v1.tokenize(sample([turn('human', 'Say hi.'), turn('gpt', 'Hi!')], false));
    assert.ok(!inputIds.includes(IMAGE));
    assert.deepEqual(answerSpans(labels), ['Hi!</s>']);
  });

  test('a leading gpt turn is skipped, as LLaVA does', () => {
    const { labels } = v1.tokenize(sample([turn('gpt', 'Hello.'), turn('human', '<image>\nColour?'), turn('gpt', 'Blue')]));
    assert.deepEqual(answerSpans(labels), ['Blue</s>']);
  });

  test('turns that do not alternate are a DataError naming the sample', () => {
    assert.throws(
      () => v1.tokenize(sample([turn('human', '<image>\nA?'), turn('human', 'B?')])),
      (e: unknown) => e instanceof DataError && e.message.includes('data.json: sample 3 (id "x7")') && e.message.includes('alternating'),
    );
  });

  test("LLaVA's tokenization mismatch masks every label (an instruction holding \" ASSISTANT: \" breaks its round count)", () => {
    const { labels, mismatch } = v1.tokenize(sample([turn('human', '<image>\nRepeat " ASSISTANT: " please'), turn('gpt', 'No')]));
    assert.ok(mismatch !== null && mismatch.counted !== mismatch.total);
    assert.ok(labels.every((l) => l === IGNORE_INDEX));
  });

  test("the tiny llava-hf tokenizer prefixes text after a special token (LLaVA's legacy behaviour)", () => {
    assert.equal(v1.legacy, true);
  });
});

describe('plain (preprocess_plain)', () => {
  test('image + caption + "\\n", BOS and image masked', () => {
    const { inputIds, labels } = plain.tokenize(sample([turn('human', '<image>\nDescribe it briefly.'), turn('gpt', 'a red square')]));
    assert.deepEqual(inputIds, [1, IMAGE, 263, 2654, 6862, 13]);
    assert.deepEqual(labels, [IGNORE_INDEX, IGNORE_INDEX, 263, 2654, 6862, 13]);
  });

  test('anything but one human turn with <image> and a caption is a DataError', () => {
    assert.throws(() => plain.tokenize(sample([turn('human', '<image>\nA?'), turn('gpt', 'B'), turn('human', 'C?'), turn('gpt', 'D')])), DataError);
    assert.throws(() => plain.tokenize(sample([turn('human', 'A?'), turn('gpt', 'B')], false)), DataError);
  });
});
