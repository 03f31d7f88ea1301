// Reads a JSON file of a checkpoint directory, turning "missing" and "not JSON" into ConfigErrors
// that name the file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError, describe } from '../errors.js';

export function readJsonFile(dir: string, fileName: string): unknown {
  const path = join(dir, fileName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError({ subject: path, expected: 'a readable JSON file', found: 'no such file', cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ConfigError({ subject: path, expected: 'valid JSON', found: (cause as Error).message, cause });
  }
}

/** Validates `value` with a zod schema; the first issue becomes a ConfigError naming file and key. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, fileName: string): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.length > 0 ? issue.path.join('.') : '(root)';
  const found = issue.input === undefined ? 'nothing' : describe(issue.input);
  const expected = issue.message.replace(/^Invalid (input|option): expected /, '').replace(/, received \w+$/, '');
  throw new ConfigError({ subject: `${fileName}: ${key}`, expected, found });
}
