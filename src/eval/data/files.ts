// Reading a benchmark's files: JSON and JSONL with every failure a DataError naming the file (and the
// line), and the checks a question file's records must pass before a model is loaded.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { DataError, describe } from '../../errors.js';

export function requireFile(path: string, what: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new DataError({ subject: path, expected: what, found: existsSync(path) ? 'a directory' : 'no such file' });
  }
  return path;
}

export function readJson(path: string, what: string): unknown {
  const text = readFileSync(requireFile(path, what), 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DataError({ subject: path, expected: `${what} (JSON)`, found: `unparsable JSON: ${(error as Error).message}`, cause: error });
  }
}

/** One JSON object per non-empty line. */
export function readJsonl(path: string, what: string): Record<string, unknown>[] {
  const lines = readFileSync(requireFile(path, what), 'utf8').split('\n');
  const records: Record<string, unknown>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DataError({ subject: `${path}:${i + 1}`, expected: `${what}: one JSON object per line`, found: describe(line) });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DataError({ subject: `${path}:${i + 1}`, expected: `${what}: one JSON object per line`, found: describe(value) });
    }
    records.push(value as Record<string, unknown>);
  });
  return records;
}

/** A record's field of the given kind, or a DataError naming the file, the record and the field. */
export function field<K extends 'string' | 'number' | 'id' | 'strings' | 'array' | 'object'>(
  record: Record<string, unknown>,
  name: string,
  kind: K,
  where: string,
): K extends 'string' ? string : K extends 'number' ? number : K extends 'id' ? string | number : K extends 'strings' ? string[] : K extends 'array' ? unknown[] : Record<string, unknown> {
  const value = record[name];
  const ok =
    kind === 'string' ? typeof value === 'string'
    : kind === 'number' ? typeof value === 'number'
    : kind === 'id' ? typeof value === 'string' || typeof value === 'number'
    : kind === 'strings' ? Array.isArray(value) && value.every((v) => typeof v === 'string')
    : kind === 'array' ? Array.isArray(value)
    : typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!ok) {
    const expected = { string: 'a string', number: 'a number', id: 'a string or number', strings: 'a list of strings', array: 'a list', object: 'an object' }[kind];
    throw new DataError({ subject: `${where}: "${name}"`, expected, found: describe(value) });
  }
  return value as never;
}
