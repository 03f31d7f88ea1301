// Typed errors shared by every layer. Each names the thing that is wrong, what was expected and
// what was found, so the CLI can print one clear line and callers can branch on the class.

export interface ErrorDetails {
  /** The file, key, tensor or option at fault, e.g. `config.json: text_config.hidden_size`. */
  readonly subject: string;
  readonly expected: string;
  readonly found: string;
  /** Optional advice, e.g. which command regenerates a file. */
  readonly hint?: string;
  readonly cause?: unknown;
}

export abstract class VisdropError extends Error {
  abstract readonly code: string;
  readonly subject: string;
  readonly expected: string;
  readonly found: string;
  readonly hint: string | undefined;

  constructor(details: ErrorDetails) {
    const hint = details.hint ? ` (${details.hint})` : '';
    super(`${details.subject}: expected ${details.expected}, found ${details.found}${hint}`, {
      cause: details.cause,
    });
    this.name = new.target.name;
    this.subject = details.subject;
    this.expected = details.expected;
    this.found = details.found;
    this.hint = details.hint;
  }
}

/** A config file is missing, unparsable, or has a key of the wrong kind or value. */
export class ConfigError extends VisdropError {
  readonly code = 'E_CONFIG';
}

/** A weights file is missing, truncated or malformed, or a tensor is missing or misshapen. */
export class CheckpointError extends VisdropError {
  readonly code = 'E_CHECKPOINT';
}

/** A tokenizer file or chat template cannot be used. */
export class TokenizerError extends VisdropError {
  readonly code = 'E_TOKENIZER';
}

/** An image cannot be read or decoded, or pre-computed pixel values have the wrong form. */
export class ImageError extends VisdropError {
  readonly code = 'E_IMAGE';
}

/** The prompt and the image do not fit together, or the prompt is too long for the model. */
export class PromptError extends VisdropError {
  readonly code = 'E_PROMPT';
}

/** A user option (CLI flag or API field) is out of range or unknown. */
export class OptionError extends VisdropError {
  readonly code = 'E_OPTION';
}

/** Data cannot be used: a malformed training or evaluation file, a bad sample, a missing image, an answers file for another task, a corrupt parquet file. */
export class DataError extends VisdropError {
  readonly code = 'E_DATA';
}

/** A graph was built or fed inconsistently: a bug in visdrop rather than in the user's input. */
export class GraphError extends VisdropError {
  readonly code = 'E_GRAPH';
}

/** Describes a value for an error message without dumping it whole. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 80 ? `${json.slice(0, 77)}...` : json;
}
