// Turns any error into one clear line on stderr and a non-zero exit code. visdrop's own errors
// already name the thing, the expectation and the finding; anything else is unexpected and keeps
// its stack for a bug report.
import { VisdropError } from '../index.js';

export function reportError(error: unknown): void {
  if (error instanceof VisdropError) {
    process.stderr.write(`visdrop: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`visdrop: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 2;
  }
}

export function runCommand<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      reportError(error);
    }
  };
}
