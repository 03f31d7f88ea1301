// buildPrompt on the tiny llava-hf tokenizer: templated and raw prompts give the ids HF gives with
// the image marker as one token, and every marker/image mismatch is a PromptError.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PromptError, TokenizerError } from '../errors.js';
import { writeTinyTokenizer } from '../tools/tiny-tokenizer.js';
import { compileChatTemplate, loadChatTemplate, type ChatTemplate } from './chat-template.js';
import { buildPrompt, type PromptRequest } from './prompt.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

const IMAGE = 32000;
const QUESTION = 'What is in the picture?';
// HF llava-1.5-7b-hf: processor(text="USER: <image>\nWhat is in the picture? ASSISTANT:").input_ids
const HF_IDS = [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618, 338, 297, 278, 7623, 29973, 319, 1799, 9047, 13566, 29901];

const dir = mkdtempSync(join(tmpdir(), 'visdrop-prompt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function assertThrows(ErrorClass: typeof PromptError | typeof TokenizerError, fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ErrorClass, `expected a ${ErrorClass.name}, got ${String(error)}`);
    for (const text of mentions) assert.ok(error.message.includes(text), `"${error.message}" should mention ${text}`);
    return true;
  });
}

describe('buildPrompt', () => {
  let tokenizer: TextTokenizer;
  let template: ChatTemplate;
  let base: Omit<PromptRequest, 'hasImage'>;
  before(() => {
    writeTinyTokenizer(dir);
    tokenizer = loadTokenizer(dir);
    template = loadChatTemplate(dir);
    base = { tokenizer, template, imageTokenId: IMAGE };
  });

  test('renders a question with the chat template: HF ids, the image as one token', () => {
    const built = buildPrompt({ ...base, hasImage: true, prompt: QUESTION });
    assert.equal(built.text, `USER: <image>\n${QUESTION} ASSISTANT:`);
    assert.deepEqual(built.inputIds, HF_IDS);
    assert.deepEqual(built.imagePositions, [5]);
  });

  test('leaves the image out of the template without an image', () => {
    const built = buildPrompt({ ...base, hasImage: false, prompt: QUESTION });
    assert.equal(built.text, `USER: ${QUESTION} ASSISTANT:`);
    assert.deepEqual(built.inputIds, tokenizer.encode(`USER: ${QUESTION} ASSISTANT:`));
    assert.ok(!built.inputIds.includes(IMAGE));
    assert.deepEqual(built.imagePositions, []);
  });

  test("a null template means LLaVA-1.5's format", () => {
    const built = buildPrompt({ ...base, template: null, hasImage: true, prompt: QUESTION });
    assert.equal(built.text, `USER: <image>\n${QUESTION} ASSISTANT:`);
    assert.deepEqual(built.inputIds, HF_IDS);
  });

  test('uses a raw prompt verbatim, its marker where the image goes', () => {
    const rawPrompt = 'A chat.\nUSER: Describe this: <image> ASSISTANT:';
    const built = buildPrompt({ ...base, hasImage: true, rawPrompt });
    assert.equal(built.text, rawPrompt);
    assert.deepEqual(built.inputIds, tokenizer.encode(rawPrompt));
    assert.equal(built.inputIds[0], 1);
    assert.equal(built.inputIds[built.imagePositions[0]!], IMAGE);
    assert.equal(built.inputIds.filter((id) => id === IMAGE).length, 1);
  });

  test('a raw prompt without image needs no marker', () => {
    const built = buildPrompt({ ...base, hasImage: false, rawPrompt: 'USER: Hi ASSISTANT:' });
    assert.deepEqual(built.imagePositions, []);
  });

  test('text that already starts with BOS gets no second one', () => {
    const built = buildPrompt({ ...base, hasImage: true, rawPrompt: '<s>USER: <image>\nHi ASSISTANT:' });
    assert.equal(built.inputIds[0], 1);
    assert.notEqual(built.inputIds[1], 1);
    const bosTemplate = compileChatTemplate('test', '{{ bos_token }}Q: <image>{{ messages[0].content[1].text }}', tokenizer);
    const templated = buildPrompt({ ...base, template: bosTemplate, hasImage: true, prompt: 'x' });
    assert.deepEqual(templated.inputIds.filter((id) => id === 1), [1]);
  });

  test('exactly one of prompt and raw prompt', () => {
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: true }), 'neither');
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: true, prompt: 'a', rawPrompt: '<image>' }), 'both');
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: false, prompt: 'a', messages: [] }), 'both', 'messages');
  });

  test('a conversation rendered with the template, as a single question is', () => {
    const question = buildPrompt({ ...base, hasImage: true, prompt: 'Hi' });
    const conversation = buildPrompt({ ...base, hasImage: true, messages: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Hi' }] }] });
    assert.deepEqual(conversation.inputIds, question.inputIds);
  });

  test('an image without a marker', () => {
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: true, rawPrompt: 'USER: Hi ASSISTANT:' }), '<image>', 'image was given');
    const textOnly = compileChatTemplate('text-only template', '{{ messages[0].content[1].text }}', tokenizer);
    assertThrows(PromptError, () => buildPrompt({ ...base, template: textOnly, hasImage: true, prompt: 'Hi' }), 'text-only template');
  });

  test('a marker without an image', () => {
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: false, rawPrompt: 'USER: <image>\nHi ASSISTANT:' }), 'no image was given');
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: false, prompt: 'What is <image>?' }), 'no image was given');
  });

  test('more than one marker: one image per prompt', () => {
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: true, rawPrompt: '<image> and <image>' }), 'only one image per prompt');
    assertThrows(PromptError, () => buildPrompt({ ...base, hasImage: true, prompt: 'Compare with <image>' }), 'only one image per prompt', '2 markers');
  });

  test('an image token id the tokenizer cannot produce as one token', () => {
    assertThrows(TokenizerError, () => buildPrompt({ ...base, imageTokenId: 40000, hasImage: true, prompt: 'x' }), '40000');
    // "▁Hello" is a vocabulary entry, but text "▁Hello" does not encode as that one id.
    assertThrows(TokenizerError, () => buildPrompt({ ...base, imageTokenId: 15043, hasImage: true, prompt: 'x' }), '15043');
  });
});
