// Strategy options are validated once, with zod, into OptionErrors that name the strategy and option.
import type { z } from 'zod';
import { OptionError, describe } from '../errors.js';

export function parseOptions<T>(strategy: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new OptionError({
    subject: `${strategy} ${issue.path.join('.') || 'options'}`,
    expected: issue.message.replace(/^Invalid input: expected /, '').replace(/^Too (small|big): expected number to be /, ''),
    found: issue.input === undefined ? 'nothing' : describe(issue.input),
  });
}
