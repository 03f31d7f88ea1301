// `bench --peers`: the list it takes, the child processes it keeps the peers out of, and the
// side-by-side rows and ratios the table prints for a peer beside visdrop's formats.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BenchRow } from '../bench/run-bench.js';
import { formatFormatsTable } from '../bench/format-table.js';
import type { FormatBenchResult } from '../bench/weight-format-bench.js';
import { childArguments } from '../cli/bench-formats.js';
import { OptionError } from '../errors.js';
import type { PeerResult } from './peer-result.js';
import { parsePeers } from './peers.js';

describe('bench --peers', () => {
  it('takes a list of distinct known peers', () => {
    assert.deepEqual(parsePeers('llama.cpp'), ['llama.cpp']);
    assert.deepEqual(parsePeers('llama.cpp,torch'), ['llama.cpp', 'torch']);
    for (const bad of ['llama.cpp,llama.cpp', 'vllm', '']) assert.throws(() => parsePeers(bad), OptionError, bad);
  });

  it('leaves --peers out of each format’s child, which runs visdrop alone', () => {
    assert.deepEqual(childArguments(['bench', '--model', 'm', '--peers', 'llama.cpp', '--weights', 'q8,q4'], 'q8'), ['bench', '--model', 'm', '--weights', 'q8', '--json']);
    assert.deepEqual(childArguments(['bench', '--peers=llama.cpp', '--model', 'm'], 'q4'), ['bench', '--model', 'm', '--weights', 'q4', '--json']);
  });

  it('refuses --peers without --model, in one line', () => {
    const main = join(import.meta.dirname, '..', 'cli', 'main.ts');
    const result = spawnSync(process.execPath, ['--import', 'tsx', main, 'bench', '--preset', 'llava-1.5-7b', '--peers', 'llama.cpp'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--peers: expected with --model/);
  });

  it('prints the peer beside the format of the same width, with time ratios', () => {
    // Only the fields the table reads; the rest of a bench result does not enter it.
    const row = { label: 'none', visionMs: 10, prefillMs: 2000, prefillGflops: 100, speedup: 1, predictedSpeedup: 1, decodeMsPerToken: 50 } as BenchRow;
    const q8 = {
      model: 'm',
      weights: 'q8',
      promptTokens: 616,
      firstLoadMs: 9000,
      cachedLoadMs: 3000,
      peakRssBytes: 2 ** 30,
      weightBytes: 1e9,
      formatMatmulGflops: 200,
      bandwidthGBs: 20,
      decodeBytesPerToken: 5e8,
      rows: [row],
    } as unknown as FormatBenchResult;
    const peer: PeerResult = {
      engine: 'llama.cpp via node-llama-cpp 3.22.1',
      weights: 'q8_0',
      visdropWeights: 'q8',
      threads: 2,
      convertMs: 4000,
      fileBytes: 7e9,
      firstLoadMs: 1000,
      cachedLoadMs: 500,
      loadNote: 'first load = writing the GGUF + loading it',
      prefillMs: 1000,
      decodeMsPerToken: 100,
      peakRssBytes: 2 ** 31,
      promptTokens: 616,
    };
    const table = formatFormatsTable([q8], [peer]);
    assert.match(table, /^q8 +\| +none \|.*\| +0\.50x \| +2\.00x$/m); // llama.cpp's prefill takes half visdrop's, its decode twice
    assert.match(table, /^visdrop q8 +\| +2000 \| +100\.0 \| +50\.0 \| +9\.0 \| +3\.0 \| +1\.00$/m);
    assert.match(table, /^llama\.cpp q8_0 \| +1000 \| +200\.0 \| +100\.0 \| +5\.0 \| +0\.5 \| +2\.00$/m);
    assert.doesNotMatch(formatFormatsTable([q8]), /peer/);
  });
});
