// A checkpoint's chat template: found in chat_template.jinja, chat_template.json or
// tokenizer_config.json (in that order), else LLaVA-1.5's own, and rendered with @huggingface/jinja
// the way transformers' apply_chat_template does. Unusable templates are TokenizerErrors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { TokenizerError, describe } from '../errors.js';
import { TOKENIZER_CONFIG_FILE, isJsonObject, readTokenizerJson, tokenContent } from './tokenizer.js';

/**
 * llava-hf/llava-1.5-7b-hf's template. Its `{% generation %}` tags are transformers-specific;
 * @huggingface/jinja (>= 0.5.11) drops the tag markers and keeps their content, as transformers
 * does when it is not tracking assistant tokens.
 */
export const LLAVA_15_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}" +
  "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}" +
  "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

/** The system prompt of LLaVA's `vicuna_v1` conversation template (llava/conversation.py). */
export const VICUNA_V1_SYSTEM_PROMPT =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

/**
 * LLaVA-1.5's own prompt, `conv_vicuna_v1` as its training and evaluation code build it:
 * "{system} USER: <image>\n{question} ASSISTANT: {answer}</s>USER: ..." (sep " ", sep2 "</s>"). A
 * leading system message replaces the default system prompt. For checkpoints trained with LLaVA's
 * code rather than llava-hf's processor (whose template has no system prompt).
 */
export const VICUNA_V1_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'][0]['text'] + ' ' }}{% else %}{{ '" +
  VICUNA_V1_SYSTEM_PROMPT.replace("'", "\\'") +
  " ' }}{% endif %}" +
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' }}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{ ' ' }}" +
  "{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' }}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{ eos_token }}" +
  "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

export const BUILT_IN_TEMPLATE_SOURCE = 'built-in LLaVA-1.5 chat template';

export type ChatContent = { readonly type: 'image' } | { readonly type: 'text'; readonly text: string };

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: readonly ChatContent[];
}

export interface RenderOptions {
  /** End with the assistant's turn header (e.g. `ASSISTANT:`); default true. */
  readonly addGenerationPrompt?: boolean;
}

export interface ChatTemplate {
  /** Where the template came from: a file (and key), or BUILT_IN_TEMPLATE_SOURCE. */
  readonly source: string;
  render(messages: readonly ChatMessage[], options?: RenderOptions): string;
}

/** The special tokens a template may refer to as `bos_token` / `eos_token`. */
export interface TemplateTokens {
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
}

/** One user turn: the image (if any) first, then the question, as llava-hf's processor builds it. */
export function userTurn(question: string, hasImage: boolean): ChatMessage[] {
  const text: ChatContent = { type: 'text', text: question };
  return [{ role: 'user', content: hasImage ? [{ type: 'image' }, text] : [text] }];
}

/** Parses `text` now, so a broken template fails at load time rather than at the first prompt. */
export function compileChatTemplate(source: string, text: string, tokens: TemplateTokens): ChatTemplate {
  let template: Template;
  try {
    template = new Template(text);
  } catch (cause) {
    throw new TokenizerError({
      subject: source,
      expected: 'a Jinja chat template that @huggingface/jinja can parse',
      found: (cause as Error).message,
      cause,
    });
  }
  return {
    source,
    render(messages, options = {}) {
      try {
        return template.render({
          messages,
          add_generation_prompt: options.addGenerationPrompt ?? true,
          bos_token: tokens.bosToken,
          eos_token: tokens.eosToken,
        });
      } catch (cause) {
        throw new TokenizerError({
          subject: source,
          expected: 'a chat template that renders a user turn',
          found: (cause as Error).message,
          cause,
        });
      }
    },
  };
}

/** The file's text, or undefined if there is no such file. */
function readOptionalText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError({ subject: path, expected: 'a readable file', found: (cause as Error).message, cause });
  }
}

interface FoundTemplate {
  readonly source: string;
  readonly text: string;
}

/**
 * tokenizer_config.json's `chat_template`: a template, or (transformers' multi-template form) a
 * list of {name, template} of which "default" is the one used for chat.
 */
function templateFromTokenizerConfig(config: Record<string, unknown>, path: string): FoundTemplate | undefined {
  const value = config.chat_template;
  const source = `${path}: chat_template`;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return { source, text: value };
  if (Array.isArray(value)) {
    const entry: unknown = value.find((e: unknown) => isJsonObject(e) && e.name === 'default');
    if (isJsonObject(entry) && typeof entry.template === 'string') return { source: `${source}[name=default]`, text: entry.template };
  }
  throw new TokenizerError({
    subject: source,
    expected: 'a template string or a list of {name, template} with a "default" entry',
    found: describe(value),
  });
}

function templateFile(dir: string): FoundTemplate | undefined {
  const jinjaPath = join(dir, 'chat_template.jinja');
  const jinja = readOptionalText(jinjaPath);
  if (jinja !== undefined) return { source: jinjaPath, text: jinja };

  const jsonPath = join(dir, 'chat_template.json');
  if (!existsSync(jsonPath)) return undefined;
  const json = readTokenizerJson(dir, 'chat_template.json');
  const text = isJsonObject(json) ? json.chat_template : undefined;
  if (typeof text !== 'string') {
    throw new TokenizerError({ subject: `${jsonPath}: chat_template`, expected: 'a template string', found: describe(text) });
  }
  return { source: `${jsonPath}: chat_template`, text };
}

/**
 * The checkpoint's chat template, or LLaVA-1.5's when it ships none. Its `bos_token` and
 * `eos_token` are tokenizer_config.json's.
 */
export function loadChatTemplate(dir: string): ChatTemplate {
  const configPath = join(dir, TOKENIZER_CONFIG_FILE);
  const config = existsSync(configPath) ? readTokenizerJson(dir, TOKENIZER_CONFIG_FILE) : {};
  if (!isJsonObject(config)) {
    throw new TokenizerError({ subject: configPath, expected: 'a JSON object', found: describe(config) });
  }
  const tokens = { bosToken: tokenContent(config, 'bos_token'), eosToken: tokenContent(config, 'eos_token') };
  const found = templateFile(dir) ?? templateFromTokenizerConfig(config, configPath);
  return found === undefined
    ? compileChatTemplate(BUILT_IN_TEMPLATE_SOURCE, LLAVA_15_CHAT_TEMPLATE, tokens)
    : compileChatTemplate(found.source, found.text, tokens);
}
