// Tests of SafetensorsFile on hand-built files: reading tensors (also at odd offsets), and one
// test per malformation, each checking the error names the file/tensor, the expected and the found.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CheckpointError } from '../errors.js';
import { SafetensorsFile } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'visdrop-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes a safetensors file by hand: u64 header length (declared, or the real one), header, data. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): string {
  const path = join(dir, `file-${++fileCount}.safetensors`);
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(declaredLength ?? json.byteLength));
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

interface Expected {
  readonly subject: string;
  readonly expected: RegExp;
  readonly found: RegExp;
}

function assertCheckpointError(action: () => unknown, want: Expected): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof CheckpointError, `expected a CheckpointError, got ${String(error)}`);
    assert.equal(error.subject, want.subject);
    assert.match(error.expected, want.expected);
    assert.match(error.found, want.found);
    assert.ok(error.message.startsWith(`${want.subject}: expected ${error.expected}, found ${error.found}`));
    return true;
  });
}

describe('SafetensorsFile reading', () => {
  const header = {
    __metadata__: { format: 'pt' },
    'a.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    'a.ids': { dtype: 'I32', shape: [3], data_offsets: [16, 28] },
    'a.empty': { dtype: 'F16', shape: [0, 4], data_offsets: [28, 28] },
    'a.half': { dtype: 'F16', shape: [2], data_offsets: [28, 32] },
  };
  const data = new Uint8Array([
    ...f32Bytes([1, 2, 3, 4]),
    ...new Uint8Array(new Int32Array([7, -1, 9]).buffer),
    ...[0x00, 0x3c, 0x00, 0xc0],
  ]);

  it('lists names in file order with their dtype, shape and the metadata', () => {
    const file = new SafetensorsFile(rawFile(header, data));
    try {
      assert.deepEqual(file.names(), ['a.weight', 'a.ids', 'a.empty', 'a.half']);
      assert.deepEqual(file.info('a.weight'), { dtype: 'F32', shape: [2, 2] });
      assert.deepEqual(file.info('a.empty'), { dtype: 'F16', shape: [0, 4] });
      assert.deepEqual(file.metadata, { format: 'pt' });
      assert.equal(file.has('a.ids'), true);
      assert.equal(file.has('a.bias'), false);
    } finally {
      file.close();
    }
  });

  it('reads float32 and raw bytes', () => {
    const file = new SafetensorsFile(rawFile(header, data));
    try {
      assert.deepEqual([...file.readFloat32('a.weight')], [1, 2, 3, 4]);
      assert.deepEqual([...file.readFloat32('a.half')], [1, -2]);
      assert.deepEqual([...file.readFloat32('a.empty')], []);
      assert.deepEqual([...new Int32Array(file.readRaw('a.ids').buffer)], [7, -1, 9]);
    } finally {
      file.close();
    }
  });

  it('reads tensors whose data starts at an odd byte of the file', () => {
    // An unpadded header of odd length puts the data section at an odd byte.
    const json = JSON.stringify({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }) + ' '.repeat(2);
    assert.equal((8 + json.length) % 2, 1);
    const file = new SafetensorsFile(rawFile(json, f32Bytes([0.5, -8, 3e38])));
    try {
      assert.deepEqual([...file.readFloat32('x')], [0.5, -8, Math.fround(3e38)]);
    } finally {
      file.close();
    }
  });

  it('has empty metadata when the header has none', () => {
    const file = new SafetensorsFile(rawFile({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([5])));
    assert.deepEqual(file.metadata, {});
    assert.deepEqual([...file.readRaw('x')], [5]);
    file.close();
  });

  it('refuses to read after close', () => {
    const path = rawFile({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([5]));
    const file = new SafetensorsFile(path);
    file.close();
    assertCheckpointError(() => file.readRaw('x'), { subject: path, expected: /an open file/, found: /closed/ });
  });
});

describe('SafetensorsFile errors', () => {
  it('names a missing file', () => {
    const path = join(dir, 'absent.safetensors');
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: path,
      expected: /^a safetensors file$/,
      found: /^no such file$/,
    });
  });

  it('names a directory given as file', () => {
    assertCheckpointError(() => new SafetensorsFile(dir), {
      subject: dir,
      expected: /^a safetensors file$/,
      found: /^a directory$/,
    });
  });

  it('rejects a file too short for the header length', () => {
    const path = join(dir, 'tiny.safetensors');
    writeFileSync(path, new Uint8Array([1, 2, 3]));
    assertCheckpointError(() => new SafetensorsFile(path), { subject: path, expected: /at least 8 bytes/, found: /^3 bytes$/ });
  });

  it('rejects a header length beyond the file', () => {
    const path = rawFile({}, new Uint8Array(0), 1000);
    // The file is 8 + 2 bytes long.
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: path,
      expected: /at most 2 bytes \(the file has 10\)/,
      found: /^1000 bytes$/,
    });
  });

  it('rejects a header length absurdly beyond the file, as a u64 beyond 2^53', () => {
    const path = rawFile({}, new Uint8Array(0), Number.MAX_SAFE_INTEGER);
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: path,
      expected: /at most 2 bytes/,
      found: new RegExp(`^${Number.MAX_SAFE_INTEGER} bytes$`),
    });
  });

  it('rejects a malformed JSON header', () => {
    const path = rawFile('{"x": {"dtype": "F32",');
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: path,
      expected: /^a JSON header$/,
      found: /JSON.* in 22 header bytes/,
    });
  });

  it('rejects a header that is JSON but not an object', () => {
    const path = rawFile('[1, 2]');
    assertCheckpointError(() => new SafetensorsFile(path), { subject: path, expected: /JSON object/, found: /^\[1, 2\]$/ });
  });

  it('rejects metadata that is not all strings', () => {
    const path = rawFile({ __metadata__: { format: 'pt', step: 3 } });
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: __metadata__`,
      expected: /object of string values/,
      found: /"step":3/,
    });
  });

  it('reports a truncated file with the tensor and both byte counts', () => {
    const header = {
      first: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      second: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    };
    const path = rawFile(header, f32Bytes([1, 2, 3, 4, 5, 6]));
    const headerBytes = JSON.stringify(header).length;
    const fullSize = 8 + headerBytes + 24;
    truncateSync(path, fullSize - 5);
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: second`,
      expected: new RegExp(`at least ${fullSize} bytes`),
      found: new RegExp(`^${fullSize - 5} bytes$`),
    });
  });

  it('reports a file truncated after it was opened when the tensor is read', () => {
    const path = rawFile({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32Bytes([1, 2, 3, 4]));
    const file = new SafetensorsFile(path);
    const size = 8 + JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }).length + 16;
    truncateSync(path, size - 6);
    try {
      assertCheckpointError(() => file.readFloat32('x'), {
        subject: `${path}: x`,
        expected: /^16 bytes of tensor data$/,
        found: /^10 bytes before the end of the file$/,
      });
    } finally {
      file.close();
    }
  });

  it('rejects an unknown dtype, naming it', () => {
    const path = rawFile({ q: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 1] } }, new Uint8Array(1));
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: q`,
      expected: /a dtype among F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL/,
      found: /^"Q4_K"$/,
    });
  });

  it('rejects a shape with a negative or fractional dimension', () => {
    const path = rawFile({ x: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } });
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: x`,
      expected: /shape of non-negative integers/,
      found: /^\[2, -1\]$/,
    });
  });

  it('rejects data_offsets inconsistent with the shape', () => {
    const path = rawFile({ w: { dtype: 'BF16', shape: [3, 5], data_offsets: [0, 32] } }, new Uint8Array(32));
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: w`,
      expected: /^30 bytes for BF16 of shape \[3, 5\]$/,
      found: /^data_offsets \[0, 32\], 32 bytes$/,
    });
  });

  it('rejects data_offsets that are not an ordered pair', () => {
    const path = rawFile({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, new Uint8Array(4));
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: w`,
      expected: /data_offsets \[begin, end\]/,
      found: /^\[4, 2\]$/,
    });
  });

  it('rejects tensors whose data overlaps', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    const path = rawFile(header, new Uint8Array(12));
    assertCheckpointError(() => new SafetensorsFile(path), {
      subject: `${path}: b`,
      expected: /at or after byte 8, where a ends/,
      found: /^data_offsets \[4, 12\]$/,
    });
  });

  it('rejects a non-float tensor where floats are needed, naming the dtype', () => {
    const path = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    const file = new SafetensorsFile(path);
    try {
      assertCheckpointError(() => file.readFloat32('ids'), {
        subject: `${path}: ids`,
        expected: /^F32, F16 or BF16$/,
        found: /^I64$/,
      });
    } finally {
      file.close();
    }
  });

  it('names an unknown tensor', () => {
    const path = rawFile({ x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1));
    const file = new SafetensorsFile(path);
    try {
      assertCheckpointError(() => file.info('y'), { subject: `${path}: y`, expected: /tensor of that name/, found: /no such tensor/ });
    } finally {
      file.close();
    }
  });

  it('closes the file when the header is rejected', () => {
    // If the failed open leaked its descriptor, the next descriptor handed out would not reuse it.
    const path = rawFile('not json');
    const probe = openSync(path, 'r');
    closeSync(probe);
    assert.throws(() => new SafetensorsFile(path), CheckpointError);
    const next = openSync(path, 'r');
    closeSync(next);
    assert.equal(next, probe);
  });
});
