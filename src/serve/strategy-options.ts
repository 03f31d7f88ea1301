// The request's `visdrop` object: the strategy and its options as the CLI's flags, snake_case
// (`{"reduce": "pdrop", "pdrop_layers": [8, 16, 24]}` for `--reduce pdrop --pdrop-layers 8,16,24`).
// The keys are not listed here: the CLI hands over a table of its strategy flags (each flag's name
// and its own parser), so a method added to the registry and its flags is served as it lands, and a
// value is checked by the very parser that checks the flag. The strategy is then built by
// reduce/registry.ts's reducerFromFlags, as for generate, and checked against the model's layers.
import { VisdropError } from '../errors.js';
import { reducerFromFlags, strategyNames, type ReduceFlags, type StrategyName } from '../reduce/registry.js';
import type { TokenReducer } from '../reduce/types.js';
import { invalidRequest } from './api-error.js';

/** One strategy flag of the CLI, e.g. `--pdrop-layers <list>`. */
export interface StrategyOptionKey {
  /** The request key: the flag's long name in snake_case, `pdrop_layers`. */
  readonly key: string;
  /** The ReduceFlags property it fills, `pdropLayers`. */
  readonly attribute: string;
  /** false for a switch (`--mustdrop-corrected-positions`), set by `true`. */
  readonly takesValue: boolean;
  /** The flag's parser, from the text the command line would give. */
  readonly parse?: (text: string) => unknown;
}

/** Request keys that are no flag: `picture` asks for the kept-patch picture in the report. */
export const REPORT_KEYS = ['picture'] as const;

export interface StrategyChoice {
  readonly name: StrategyName;
  readonly flags: ReduceFlags;
  readonly reducer: TokenReducer | null;
  readonly picture: boolean;
}

/** The text a command line would carry for `value`: lists comma-joined, numbers as written. */
function asFlagText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && !v.includes(',')))) {
    return value.map(String).join(',');
  }
  return null;
}

function found(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/**
 * The request's strategy: `visdrop` over the server's default flags (a request naming `reduce`
 * starts from no options; one naming only options adjusts the default strategy's).
 */
export function chooseStrategy(visdrop: Readonly<Record<string, unknown>> | undefined, keys: readonly StrategyOptionKey[], defaults: ReduceFlags, numLayers: number): StrategyChoice {
  const given: Record<string, unknown> = {};
  let picture = false;
  for (const [key, value] of Object.entries(visdrop ?? {})) {
    const param = `visdrop.${key}`;
    if (key === 'picture') {
      if (typeof value !== 'boolean') throw invalidRequest(param, 'true or false', found(value));
      picture = value;
      continue;
    }
    if (key === 'reduce') {
      if (typeof value !== 'string') throw invalidRequest(param, 'a strategy name', found(value));
      given.reduce = value;
      continue;
    }
    const option = keys.find((k) => k.key === key);
    if (!option) throw invalidRequest(param, `one of reduce, ${[...keys.map((k) => k.key), ...REPORT_KEYS].join(', ')}`, 'an unknown key', 'unknown_parameter');
    if (!option.takesValue) {
      if (typeof value !== 'boolean') throw invalidRequest(param, 'true or false', found(value));
      if (value) given[option.attribute] = true;
      continue;
    }
    const text = asFlagText(value);
    if (text === null) throw invalidRequest(param, 'a number, a string or a non-empty list of them', found(value));
    try {
      given[option.attribute] = option.parse ? option.parse(text) : text;
    } catch (error) {
      if (error instanceof VisdropError) throw invalidRequest(param, error.expected, found(value));
      throw error;
    }
  }
  const flags: ReduceFlags = given.reduce !== undefined ? given : { ...defaults, ...given };
  try {
    const names = strategyNames(flags);
    if (names.length !== 1) throw invalidRequest('visdrop.reduce', 'one strategy', found(flags.reduce));
    const reducer = reducerFromFlags(names[0]!, flags);
    reducer?.checkModel(numLayers);
    return { name: names[0]!, flags, reducer, picture };
  } catch (error) {
    if (error instanceof VisdropError) {
      throw invalidRequest(requestKey(error.subject, keys, Object.keys(visdrop ?? {})), error.expected, error.found);
    }
    throw error;
  }
}

/**
 * The request key an error's subject names in the CLI's words ("--pdrop-layers", "pdrop layers",
 * "--reduce pdrop"; "--fastv-*": the request's first fastv_ key), else `visdrop`.
 */
function requestKey(subject: string, keys: readonly StrategyOptionKey[], given: readonly string[]): string {
  const family = /^--(.+)-\*$/.exec(subject)?.[1];
  const familyKey = family === undefined ? undefined : given.find((key) => key.startsWith(`${family}_`));
  if (familyKey) return `visdrop.${familyKey}`;
  const words = subject.replace(/^--/, '').split(/[\s-]+/);
  for (let n = words.length; n > 0; n--) {
    const key = words.slice(0, n).join('_');
    if (key === 'reduce' || keys.some((k) => k.key === key)) return `visdrop.${key}`;
  }
  return 'visdrop';
}
