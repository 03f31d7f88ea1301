// Rows decoded from stored bytes equal the whole-tensor decoder's values, in every dtype and at any
// byte offset; the quantisers reading rows match plain references, across their row blocks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFloat32, encodeFloat32, type WritableDtype } from '../checkpoint/dtype.js';
import { mulberry32 } from '../util/prng.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { accumulateColumnAbsMax, quantizeInt4, quantizeInt8, quantizeInt8Blocks, startRowHelper } from './row-pool.js';
import { allocateOutput, runRows, type RowTask } from './row-tasks.js';
import { smoothGroup, smoothingScales } from './smooth.js';
import { columnScaled, fileRows, float32Rows, readAllRows, storedRows } from './weight-rows.js';

const ROWS = 130; // two full blocks of 64 rows and a partial one
const COLS = 37;

function uniform(length: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length }, () => (2 * next() - 1) * scale);
}

/** `bytes` copied to start at byte `offset` of a fresh buffer. */
function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(bytes.byteLength + offset);
  buffer.set(bytes, offset);
  return buffer.subarray(offset);
}

describe('weight rows', () => {
  for (const dtype of ['F16', 'BF16', 'F32'] as WritableDtype[]) {
    for (const offset of [0, 1, 2]) {
      it(`${dtype} at byte offset ${offset}: rows equal the whole tensor decoded`, () => {
        const bytes = atOffset(encodeFloat32(dtype, uniform(ROWS * COLS, 1)), offset);
        assert.deepEqual(readAllRows(storedRows(dtype, bytes, ROWS, COLS)), decodeFloat32(dtype, bytes));
      });
    }
  }

  it('reads rows from a file a chunk at a time, at any offset, and names a file that ends early', () => {
    // 9000 rows of 300 F16 values: 5.4 MB, more than one 4 MiB chunk; an odd offset in the file.
    const [rows, cols] = [9000, 300];
    const bytes = encodeFloat32('F16', uniform(rows * cols, 8));
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-rows-'));
    try {
      const path = join(dir, 'tensor.bin');
      writeFileSync(path, Buffer.concat([Buffer.alloc(3), bytes]));
      const fromFile = fileRows({ path, dtype: 'F16', offset: 3, byteLength: bytes.byteLength }, rows, cols);
      assert.deepEqual(readAllRows(fromFile), decodeFloat32('F16', bytes));
      // Rows read out of order come back right too (each outside the chunk in hand).
      const row = new Float32Array(cols);
      fromFile.read(5, row);
      assert.deepEqual(row, decodeFloat32('F16', bytes.subarray(5 * cols * 2, 6 * cols * 2)));
      writeFileSync(path, bytes.subarray(0, bytes.byteLength - 2));
      const short = fileRows({ path, dtype: 'F16', offset: 0, byteLength: bytes.byteLength }, rows, cols);
      assert.throws(() => readAllRows(short), (error: Error) => error instanceof CheckpointError && /tensor\.bin/.test(error.message) && /the file ending/.test(error.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bytes that are not rows x cols values', () => {
    assert.throws(() => storedRows('F16', new Uint8Array(2 * ROWS * COLS - 2), ROWS, COLS), /for a \[130, 37\] weight/);
    assert.throws(() => float32Rows(new Float32Array(5), 2, 3), /5 float32 values for a \[2, 3\] weight/);
  });

  it('scales columns and finds each column\'s largest magnitude', () => {
    const data = Float32Array.from([1, -4, 2, -3, 0.5, 6]); // [2, 3]
    const scale = Float32Array.from([2, 0.5, 0.1]);
    assert.deepEqual(readAllRows(columnScaled(float32Rows(data, 2, 3), scale)), Float32Array.from([2, -2, 0.2, -6, 0.25, 0.6]));
    const max = new Float32Array(3);
    accumulateColumnAbsMax(float32Rows(data, 2, 3), max);
    assert.deepEqual([...max], [3, 4, 6]);
  });
});

describe('int8 from rows', () => {
  it('equals a plain per-channel quantiser, laid out [in, out], across row blocks', () => {
    const weight = uniform(ROWS * COLS, 2);
    weight.fill(0, 5 * COLS, 6 * COLS); // an all-zero channel keeps scale 1
    const q = quantizeInt8(float32Rows(weight, ROWS, COLS));
    for (let o = 0; o < ROWS; o++) {
      let max = 0;
      for (let i = 0; i < COLS; i++) max = Math.max(max, Math.abs(weight[o * COLS + i]!));
      const scale = Math.fround(max > 0 ? max / 127 : 1);
      assert.equal(q.scales[o], scale, `scale ${o}`);
      for (let i = 0; i < COLS; i++) assert.equal(q.codes[i * ROWS + o], Math.round(weight[o * COLS + i]! / scale) || 0, `code [${i}, ${o}]`);
    }
  });
});

describe('smoothing', () => {
  it('s_j = sqrt(|gamma_j| / max |W_rj|) over the group; gamma / s times W * s is the product it was', () => {
    const gamma = uniform(COLS, 3, 4);
    gamma[0] = 0; // a zero norm channel keeps s = 1
    const weights = [uniform(ROWS * COLS, 4), uniform(64 * COLS, 5, 3)];
    const rows = [float32Rows(weights[0]!, ROWS, COLS), float32Rows(weights[1]!, 64, COLS)];
    const s = smoothingScales(gamma, rows);
    for (let j = 0; j < COLS; j++) {
      let max = 0;
      for (const [w, count] of [[weights[0]!, ROWS], [weights[1]!, 64]] as const) for (let r = 0; r < count; r++) max = Math.max(max, Math.abs(w[r * COLS + j]!));
      assert.equal(s[j], gamma[j] === 0 ? 1 : Math.fround(Math.sqrt(Math.abs(gamma[j]!) / max)), `s[${j}]`);
    }
    const smoothed = smoothGroup(gamma, rows);
    const first = readAllRows(smoothed.weights[0]!);
    for (let r = 0; r < ROWS; r++) {
      for (let j = 0; j < COLS; j++) {
        const before = gamma[j]! * weights[0]![r * COLS + j]!;
        const after = smoothed.gamma[j]! * first[r * COLS + j]!;
        assert.ok(Math.abs(after - before) <= 1e-6 * Math.abs(before) + 1e-12, `[${r}, ${j}]`);
      }
    }
  });
});

describe('row pool (a helper thread takes the upper half of a large weight)', () => {
  // 1100 x 1024 F16 weights: above the pool's threshold, an odd split of the rows.
  const rows = 1100;
  const cols = 1024;
  const bytes = encodeFloat32('F16', uniform(rows * cols, 6));
  const weight = () => storedRows('F16', bytes, rows, cols);
  const alone = (task: RowTask) => {
    const output = allocateOutput(task, rows, cols);
    runRows(task, weight(), output, 0, rows);
    return output;
  };

  it('gives the results of one thread, for every task', async () => {
    assert.equal(await startRowHelper(), availableParallelism() > 1);
    assert.deepEqual(quantizeInt8(weight()), alone({ kind: 'int8' }));
    assert.deepEqual(quantizeInt4(weight(), 32), alone({ kind: 'int4', blockSize: 32 }));
    assert.deepEqual(quantizeInt8Blocks(weight(), 64), alone({ kind: 'int8-blocks', blockSize: 64 }));
    const max = new Float32Array(cols);
    accumulateColumnAbsMax(weight(), max);
    assert.deepEqual(max, alone({ kind: 'column-abs-max' }));
  });

  it('reads a file-backed weight\'s upper half in the helper from the file itself', async () => {
    assert.equal(await startRowHelper(), availableParallelism() > 1);
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-rows-'));
    try {
      const path = join(dir, 'tensor.bin');
      writeFileSync(path, Buffer.concat([Buffer.alloc(6), bytes]));
      const fromFile = fileRows({ path, dtype: 'F16', offset: 6, byteLength: bytes.byteLength }, rows, cols);
      assert.deepEqual(quantizeInt8(fromFile), alone({ kind: 'int8' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scales columns in the helper as here', async () => {
    await startRowHelper();
    const scale = uniform(cols, 7, 2);
    assert.deepEqual(quantizeInt8(columnScaled(weight(), scale)), quantizeInt8(float32Rows(readAllRows(columnScaled(weight(), scale)), rows, cols)));
  });
});
