// The weight-format bench on the tiny checkpoint: a first load that converts, a cached load that
// reads every graph back, rows for none and PyramidDrop, and a table naming each format; f32 is
// refused when its weights could not fit, and the CLI's per-format child arguments.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { childArguments, parseFormats, warmInNewProcess } from '../cli/bench-formats.js';
import { OptionError } from '../errors.js';
import { formatFormatsTable } from './format-table.js';
import { runFormatBench, type FormatBenchResult, type NewProcessLoad } from './weight-format-bench.js';

const SMALL_ROOFLINE = { rows: 8, inFeatures: 64, outFeatures: 64, matmulRows: 8, matmulWidth: 64, bandwidthBytes: 2 ** 20, runs: 1 };

describe('runFormatBench', () => {
  let dir: string;
  let q8: FormatBenchResult;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-format-bench-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0, dtype: 'F16' });
    q8 = await runFormatBench({ model: dir, weights: 'q8', reduce: 'pdrop', pdropLayers: [1, 2, 3], runs: 1, decodeTokens: 2, roofline: SMALL_ROOFLINE });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('times a converting load and a cached one, and runs none and pdrop', () => {
    assert.equal(q8.weights, 'q8');
    assert.ok(q8.firstLoadMs > 0 && q8.cachedLoadMs !== null && q8.cachedLoadMs > 0);
    assert.deepEqual(q8.rows.map((r) => r.strategy), ['none', 'pdrop']);
    assert.deepEqual(q8.rows[1]!.stageCounts, [576, 288, 144, 72]);
    assert.ok(q8.peakRssBytes > 0 && q8.decodeBytesPerToken > 0 && q8.decodeBytesPerToken < q8.weightBytes);
    const table = formatFormatsTable([q8]);
    assert.match(table, /^q8 +\| +[\d.]+ \| +[\d.]+ \| +\d+% \|/m);
    assert.match(table, /^q8 +\| pdrop 1,2,3 /m);
    // Each strategy's speedup beside the one its full-accounting FLOPs predict, and their ratio.
    const pdrop = q8.rows[1]!;
    const pdropLine = table.split('\n').find((line) => / pdrop 1,2,3 /.test(line))!;
    const cells = pdropLine.split('|').map((cell) => cell.trim());
    const at = cells.indexOf(`${pdrop.speedup.toFixed(2)}x`);
    assert.deepEqual(cells.slice(at + 1, at + 3), [`${pdrop.predictedSpeedup.toFixed(2)}x`, (pdrop.speedup / pdrop.predictedSpeedup).toFixed(2)], pdropLine);
    assert.ok(pdrop.predictedSpeedup > 1);
  });

  it('with a way to start processes, times each load in a new one (visdrop cache warm)', async () => {
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.ts');
    const calls: NewProcessLoad[] = [];
    const q4 = await runFormatBench({
      model: dir,
      weights: 'q4',
      runs: 1,
      decodeTokens: 1,
      roofline: SMALL_ROOFLINE,
      loadInNewProcess: (cacheDir) => {
        const load = warmInNewProcess(dir, 'q4', cacheDir, cli);
        calls.push(load);
        return load;
      },
    });
    assert.deepEqual(calls.map((c) => c.cachedGraphs), [0, 15], 'the first converts, the second reads the cache');
    assert.equal(q4.firstLoadMs, calls[0]!.loadMs);
    assert.equal(q4.cachedLoadMs, calls[1]!.loadMs);
    assert.ok(q4.peakRssBytes >= Math.max(calls[0]!.peakRssBytes, calls[1]!.peakRssBytes));
    assert.match(formatFormatsTable([q4]), /each in a new process/);
  });

  it('does not cache f32, whose graphs are the checkpoint as stored', async () => {
    const f32 = await runFormatBench({ model: dir, weights: 'f32', runs: 1, decodeTokens: 1, roofline: SMALL_ROOFLINE });
    assert.equal(f32.cachedLoadMs, null);
    assert.match(formatFormatsTable([f32]), /not cached/);
  });
});

describe('bench --weights', () => {
  it('parses a list of distinct formats and refuses anything else', () => {
    assert.deepEqual(parseFormats('q8,q4'), ['q8', 'q4']);
    for (const bad of ['q8,q8', 'q2', '']) assert.throws(() => parseFormats(bad), OptionError, bad);
  });

  it('gives each child its one format and --json', () => {
    assert.deepEqual(childArguments(['bench', '--model', 'm', '--weights', 'q8,q4', '--reduce', 'pdrop', '--json'], 'q4'), [
      'bench',
      '--model',
      'm',
      '--reduce',
      'pdrop',
      '--weights',
      'q4',
      '--json',
    ]);
    assert.deepEqual(childArguments(['bench', '--weights=f32,q8', '--model', 'm'], 'f32'), ['bench', '--model', 'm', '--weights', 'f32', '--json']);
  });

  it('refuses, in one line, both of --preset and --model, preset-only flags beside --model, and training-only flags without --train', () => {
    const main = join(import.meta.dirname, '..', 'cli', 'main.ts');
    const bench = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', main, 'bench', ...args], { encoding: 'utf8' });
    for (const [args, mention] of [
      [['--preset', 'llava-1.5-7b', '--model', 'm'], 'both'],
      [['--model', 'm', '--layers', '2'], '--layers'],
      [['--preset', 'llava-1.5-7b', '--weights', 'q8'], '--weights'],
      [['--preset', 'llava-1.5-7b', '--store-activations'], '--store-activations: expected with --train'],
      [['--kernels', '--reduce', 'pdrop'], '--kernels: expected only --preset, --runs, --threads, --json beside it, found --reduce'],
    ] as const) {
      const result = bench(...args);
      assert.equal(result.status, 1);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.ok(result.stderr.includes(mention), result.stderr);
    }
  });
});
