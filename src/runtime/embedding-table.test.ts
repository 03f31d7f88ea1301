// EmbeddingTable: rows read one at a time from a checkpoint file equal the whole table decoded at
// once, for every float dtype a checkpoint holds; a float32-only source works the same; a bad id is
// refused naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFloat32, encodeFloat32 } from '../checkpoint/dtype.js';
import { GraphError } from '../errors.js';
import { EmbeddingTable } from './embedding-table.js';

const V = 7;
const D = 5;
const values = Float32Array.from({ length: V * D }, (_, i) => Math.sin(i) * (i + 1));

test('from a checkpoint file, rows of an F16, BF16 or F32 table (any offset) equal the table decoded whole, and nothing is held', () => {
  const dir = mkdtempSync(join(tmpdir(), 'visdrop-embed-'));
  try {
    for (const dtype of ['F16', 'BF16', 'F32'] as const) {
      const bytes = encodeFloat32(dtype, values).slice();
      const path = join(dir, `${dtype}.bin`);
      writeFileSync(path, Buffer.concat([Buffer.alloc(11), bytes]));
      const location = { path, dtype, offset: 11, byteLength: bytes.byteLength };
      const table = EmbeddingTable.read({ has: () => true, float32: () => assert.fail('float32 read'), location: () => location }, 'embed', V, D);
      const whole = decodeFloat32(dtype, bytes);
      const ids = [6, 0, 3, 3];
      const expected = Float32Array.from(ids.flatMap((id) => Array.from(whole.subarray(id * D, (id + 1) * D))));
      assert.deepEqual(table.rows(ids), expected, dtype);
      assert.equal(table.byteLength, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a source without a file gives its float32 table; an id outside the vocabulary is refused', () => {
  const table = EmbeddingTable.read({ has: () => true, float32: () => values }, 'embed', V, D);
  assert.deepEqual(table.rows([2]), values.subarray(2 * D, 3 * D));
  assert.throws(() => table.rows([V]), (error: unknown) => error instanceof GraphError && /token id.*\[0, 7\).*7/s.test(error.message));
  assert.throws(() => table.rows([1.5]), GraphError);
});
