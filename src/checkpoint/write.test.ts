// Tests of the writer: F32/F16/BF16 round trips through SafetensorsFile, HF's space padding of
// the header, atomic replacement, and sharded checkpoints with their index.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CheckpointError, OptionError } from '../errors.js';
import { openCheckpoint } from './checkpoint.js';
import { SafetensorsFile } from './safetensors.js';
import { writeSafetensors, writeShardedSafetensors, type TensorToWrite } from './write.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-write-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A directory path not yet created: the writer must create it. */
function freshDir(): string {
  return join(root, `case-${++dirCount}`);
}

function tensor(name: string, dtype: TensorToWrite['dtype'], shape: number[], values?: number[]): TensorToWrite {
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, dtype, shape, data: new Float32Array(values ?? Array.from({ length: count }, (_, i) => i - 3)) };
}

/** The header length field and the header text of a written file. */
function headerOf(path: string): { length: number; text: string } {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return { length, text: bytes.subarray(8, 8 + length).toString('utf8') };
}

describe('writeSafetensors', () => {
  it('round-trips F32, F16 and BF16, F16-representable values exactly', () => {
    const path = join(root, 'round-trip.safetensors');
    // All exactly representable in binary16, including subnormals and the extremes.
    const exact = [0, -0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24, 1 + 2 ** -10];
    const f32 = [Math.PI, -1e-30, 3e38, 123.456];
    writeSafetensors(path, [
      tensor('exact.f16', 'F16', [exact.length], exact),
      tensor('pi.f32', 'F32', [2, 2], f32),
      tensor('bf16', 'BF16', [3], [1, Math.PI, -0.1]),
      tensor('scalar', 'F32', [], [7]),
    ]);
    const file = new SafetensorsFile(path);
    try {
      assert.deepEqual(file.names(), ['exact.f16', 'pi.f32', 'bf16', 'scalar']);
      assert.deepEqual(file.info('pi.f32'), { dtype: 'F32', shape: [2, 2] });
      const f16 = file.readFloat32('exact.f16');
      exact.forEach((value, i) => assert.ok(Object.is(f16[i], value), `${value} came back as ${f16[i]}`));
      assert.deepEqual([...file.readFloat32('pi.f32')], f32.map(Math.fround));
      // BF16 keeps 8 significant bits: pi -> 3.140625, -0.1 -> -0.10009765625.
      assert.deepEqual([...file.readFloat32('bf16')], [1, 3.140625, -0.10009765625]);
      assert.deepEqual([...file.readFloat32('scalar')], [7]);
      assert.deepEqual(file.info('scalar').shape, []);
    } finally {
      file.close();
    }
  });

  it('stores F16 and BF16 as little-endian rounded bit patterns', () => {
    const path = join(root, 'bits.safetensors');
    writeSafetensors(path, [tensor('h', 'F16', [3], [1, 65504, 1e-7]), tensor('b', 'BF16', [1], [1])]);
    const file = new SafetensorsFile(path);
    try {
      assert.deepEqual([...file.readRaw('h')], [0x00, 0x3c, 0xff, 0x7b, 0x02, 0x00]);
      assert.deepEqual([...file.readRaw('b')], [0x80, 0x3f]);
    } finally {
      file.close();
    }
  });

  it('pads the header with spaces to a multiple of 8 bytes, and keeps metadata', () => {
    const path = join(root, 'padded.safetensors');
    const tensors = [tensor('w', 'F32', [1])];
    writeSafetensors(path, tensors, { format: 'pt' });
    const { length, text } = headerOf(path);
    const unpadded = JSON.stringify({
      __metadata__: { format: 'pt' },
      w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    });
    assert.notEqual(unpadded.length % 8, 0, 'the case must need padding to test it');
    assert.equal(length % 8, 0);
    assert.equal(text, unpadded.padEnd(length, ' '));
    assert.equal(readFileSync(path).byteLength, 8 + length + 4);
    const file = new SafetensorsFile(path);
    assert.deepEqual(file.metadata, { format: 'pt' });
    file.close();
  });

  it('streams a tensor larger than one write chunk intact', () => {
    const path = join(root, 'large.safetensors');
    const count = (1 << 20) + 5;
    const data = new Float32Array(count).map((_, i) => (i % 2048) - 1024);
    writeSafetensors(path, [{ name: 'big', dtype: 'F16', shape: [count], data }]);
    const file = new SafetensorsFile(path);
    try {
      assert.deepEqual(file.readFloat32('big'), data);
    } finally {
      file.close();
    }
  });

  it('replaces an existing file and leaves no temporary file', () => {
    const dir = freshDir();
    const path = join(dir, 'model.safetensors');
    writeShardedSafetensors(dir, [tensor('old', 'F32', [1])], 1000);
    writeSafetensors(path, [tensor('new', 'F32', [1])]);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    const file = new SafetensorsFile(path);
    assert.deepEqual(file.names(), ['new']);
    file.close();
  });

  it('rejects data that does not match the shape, before writing anything', () => {
    const path = join(root, 'mismatch.safetensors');
    assert.throws(
      () => writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [2, 3], data: new Float32Array(5) }]),
      (error: unknown) => {
        assert.ok(error instanceof CheckpointError);
        assert.equal(error.subject, `${path}: w`);
        assert.equal(error.expected, '6 values for shape [2, 3]');
        assert.equal(error.found, '5 values');
        return true;
      },
    );
    assert.equal(existsSync(path), false);
  });

  it('rejects a repeated tensor name', () => {
    const path = join(root, 'repeat.safetensors');
    assert.throws(() => writeSafetensors(path, [tensor('w', 'F32', [1]), tensor('w', 'F16', [1])]), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.equal(error.subject, `${path}: w`);
      assert.equal(error.found, 'a second tensor of that name');
      return true;
    });
  });

  it('reports a destination it cannot write, naming it', () => {
    const path = join(root, 'no-such-dir', 'x.safetensors');
    assert.throws(() => writeSafetensors(path, [tensor('w', 'F32', [1])]), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.equal(error.subject, path);
      assert.match(error.found, /ENOENT/);
      return true;
    });
  });
});

describe('writeSafetensors with lazy data', () => {
  it('produces each tensor once, in file order, only when it is written', () => {
    const path = join(root, 'lazy.safetensors');
    const produced: string[] = [];
    const lazy = (name: string, values: number[]): TensorToWrite => ({
      name,
      dtype: 'F16',
      shape: [values.length],
      data: () => {
        produced.push(name);
        return new Float32Array(values);
      },
    });
    writeSafetensors(path, [lazy('first', [1, 2]), lazy('second', [3])]);
    assert.deepEqual(produced, ['first', 'second']);
    const file = new SafetensorsFile(path);
    assert.deepEqual([...file.readFloat32('first')], [1, 2]);
    assert.deepEqual([...file.readFloat32('second')], [3]);
    file.close();
  });

  it('rejects lazy data whose length does not match its shape, naming the tensor, and leaves no file', () => {
    const path = join(root, 'lazy-wrong.safetensors');
    assert.throws(
      () => writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [2, 2], data: () => new Float32Array(3) }]),
      (error: unknown) => error instanceof CheckpointError && /w/.test(error.message) && /4 values/.test(error.message) && /3 values/.test(error.message),
    );
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('lazy-wrong')), []);
  });
});

describe('writeShardedSafetensors', () => {
  // 24 + 8 + 40 + 6 bytes of data.
  const tensors = [
    tensor('model.a', 'F32', [2, 3]),
    tensor('model.b', 'F16', [4]),
    tensor('lm_head', 'BF16', [20]),
    tensor('model.c', 'F32', [1, 1, 1], [0.25]),
    tensor('model.d', 'F16', [1], [5]),
  ];

  it('writes save_pretrained shards and index, and reads back through openCheckpoint', () => {
    const dir = freshDir();
    // a+b fit in 32; lm_head alone exceeds it; c+d fit together.
    const written = writeShardedSafetensors(dir, tensors, 32, { format: 'pt' });
    const shardNames = [1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`);
    assert.deepEqual(written, [...shardNames, 'model.safetensors.index.json']);
    assert.deepEqual(readdirSync(dir).sort(), [...shardNames, 'model.safetensors.index.json'].sort());

    const indexText = readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8');
    assert.deepEqual(JSON.parse(indexText), {
      metadata: { total_size: 24 + 8 + 40 + 4 + 2 },
      weight_map: {
        lm_head: shardNames[1],
        'model.a': shardNames[0],
        'model.b': shardNames[0],
        'model.c': shardNames[2],
        'model.d': shardNames[2],
      },
    });
    assert.ok(indexText.endsWith('}\n'));
    assert.deepEqual(Object.keys(JSON.parse(indexText).weight_map), ['lm_head', 'model.a', 'model.b', 'model.c', 'model.d']);

    const shard = new SafetensorsFile(join(dir, shardNames[0]!));
    assert.deepEqual(shard.names(), ['model.a', 'model.b']);
    assert.deepEqual(shard.metadata, { format: 'pt' });
    shard.close();

    const checkpoint = openCheckpoint(dir);
    try {
      assert.deepEqual(checkpoint.names().sort(), tensors.map((t) => t.name).sort());
      for (const t of tensors) {
        assert.deepEqual(checkpoint.info(t.name), { dtype: t.dtype, shape: t.shape });
        assert.deepEqual(checkpoint.float32(t.name, t.shape), t.data, t.name);
      }
    } finally {
      checkpoint.close();
    }
  });

  it('writes a single model.safetensors when everything fits, removing an older sharded layout', () => {
    const dir = freshDir();
    writeShardedSafetensors(dir, tensors, 32);
    const written = writeShardedSafetensors(dir, tensors, 1000);
    assert.deepEqual(written, ['model.safetensors']);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    const checkpoint = openCheckpoint(dir);
    assert.deepEqual(checkpoint.names(), tensors.map((t) => t.name));
    assert.deepEqual(checkpoint.float32('lm_head'), tensors[2]!.data);
    checkpoint.close();
  });

  it('removes a stale single file and stale shards when writing fewer shards', () => {
    const dir = freshDir();
    writeShardedSafetensors(dir, tensors, 1000);
    writeShardedSafetensors(dir, tensors, 8);
    writeFileSync(join(dir, 'config.json'), '{}');
    const written = writeShardedSafetensors(dir, tensors, 32);
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', ...written].sort());
  });

  it('rejects a shard size that is not a positive integer', () => {
    assert.throws(() => writeShardedSafetensors(freshDir(), tensors, 0), (error: unknown) => {
      assert.ok(error instanceof OptionError);
      assert.equal(error.subject, 'maxShardBytes');
      assert.equal(error.found, '0');
      return true;
    });
  });
});
