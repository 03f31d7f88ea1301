// `visdrop cache list|clear|warm`: what the converted-model cache holds (checkpoint, options, size),
// removing all of it, and converting a checkpoint into it ahead of use (timed: the bench runs it
// to measure a load in a process of its own).
import { Option, type Command } from 'commander';
import { GraphCache, loadModel } from '../index.js';
import { WEIGHT_FORMATS } from '../quant/format.js';
import { loadProgressBar } from './progress.js';
import { runCommand } from './run-command.js';
import { q4BlockSizeOption, weightFormatOptions, type WeightFlags } from './weight-flags.js';

interface WarmFlags extends WeightFlags, CacheFlags {
  model: string;
  json?: boolean;
}

/** What `cache warm --json` prints: the load's time, how many graphs came from the cache, the process's peak RSS. */
export interface WarmReport {
  readonly loadMs: number;
  readonly cachedGraphs: number;
  readonly peakRssBytes: number;
}

interface CacheFlags {
  cacheDir?: string;
}

export function registerCacheCommand(program: Command): void {
  const cache = program.command('cache').description('list or clear the converted-model cache of q8/q4 graphs');
  const subcommand = (name: string, description: string, action: (store: GraphCache) => void) =>
    cache
      .command(name)
      .description(description)
      .option('--cache-dir <dir>', 'cache directory (default $VISDROP_CACHE_DIR, else ~/.cache/visdrop)')
      .action(runCommand(async (flags: CacheFlags) => action(new GraphCache(flags.cacheDir ? { dir: flags.cacheDir } : {}))));

  subcommand('list', 'one line per entry: size, weight format, checkpoint directory, entry directory', (store) => {
    const entries = store.list();
    for (const entry of entries) {
      process.stdout.write(`${(entry.bytes / 1e9).toFixed(2)} GB\t${String(entry.source.options.weights)}\t${entry.source.checkpoint}\t${entry.path}\n`);
    }
    process.stderr.write(`${entries.length} entries in ${store.dir}\n`);
  });
  subcommand('clear', 'remove every entry', (store) => {
    process.stderr.write(`removed ${store.clear()} entries from ${store.dir}\n`);
  });
  cache
    .command('warm')
    .description('load a checkpoint in q8 or q4 once, converting it into the cache unless it is there, and print how long the load took')
    .requiredOption('--model <dir>', 'llava-hf checkpoint directory')
    .addOption(new Option('--weights <format>', 'weight format to convert to').choices(WEIGHT_FORMATS.filter((f) => f !== 'f32')).makeOptionMandatory())
    .addOption(q4BlockSizeOption())
    .option('--cache-dir <dir>', 'cache directory (default $VISDROP_CACHE_DIR, else ~/.cache/visdrop)')
    .option('--json', 'print {loadMs, cachedGraphs, peakRssBytes} as JSON')
    .action(
      runCommand(async (flags: WarmFlags) => {
        const progress = loadProgressBar(!flags.json && process.stderr.isTTY === true);
        const model = await loadModel(flags.model, {
          ...weightFormatOptions(flags),
          ...(flags.cacheDir ? { cache: { dir: flags.cacheDir } } : {}),
          ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
        });
        progress.stop();
        const report: WarmReport = { loadMs: model.loadMs, cachedGraphs: model.cachedGraphs, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
        await model.release();
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(report)}\n`
            : `loaded ${flags.model} as ${flags.weights} in ${(report.loadMs / 1000).toFixed(1)} s (${report.cachedGraphs} graphs from the cache)\n`,
        );
      }),
    );
}
