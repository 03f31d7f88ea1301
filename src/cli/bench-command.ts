// `visdrop bench`: times a LLaVA-1.5 or LLaVA-NeXT preset on random weights against the machine's
// roofline, without and with each strategy --reduce lists (shared strategy flags). Prints a table
// (progress on stderr) or, with --json, exactly one JSON object on stdout. Bad flags fail as
// OptionError before anything loads.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { PRESETS } from '../config/presets.js';
import { runBench, type BenchProgress } from '../bench/run-bench.js';
import { wholeNumber } from '../bench/options.js';
import { formatKernelBenchTable, runKernelBench } from '../bench/kernel-bench.js';
import { formatTrainBenchTable, runTrainBench } from '../bench/train-bench.js';
import { benchJson, formatBenchTable } from '../bench/table.js';
import { OptionError } from '../errors.js';
import { resolveModelDir } from '../generate/default-model.js';
import { benchFormatsAction } from './bench-formats.js';
import { addReduceFlags } from './reduce-flags.js';
import { type ReduceFlags } from '../reduce/registry.js';
import { runCommand } from './run-command.js';

interface BenchFlags extends ReduceFlags {
  preset?: string;
  model?: string;
  weights?: string;
  peers?: string;
  mustdropBudgets?: string;
  layers?: string;
  runs?: string;
  decodeTokens?: string;
  imageSize?: string;
  profile?: boolean;
  train?: boolean;
  kernels?: boolean;
  textTokens?: string;
  threads?: string;
  storeActivations?: boolean;
  json?: boolean;
}

const PHASE_TITLES: Record<BenchProgress['phase'], string> = {
  roofline: 'roofline',
  load: 'loading',
  run: 'running',
};

export function registerBenchCommand(program: Command): void {
  const command = program
    .command('bench')
    .description(
      'time a LLaVA preset on random weights against the machine roofline (MatMul rate, memory bandwidth), ' +
        'without token reduction and with each strategy --reduce lists: prefill speedup measured and predicted by FLOPs',
    )
    .option('--preset <name>', `model shapes on random weights: ${Object.keys(PRESETS).join(', ')}`)
    .option('--model <dir>', 'instead of a preset: a llava-hf checkpoint, loaded from disk per weight format (first and cached load, peak RSS); with neither, the bundled visdrop-tiny')
    .option('--weights <list>', 'with --model: weight formats, each in its own process (default q8,q4)')
    .option('--peers <list>', 'with --model: other engines timed on the same weights in the same command, beside visdrop: llama.cpp (q8 -> q8_0, q4 -> q4_0; node-llama-cpp installed on demand), torch (f32, Debian\'s python3-torch)')
    // Counts arrive as text and are validated together, since --layers' range depends on the preset.
    .option('--layers <n>', 'decoder layers to build (default: all), so a large preset fits in memory')
    .option('--runs <n>', 'measured runs after one warm-up (default 3)')
    .option('--decode-tokens <n>', 'decode steps timed per run (default 8)')
    .option('--mustdrop-budgets <list>', 'MustDrop: one row per budget, each with its shipped thresholds (default 192,128,64)')
    .option('--image-size <WxH>', 'LLaVA-NeXT presets: the anyres image, WIDTHxHEIGHT (default 672x672: 2928 image tokens)')
    .option('--profile', 'break each prefill into its parts, and time one layer’s attention per kernel at two lengths')
    .option('--train', 'time one training step (forward + backward + AdamW) per strategy, none and pdrop, on the preset (default llava-1.5-7b) cut to --layers (default 2)')
    .option('--kernels', "time every int8 and 4-bit Linear kernel candidate on the preset's (default llava-1.5-7b) MLP up projection, at a prefill's 616 rows and a decode step's one, with its error against f32")
    .option('--text-tokens <n>', 'with --train: text tokens around the 576 image tokens (default 60)')
    .option('--threads <n>', 'with --train or --kernels: threads per operator')
    .option('--store-activations', "with --train: keep each layer's intermediate values for its backward instead of recomputing its forward there")
    .option('--json', 'print one JSON object instead of the table');
  // Layer lists not given are scaled to a cut decoder (see the table's header).
  addReduceFlags(command, true).action(runCommand(benchAction));
}

async function benchAction(flags: BenchFlags): Promise<void> {
  const { json, preset, model: modelFlag, weights, peers, train, kernels, textTokens, threads, storeActivations, ...options } = flags;
  if (kernels) {
    // Every other flag (strategy flags included) would be ignored here: refuse it instead.
    const { runs, ...ignored } = options;
    const others = Object.entries({ model: modelFlag, weights, peers, train, textTokens, storeActivations, ...ignored })
      .filter(([, v]) => v !== undefined)
      .map(([key]) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (others.length > 0) throw new OptionError({ subject: '--kernels', expected: 'only --preset, --runs, --threads, --json beside it', found: others.join(', ') });
    const result = await runKernelBench({
      ...(preset !== undefined ? { preset } : {}),
      ...(runs !== undefined ? { runs: wholeNumber('--runs', runs, 3, 1) } : {}),
      ...(threads !== undefined ? { threads: wholeNumber('--threads', threads, 0, 1) } : {}),
      onProgress: (label, done, total) => {
        if (done < total) process.stderr.write(`bench: kernel ${done + 1}/${total}: ${label}\n`);
      },
    });
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatKernelBenchTable(result));
    return;
  }
  if (peers !== undefined && (train || preset !== undefined)) {
    throw new OptionError({ subject: '--peers', expected: 'with --model (a checkpoint on disk both engines load)', found: train ? '--train' : `--preset ${preset}` });
  }
  if (train) {
    if (modelFlag !== undefined) throw new OptionError({ subject: '--train', expected: 'a --preset (random weights), not --model', found: modelFlag });
    const { layers, runs, mustdropBudgets, decodeTokens, imageSize, profile, ...reduceFlags } = options;
    const inferenceOnly = Object.entries({ '--mustdrop-budgets': mustdropBudgets, '--decode-tokens': decodeTokens, '--image-size': imageSize, '--profile': profile }).filter(([, v]) => v !== undefined);
    if (inferenceOnly.length > 0) {
      throw new OptionError({ subject: '--train', expected: 'no inference-only flag', found: inferenceOnly.map(([k]) => k).join(', ') });
    }
    const result = await runTrainBench({
      ...reduceFlags,
      ...(preset !== undefined ? { preset } : {}),
      ...(layers !== undefined ? { layers: wholeNumber('--layers', layers, 2, 1) } : {}),
      ...(runs !== undefined ? { runs: wholeNumber('--runs', runs, 2, 1) } : {}),
      ...(textTokens !== undefined ? { textTokens: wholeNumber('--text-tokens', textTokens, 60, 1) } : {}),
      ...(threads !== undefined ? { threads: wholeNumber('--threads', threads, 0, 1) } : {}),
      ...(storeActivations ? { storeActivations: true } : {}),
      onProgress: (message) => process.stderr.write(`bench: ${message}\n`),
    });
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatTrainBenchTable(result));
    return;
  }
  const trainOnly = Object.entries({ '--text-tokens': textTokens, '--threads': threads, '--store-activations': storeActivations }).filter(([, v]) => v !== undefined);
  if (trainOnly.length > 0) throw new OptionError({ subject: trainOnly.map(([k]) => k).join(', '), expected: 'with --train (--threads: or --kernels)', found: 'neither' });
  if (preset !== undefined && modelFlag !== undefined) {
    throw new OptionError({ subject: '--preset / --model', expected: 'at most one of them', found: 'both' });
  }
  // Neither: the bundled default model.
  const model = preset === undefined ? resolveModelDir(modelFlag) : undefined;
  if (model !== undefined) {
    const presetOnly = (['layers', 'imageSize', 'profile'] as const).filter((key) => options[key] !== undefined);
    if (presetOnly.length > 0) {
      throw new OptionError({ subject: '--model', expected: 'no preset-only flag (--layers, --image-size, --profile)', found: presetOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ') });
    }
    const progress = progressReporter();
    await benchFormatsAction({ ...options, model, ...(weights !== undefined ? { weights } : {}), ...(peers !== undefined ? { peers } : {}), ...(json ? { json } : {}) }, progress.update).finally(progress.stop);
    return;
  }
  if (weights !== undefined) {
    throw new OptionError({ subject: '--weights', expected: 'with --model (presets run f32 random weights)', found: weights });
  }
  const progress = progressReporter();
  // runBench validates the flags (resolveBenchOptions) before it measures or loads anything.
  const result = await runBench({ ...options, preset: preset!, onProgress: progress.update }).finally(progress.stop);
  process.stdout.write(json ? `${JSON.stringify(benchJson(result))}\n` : formatBenchTable(result));
}

/** A cli-progress bar per phase on a terminal; otherwise one stderr line per phase step worth noting. */
function progressReporter(): { update: (p: BenchProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) {
    return {
      update: (p) => {
        // Graph loads are too many to log one by one; their phase start is enough.
        if (p.phase === 'load' && p.done !== 1) return;
        if (p.done < p.total) process.stderr.write(`bench: ${PHASE_TITLES[p.phase]} ${p.phase === 'load' ? `${p.total} graphs` : p.label}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{phase} [{bar}] {value}/{total} | ETA {eta_formatted} | {label}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let phase: BenchProgress['phase'] | null = null;
  return {
    update: (p) => {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        bar.start(p.total, p.done, { phase: PHASE_TITLES[p.phase], label: p.label });
        phase = p.phase;
      }
      bar.update(p.done, { label: p.label });
    },
    stop: () => {
      if (phase) bar.stop();
    },
  };
}
