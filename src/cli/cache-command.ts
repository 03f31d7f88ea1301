// `visdrop cache list|clear`: what the converted-model cache holds (checkpoint, options, size), and
// removing all of it.
import type { Command } from 'commander';
import { GraphCache } from '../index.js';
import { runCommand } from './run-command.js';

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
}
