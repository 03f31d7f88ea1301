// The default model's directory: the package's assets/visdrop-tiny, and one clear error naming it
// when it is absent.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { defaultModelDir, resolveModelDir } from './default-model.js';

describe('default model', () => {
  test("is the package's assets/visdrop-tiny", () => {
    const dir = defaultModelDir();
    assert.equal(dir, join(import.meta.dirname, '..', '..', 'assets', 'visdrop-tiny'));
    assert.ok(existsSync(join(dirname(dirname(dir)), 'package.json')));
  });

  test('a given --model wins; without one, the default when it has a config.json, else a ConfigError naming its path', () => {
    const root = mkdtempSync(join(tmpdir(), 'visdrop-default-model-'));
    try {
      const absent = join(root, 'visdrop-tiny');
      assert.equal(resolveModelDir('elsewhere', absent), 'elsewhere');
      assert.throws(
        () => resolveModelDir(undefined, absent),
        (error: unknown) => error instanceof ConfigError && error.message.includes(absent) && error.message.includes('--model') && !error.message.includes('\n'),
      );
      mkdirSync(absent);
      writeFileSync(join(absent, 'config.json'), '{}');
      assert.equal(resolveModelDir(undefined, absent), absent);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
