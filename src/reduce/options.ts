// Strategy options are validated once, with zod, into OptionErrors that name the strategy and option.
import type { z } from 'zod';
import { OptionError, describe } from '../errors.js';

export function parseOptions<T>(strategy: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new OptionError({
    subject: `${strategy} ${issue.path.join('.') || 'options'}`,
    expected: issue.message.replace(/^Invalid (input|option): expected /, '').replace(/^Too (small|big): expected number to be /, ''),
    found: describe(issue.code === 'custom' ? valueAt(value, issue.path) : issue.input),
  });
}

/** The part of `value` a cross-field check points at (refinements report the whole object). */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((inner, key) => (inner !== null && typeof inner === 'object' ? (inner as Record<PropertyKey, unknown>)[key] : undefined), value);
}
