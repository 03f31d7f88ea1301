// `visdrop bench --model DIR --weights q8,q4`: the weight-format benchmark of a checkpoint on disk.
// One format runs in this process; several run one after another, each in a child process of this
// same command with --json, so each format's peak RSS is its own. A format that fails does not cost
// the others: their table is printed, the failure is named on stderr, and the exit code is 1.
import { spawnSync } from 'node:child_process';
import { OptionError } from '../errors.js';
import { wholeNumber } from '../bench/options.js';
import { formatFormatsTable } from '../bench/format-table.js';
import type { BenchProgress } from '../bench/run-bench.js';
import { runFormatBench, type FormatBenchResult, type NewProcessLoad } from '../bench/weight-format-bench.js';
import type { WarmReport } from './cache-command.js';
import { parseNameList } from '../util/name-list.js';
import { WEIGHT_FORMATS, type WeightFormat } from '../quant/format.js';
import type { StrategyFlags } from '../bench/strategies.js';
import { benchPeers, parsePeers } from '../peers/peers.js';
import type { PeerResult } from '../peers/peer-result.js';

export interface FormatsBenchFlags extends StrategyFlags {
  readonly model: string;
  readonly weights?: string;
  readonly runs?: string;
  readonly decodeTokens?: string;
  /** Peer engines timed on the same checkpoint after visdrop's formats (src/peers). */
  readonly peers?: string;
  readonly json?: boolean;
}

const DEFAULT_FORMATS = 'q8,q4';
/** A 7B run takes minutes per format, so fewer rounds than the preset bench's default. */
const DEFAULT_RUNS = 2;
const DEFAULT_DECODE_TOKENS = 8;

export function parseFormats(text: string): WeightFormat[] {
  return parseNameList('--weights', text, WEIGHT_FORMATS);
}

export async function benchFormatsAction(flags: FormatsBenchFlags, onProgress: (p: BenchProgress) => void): Promise<void> {
  const formats = parseFormats(flags.weights ?? DEFAULT_FORMATS);
  const runs = wholeNumber('--runs', flags.runs, DEFAULT_RUNS, 1);
  const decodeTokens = wholeNumber('--decode-tokens', flags.decodeTokens, DEFAULT_DECODE_TOKENS, 1);
  const peers = flags.peers === undefined ? [] : parsePeers(flags.peers);
  if (formats.length === 1 && peers.length === 0) {
    const weights = formats[0]!;
    const result = await runFormatBench({ ...flags, weights, runs, decodeTokens, onProgress, loadInNewProcess: (cacheDir) => warmInNewProcess(flags.model, weights, cacheDir) });
    process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatFormatsTable([result]));
    return;
  }
  const results: FormatBenchResult[] = [];
  const failures: string[] = [];
  // Each format in a child process, so each peak RSS is its own; the peers run after them.
  for (const format of formats) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...childArguments(process.argv.slice(2), format)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    });
    if (child.status === 0) results.push(JSON.parse(child.stdout) as FormatBenchResult);
    else failures.push(`${format} (exit ${child.status ?? child.signal})`);
  }
  let peerResults: PeerResult[] = [];
  if (peers.length > 0 && results.length > 0) {
    try {
      peerResults = benchPeers(peers, {
        model: flags.model,
        weights: results.map((r) => r.weights),
        promptTokens: results[0]!.promptTokens,
        decodeTokens,
        runs,
        log: (message) => process.stderr.write(`bench: ${message}\n`),
      });
    } catch (error) {
      failures.push(`peers (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  process.stdout.write(flags.json ? `${JSON.stringify(peers.length > 0 ? { formats: results, peers: peerResults } : results)}\n` : formatFormatsTable(results, peerResults));
  if (failures.length > 0) {
    throw new OptionError({ subject: 'bench --weights', expected: 'every format to run', found: `${failures.join(', ')} failed (see above)` });
  }
}

/** `visdrop cache warm` of the checkpoint in a child process (`cli`: this CLI's entry script): a load timed as a user's next process meets it. */
export function warmInNewProcess(model: string, weights: WeightFormat, cacheDir: string, cli = process.argv[1]!): NewProcessLoad {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, cli, 'cache', 'warm', '--model', model, '--weights', weights, '--cache-dir', cacheDir, '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(`visdrop cache warm --model ${model} --weights ${weights} failed (exit ${child.status ?? child.signal})`);
  return JSON.parse(child.stdout) as WarmReport;
}

/** This command's arguments for one format: --weights and --json replaced, --peers dropped (the parent runs them). */
export function childArguments(args: readonly string[], format: WeightFormat): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--json' || arg.startsWith('--weights=') || arg.startsWith('--peers=')) continue;
    if (arg === '--weights' || arg === '--peers') {
      i++;
      continue;
    }
    kept.push(arg);
  }
  return [...kept, '--weights', format, '--json'];
}
