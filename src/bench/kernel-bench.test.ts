// The kernel bench on a small Linear: every candidate runs, f32 is the reference, and each encoding's
// error is that of its bits (a wrong layout would be off by far more).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatKernelBenchTable, KERNEL_CANDIDATES, runKernelBench } from './kernel-bench.js';
import { OptionError } from '../errors.js';

describe('bench --kernels', () => {
  it('times every candidate at both shapes and measures its error against f32', async () => {
    const result = await runKernelBench({ inFeatures: 256, outFeatures: 96, rows: 8, runs: 1, decodeWorkingSet: 256 * 96 * 4 * 3 });
    assert.deepEqual(result.kernels.map((k) => k.label), KERNEL_CANDIDATES.map((c) => c.label));
    const byKind = new Map(result.kernels.map((k) => [k.name, k]));
    assert.equal(byKind.get('f32')!.relativeError, 0);
    for (const kind of ['int8', 'int8-tensor', 'int8-blocks-32', 'int8-blocks-128']) {
      const error = byKind.get(kind)!.relativeError;
      assert.ok(error > 0 && error < 2e-2, `${kind}: ${error}`);
    }
    for (const kind of ['int4-32', 'int4-128', 'int4-256']) {
      const error = byKind.get(kind)!.relativeError;
      assert.ok(error > 2e-2 && error < 0.2, `${kind}: ${error}`);
    }
    // f32 256 x 96 x 4 bytes; int8 one byte a weight plus 96 scales.
    assert.equal(byKind.get('f32')!.weightBytes, 256 * 96 * 4);
    assert.equal(byKind.get('int8')!.weightBytes, 256 * 96 + 96 * 4);
    for (const k of result.kernels) assert.ok(k.prefillMs > 0 && k.decodeMs > 0 && Number.isFinite(k.prefillGflops), k.label);
    // Decode runs through as many copies as make the working set: 3 of the f32 weight, more of the smaller encodings.
    assert.equal(byKind.get('f32')!.decodeCopies, 3);
    assert.equal(byKind.get('int8')!.decodeCopies, Math.ceil((256 * 96 * 4 * 3) / (256 * 96 + 96 * 4)));
    assert.deepEqual(result.kernels.filter((k) => k.usedBy).map((k) => k.usedBy), ['f32', 'q8', 'q4']);
    const table = formatKernelBenchTable(result).trim().split('\n');
    assert.match(table[0]!, /256 -> 96; prefill 8 rows, decode 1 row/);
    assert.equal(table.length, 3 + KERNEL_CANDIDATES.length);
  });
  it('names an unknown preset', async () => {
    await assert.rejects(runKernelBench({ preset: 'llava-9' }), OptionError);
  });
});
