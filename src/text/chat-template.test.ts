// Chat templates: the llava-1.5-hf template (with its {% generation %} tags) renders the known
// prompt, files are searched in the documented order, and broken templates are TokenizerErrors.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TokenizerError } from '../errors.js';
import { writeTinyTokenizer } from '../tools/tiny-tokenizer.js';
import {
  BUILT_IN_TEMPLATE_SOURCE,
  LLAVA_15_CHAT_TEMPLATE,
  compileChatTemplate,
  loadChatTemplate,
  userTurn,
} from './chat-template.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-template-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A checkpoint directory with a tiny tokenizer whose tokenizer_config.json `chat_template` is set. */
function checkpoint(chatTemplate: unknown): string {
  const dir = join(root, `c${dirCount++}`);
  writeTinyTokenizer(dir);
  const path = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...config, chat_template: chatTemplate }));
  return dir;
}

const tokens = { bosToken: '<s>', eosToken: '</s>' };
const question = 'What is in the picture?';

function assertTokenizerError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TokenizerError, `expected a TokenizerError, got ${String(error)}`);
    for (const text of mentions) assert.ok(error.message.includes(text), `"${error.message}" should mention ${text}`);
    return true;
  });
}

describe('the llava-1.5-hf template', () => {
  const template = compileChatTemplate('test', LLAVA_15_CHAT_TEMPLATE, tokens);

  test('renders the known prompt for one image and a question', () => {
    assert.equal(template.render(userTurn(question, true)), 'USER: <image>\nWhat is in the picture? ASSISTANT:');
  });

  test('renders no image line without an image', () => {
    assert.equal(template.render(userTurn(question, false)), 'USER: What is in the picture? ASSISTANT:');
  });

  test('keeps the content of {% generation %} blocks in assistant turns', () => {
    const text = template.render(
      [
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'A cat.' }] },
      ],
      { addGenerationPrompt: false },
    );
    assert.equal(text, 'USER: <image>\nHi ASSISTANT: A cat. ');
  });

  test('generation tags with whitespace control are accepted too', () => {
    const tagged = compileChatTemplate('test', '[{%- generation -%} {{ bos_token }}x {%- endgeneration %}]', tokens);
    assert.equal(tagged.render([]), '[<s>x]');
  });
});

describe('loadChatTemplate', () => {
  test('reads tokenizer_config.json and passes bos_token / eos_token', () => {
    const dir = checkpoint('{{ bos_token }}{{ messages[0].content[0].text }}{{ eos_token }}');
    const template = loadChatTemplate(dir);
    assert.equal(template.source, `${join(dir, 'tokenizer_config.json')}: chat_template`);
    assert.equal(template.render(userTurn('hi', false)), '<s>hi</s>');
  });

  test('takes the "default" entry of a list of named templates', () => {
    const dir = checkpoint([
      { name: 'tool_use', template: 'TOOLS' },
      { name: 'default', template: 'DEFAULT' },
    ]);
    assert.equal(loadChatTemplate(dir).render([]), 'DEFAULT');
  });

  test('a list without "default" is an error naming the key', () => {
    const dir = checkpoint([{ name: 'tool_use', template: 'TOOLS' }]);
    assertTokenizerError(() => loadChatTemplate(dir), 'tokenizer_config.json: chat_template');
  });

  test('chat_template.json wins over tokenizer_config.json, chat_template.jinja over both', () => {
    const dir = checkpoint('FROM CONFIG');
    writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: 'FROM JSON' }));
    assert.equal(loadChatTemplate(dir).render([]), 'FROM JSON');
    writeFileSync(join(dir, 'chat_template.jinja'), 'FROM JINJA\n');
    const template = loadChatTemplate(dir);
    assert.equal(template.render([]), 'FROM JINJA');
    assert.equal(template.source, join(dir, 'chat_template.jinja'));
  });

  test("falls back to LLaVA-1.5's prompt format when the checkpoint has no template", () => {
    const dir = checkpoint(null);
    const template = loadChatTemplate(dir);
    assert.equal(template.source, BUILT_IN_TEMPLATE_SOURCE);
    assert.equal(template.render(userTurn(question, true)), `USER: <image>\n${question} ASSISTANT:`);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    assert.equal(loadChatTemplate(empty).source, BUILT_IN_TEMPLATE_SOURCE);
  });

  test('a template that does not parse is an error naming the file', () => {
    const dir = checkpoint('{% for message in %}');
    assertTokenizerError(() => loadChatTemplate(dir), join(dir, 'tokenizer_config.json'), 'parse');
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ unclosed');
    assertTokenizerError(() => loadChatTemplate(dir), join(dir, 'chat_template.jinja'));
  });

  test('a template that fails to render is an error naming the file', () => {
    const dir = checkpoint("{{ raise_exception('only text turns') }}");
    const template = loadChatTemplate(dir);
    assertTokenizerError(() => template.render(userTurn('hi', true)), join(dir, 'tokenizer_config.json'), 'only text turns');
  });

  test('a malformed chat_template.json is an error naming the file', () => {
    const dir = checkpoint(null);
    writeFileSync(join(dir, 'chat_template.json'), '{"chat_template": ');
    assertTokenizerError(() => loadChatTemplate(dir), join(dir, 'chat_template.json'), 'valid JSON');
    writeFileSync(join(dir, 'chat_template.json'), '{"template": "x"}');
    assertTokenizerError(() => loadChatTemplate(dir), join(dir, 'chat_template.json'));
  });
});
