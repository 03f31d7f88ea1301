// The default model: visdrop-tiny, shipped in the package at assets/visdrop-tiny/ (F16 safetensors).
// `generate`, `show` and `bench` use it when no --model is given. The path is found from this
// file's own location, which sits at the same depth under src/ (run by tsx) and dist/ (built).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/** The package's assets/visdrop-tiny directory, whether or not it exists. */
export function defaultModelDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'visdrop-tiny');
}

/** `dir` when given; else the default model's directory, or a ConfigError naming it when it is absent. */
export function resolveModelDir(dir?: string, defaultDir: string = defaultModelDir()): string {
  if (dir !== undefined) return dir;
  if (!existsSync(join(defaultDir, 'config.json'))) {
    throw new ConfigError({
      subject: defaultDir,
      expected: 'the default model visdrop-tiny (used when --model is not given)',
      found: 'no config.json',
      hint: 'pass --model DIR, or train it with `npm run train:tiny`',
    });
  }
  return defaultDir;
}
