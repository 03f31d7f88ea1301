// Strict parsers for numeric CLI flags: "12abc", "1.5" for a count, or "" are errors, never coerced.
import { OptionError } from '../index.js';

export function parseWholeNumber(flag: string, min: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isInteger(value) || value < min) {
      throw new OptionError({ subject: flag, expected: `a whole number >= ${min}`, found: JSON.stringify(text) });
    }
    return value;
  };
}

export function parseNumber(flag: string, isValid: (n: number) => boolean, expected: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || !isValid(value)) {
      throw new OptionError({ subject: flag, expected, found: JSON.stringify(text) });
    }
    return value;
  };
}

/** Commander collector for repeatable string flags. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One of `choices`, matched without regard to case ("f16" for F16), returned as spelled in `choices`. */
export function parseChoice<T extends string>(flag: string, choices: readonly T[]): (text: string) => T {
  return (text) => {
    const match = choices.find((choice) => choice.toLowerCase() === text.trim().toLowerCase());
    if (match === undefined) throw new OptionError({ subject: flag, expected: `one of ${choices.join(', ')}`, found: JSON.stringify(text) });
    return match;
  };
}
