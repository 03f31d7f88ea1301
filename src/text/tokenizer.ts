// The text tokenizer of a llava-hf checkpoint: tokenizer.json + tokenizer_config.json run by
// @huggingface/tokenizers behind a small typed wrapper. `encode` adds special tokens as
// transformers' `tokenizer(text)` does and `decode` matches `tokenizer.decode(ids, ...)`.
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readJsonFile } from '../config/json-file.js';
import { ConfigError, TokenizerError, describe } from '../errors.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

export interface EncodeOptions {
  /** Add BOS/EOS as the post-processor says (transformers' `add_special_tokens`); default true. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (`<s>`, `</s>`, `<image>`, ...); default false, as in transformers. */
  readonly skipSpecialTokens?: boolean;
  /** Apply transformers' `clean_up_tokenization_spaces`; default: the checkpoint's setting. */
  readonly cleanUpSpaces?: boolean;
}

/**
 * Reads a JSON file of the tokenizer, reporting a missing or unparsable file as a TokenizerError
 * naming it (readJsonFile reports ConfigErrors, which would point users at the wrong layer).
 */
export function readTokenizerJson(dir: string, fileName: string): unknown {
  try {
    return readJsonFile(dir, fileName);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new TokenizerError({
      subject: error.subject,
      expected: error.expected,
      found: error.found,
      hint:
        fileName === TOKENIZER_FILE && error.found === 'no such file'
          ? 'visdrop reads the fast-tokenizer file that llava-hf checkpoints ship, not tokenizer.model'
          : undefined,
      cause: error.cause,
    });
  }
}

/**
 * transformers' `clean_up_tokenization_spaces` step, pass by pass. Exported so the stream decoder
 * can apply exactly the same function to the text it releases.
 */
export function cleanUpTokenizationSpaces(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

type JsonObject = Record<string, unknown>;

/** A JSON object (not an array or null), so its keys can be read. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A special token in tokenizer_config.json is either its content or a serialised AddedToken. */
export function tokenContent(config: JsonObject, key: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isJsonObject(value) && typeof value.content === 'string') return value.content;
  throw new TokenizerError({
    subject: `${TOKENIZER_CONFIG_FILE}: ${key}`,
    expected: 'a token string or {"content": ...}',
    found: describe(value),
  });
}

function optionalBoolean(config: JsonObject, key: string): boolean | undefined {
  const value = config[key];
  if (typeof value === 'boolean') return value;
  if (value === undefined || value === null) return undefined;
  throw new TokenizerError({ subject: `${TOKENIZER_CONFIG_FILE}: ${key}`, expected: 'true or false', found: describe(value) });
}

/**
 * transformers' LlamaTokenizerFast ignores tokenizer.json's post-processor and rebuilds it from
 * `add_bos_token` (default true) and `add_eos_token` (default false) on load; this is that rebuild,
 * so a config that turns BOS off (or EOS on) is honoured here as it is in Python.
 */
function llamaPostProcessor(config: JsonObject): JsonObject {
  const addBos = optionalBoolean(config, 'add_bos_token') ?? true;
  const addEos = optionalBoolean(config, 'add_eos_token') ?? false;
  const special = (key: 'bos_token' | 'eos_token', typeId: number) => {
    const content = tokenContent(config, key);
    if (content === undefined) {
      throw new TokenizerError({
        subject: `${TOKENIZER_CONFIG_FILE}: ${key}`,
        expected: `a token, since add_${key} is true`,
        found: 'nothing',
      });
    }
    return { SpecialToken: { id: content, type_id: typeId } };
  };
  const sequence = (id: 'A' | 'B', typeId: number) => [
    ...(addBos ? [special('bos_token', typeId)] : []),
    { Sequence: { id, type_id: typeId } },
    ...(addEos ? [special('eos_token', typeId)] : []),
  ];
  // tokenizers.js maps template tokens to ids by content, so no `special_tokens` table is needed.
  return { type: 'TemplateProcessing', single: sequence('A', 0), pair: [...sequence('A', 0), ...sequence('B', 1)] };
}

/**
 * The slice of tokenizers.js' Tokenizer that visdrop uses, copied from its
 * types/core/Tokenizer.d.ts: that package's .d.ts files use extension-less relative imports, which
 * NodeNext resolution cannot follow, so the class itself arrives typed as `any`.
 */
interface TokenizersJs {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}

const LLAMA_TOKENIZER_CLASSES = new Set(['LlamaTokenizer', 'LlamaTokenizerFast']);

export class TextTokenizer {
  readonly bosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  readonly eosToken: string | undefined;
  readonly eosTokenId: number | undefined;
  /** Highest id + 1, counting added tokens such as `<image>` (transformers' `len(tokenizer)`). */
  readonly vocabSize: number;
  /** Whether `decode` cleans up tokenization spaces by default (`clean_up_tokenization_spaces`). */
  readonly cleanUpSpaces: boolean;
  private readonly inner: TokenizersJs;
  private readonly tokenizerPath: string;

  /**
   * `tokenizerJson` and `config` are the parsed tokenizer.json and tokenizer_config.json; `dir`,
   * where they came from, only goes into error messages.
   */
  constructor(tokenizerJson: unknown, config: unknown, dir = '') {
    if (!isJsonObject(tokenizerJson)) {
      throw new TokenizerError({ subject: join(dir, TOKENIZER_FILE), expected: 'a JSON object', found: describe(tokenizerJson) });
    }
    if (!isJsonObject(config)) {
      throw new TokenizerError({ subject: join(dir, TOKENIZER_CONFIG_FILE), expected: 'a JSON object', found: describe(config) });
    }
    this.tokenizerPath = join(dir, TOKENIZER_FILE);
    const tokenizerClass = config.tokenizer_class;
    const json =
      typeof tokenizerClass === 'string' && LLAMA_TOKENIZER_CLASSES.has(tokenizerClass)
        ? { ...tokenizerJson, post_processor: llamaPostProcessor(config) }
        : tokenizerJson;
    try {
      this.inner = new Tokenizer(json, config) as TokenizersJs;
    } catch (cause) {
      throw new TokenizerError({
        subject: this.tokenizerPath,
        expected: 'a tokenizer @huggingface/tokenizers can load',
        found: (cause as Error).message,
        cause,
      });
    }
    this.bosToken = tokenContent(config, 'bos_token');
    this.eosToken = tokenContent(config, 'eos_token');
    this.bosTokenId = this.bosToken === undefined ? undefined : this.tokenId(this.bosToken);
    this.eosTokenId = this.eosToken === undefined ? undefined : this.tokenId(this.eosToken);
    // transformers' LlamaTokenizerFast and (since v4.45) the base class default this to false;
    // tokenizers.js would default it to true, so the wrapper decides and always passes it.
    this.cleanUpSpaces = optionalBoolean(config, 'clean_up_tokenization_spaces') ?? false;
    let maxId = -1;
    for (const id of this.inner.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const { ids } = this.inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    // A piece outside the vocabulary becomes the unk id, which is undefined without an unk token.
    const bad = ids.findIndex((id) => !Number.isInteger(id));
    if (bad >= 0) {
      throw new TokenizerError({
        subject: `${this.tokenizerPath}: model.unk_token`,
        expected: 'an unknown-token for text the vocabulary cannot cover',
        found: `nothing, while encoding ${describe(text)}`,
      });
    }
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    // tokenizers.js rejects an empty list; transformers returns ''.
    if (ids.length === 0) return '';
    const text = this.inner.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
    return (options.cleanUpSpaces ?? this.cleanUpSpaces) ? cleanUpTokenizationSpaces(text) : text;
  }

  /** The id of a token given by its content (added tokens included), e.g. `<image>` -> 32000. */
  tokenId(content: string): number | undefined {
    return this.inner.token_to_id(content);
  }

  /** The content of the token with this id, e.g. 32000 -> `<image>`. */
  token(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }
}

/** Loads `tokenizer.json` and `tokenizer_config.json` from a checkpoint directory. */
export function loadTokenizer(dir: string): TextTokenizer {
  const tokenizerJson = readTokenizerJson(dir, TOKENIZER_FILE);
  const config = readTokenizerJson(dir, TOKENIZER_CONFIG_FILE);
  return new TextTokenizer(tokenizerJson, config, dir);
}
