// A comma-separated option of names from a fixed set (`--weights q8,q4`, `--peers llama.cpp,torch`):
// each name known, none twice, in the order given.
import { OptionError } from '../errors.js';

export function parseNameList<T extends string>(subject: string, text: string, allowed: readonly T[]): T[] {
  const names = text.split(',').map((n) => n.trim());
  const bad = names.find((n) => !(allowed as readonly string[]).includes(n));
  if (bad !== undefined || new Set(names).size !== names.length) {
    throw new OptionError({ subject, expected: `a list of distinct ${allowed.join(', ')}`, found: JSON.stringify(text) });
  }
  return names as T[];
}
