// Fuzzed tokenizer files (fast-check): tokenizer.json and tokenizer_config.json as arbitrary JSON,
// and the tiny checkpoint's real ones with top-level keys (model, added_tokens, normalizer, ...)
// replaced by arbitrary values. Only TokenizerError comes out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { TokenizerError } from '../errors.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { TextTokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

function onlyTokenizerErrors(build: () => TextTokenizer): true {
  try {
    const tokenizer = build();
    tokenizer.encode('USER: <image>\nWhat is in the picture? ASSISTANT:', { addSpecialTokens: true });
  } catch (error) {
    if (!(error instanceof TokenizerError)) assert.fail(`not a TokenizerError: ${(error as Error)?.stack ?? String(error)}`);
  }
  return true;
}

describe('tokenizer files under fuzzing', () => {
  let dir: string;
  let tokenizerJson: Json;
  let config: Json;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-fuzz-tok-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0 });
    tokenizerJson = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Json;
    config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Json;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('arbitrary JSON as either file', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (json, cfg) => onlyTokenizerErrors(() => new TextTokenizer(json, config)) && onlyTokenizerErrors(() => new TextTokenizer(tokenizerJson, cfg))),
      { numRuns: 25 },
    );
  });

  it('the real files with top-level keys replaced by arbitrary values', () => {
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom(null, [], {}, '', 0, -1, [{ id: 'x', content: 5 }], { type: 'BPE' }, { type: 'Nonsense' }));
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(tokenizerJson)), value, fc.constantFrom(...Object.keys(config)), value, (key, v, configKey, cv) =>
        onlyTokenizerErrors(() => new TextTokenizer({ ...tokenizerJson, [key]: v }, { ...config, [configKey]: cv })),
      ),
      { numRuns: 25 },
    );
  });
});
