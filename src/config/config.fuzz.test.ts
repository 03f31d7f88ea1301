// Fuzzed config files (fast-check): config.json and preprocessor_config.json as arbitrary JSON and
// as a valid tiny config with keys replaced by arbitrary values. Only ConfigError comes out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError } from '../errors.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { normalizeLlavaConfig } from './llava.js';
import { normalizePreprocessorConfig } from './preprocessor.js';

type Json = Record<string, unknown>;

/** Sets `value` at a path of keys into a deep copy of `object` (creating objects on the way). */
function replaced(object: Json, path: readonly string[], value: unknown): Json {
  const copy = structuredClone(object);
  let at: Json = copy;
  for (const key of path.slice(0, -1)) at = (typeof at[key] === 'object' && at[key] !== null ? at[key] : (at[key] = {})) as Json;
  at[path.at(-1)!] = value;
  return copy;
}

function onlyConfigErrors(parse: () => unknown): true {
  try {
    parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) assert.fail(`not a ConfigError: ${(error as Error)?.stack ?? String(error)}`);
  }
  return true;
}

describe('config files under fuzzing', () => {
  let dir: string;
  let config: Json;
  let preprocessor: Json;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-fuzz-config-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0, arch: 'llava-next' });
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json;
    preprocessor = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as Json;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const keyPath = (object: () => Json) =>
    fc.nat().chain((n) => {
      const paths = Object.entries(object()).flatMap(([k, v]) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v).map((inner) => [k, inner]) : [[k]]));
      return fc.constant(paths[n % paths.length]!);
    });

  it('arbitrary JSON as config.json and preprocessor_config.json', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => onlyConfigErrors(() => normalizeLlavaConfig(value)) && onlyConfigErrors(() => normalizePreprocessorConfig(value))), { numRuns: 200 });
  });

  it('a valid config with keys replaced by arbitrary values', () => {
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom(0, -1, 1e308, 2 ** 53, 0.5, '', [], {}, null));
    fc.assert(
      fc.property(fc.array(fc.tuple(keyPath(() => config), value), { minLength: 1, maxLength: 3 }), (edits) =>
        onlyConfigErrors(() => normalizeLlavaConfig(edits.reduce((c, [path, v]) => replaced(c, path, v), config))),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(keyPath(() => preprocessor), value), { minLength: 1, maxLength: 3 }), (edits) =>
        onlyConfigErrors(() => normalizePreprocessorConfig(edits.reduce((c, [path, v]) => replaced(c, path, v), preprocessor))),
      ),
      { numRuns: 200 },
    );
  });
});
