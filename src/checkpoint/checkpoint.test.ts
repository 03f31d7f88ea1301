// Tests of openCheckpoint on single-file and sharded directories, and of each error a broken
// checkpoint or a wrong request produces: the directory, file, shard or tensor is named.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CheckpointError } from '../errors.js';
import { openCheckpoint } from './checkpoint.js';
import { writeSafetensors, writeShardedSafetensors, type TensorToWrite } from './write.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-checkpoint-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
function newDir(): string {
  const dir = join(root, `case-${++dirCount}`);
  mkdirSync(dir);
  return dir;
}

const tensors: TensorToWrite[] = [
  { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [4, 2], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]) },
  { name: 'model.norm.weight', dtype: 'F32', shape: [2], data: new Float32Array([0.5, 1.5]) },
  { name: 'lm_head.weight', dtype: 'F16', shape: [3, 2], data: new Float32Array([-1, 0, 1, 2, 3, 4]) },
];

/** A checkpoint split so that each tensor sits in its own shard. */
function shardedDir(): string {
  const dir = newDir();
  writeShardedSafetensors(dir, tensors, 16);
  return dir;
}

function assertCheckpointError(
  action: () => unknown,
  want: { subject: string; expected: RegExp | string; found: RegExp | string },
): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof CheckpointError, `expected a CheckpointError, got ${String(error)}`);
    assert.equal(error.subject, want.subject);
    if (typeof want.expected === 'string') assert.equal(error.expected, want.expected);
    else assert.match(error.expected, want.expected);
    if (typeof want.found === 'string') assert.equal(error.found, want.found);
    else assert.match(error.found, want.found);
    return true;
  });
}

describe('openCheckpoint', () => {
  it('reads a single model.safetensors', () => {
    const dir = newDir();
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const checkpoint = openCheckpoint(dir);
    try {
      assert.equal(checkpoint.dir, dir);
      assert.deepEqual(checkpoint.names(), tensors.map((t) => t.name));
      assert.equal(checkpoint.has('lm_head.weight'), true);
      assert.equal(checkpoint.has('lm_head.bias'), false);
      assert.deepEqual(checkpoint.info('model.embed_tokens.weight'), { dtype: 'BF16', shape: [4, 2] });
      assert.deepEqual([...checkpoint.float32('lm_head.weight', [3, 2])], [-1, 0, 1, 2, 3, 4]);
      assert.deepEqual([...checkpoint.float32('model.norm.weight')], [0.5, 1.5]);
      assert.deepEqual(checkpoint.fileNames(), ['model.safetensors']);
    } finally {
      checkpoint.close();
    }
  });

  it('reads shards through model.safetensors.index.json', () => {
    const dir = shardedDir();
    const checkpoint = openCheckpoint(dir);
    try {
      assert.deepEqual(checkpoint.names().sort(), tensors.map((t) => t.name).sort());
      for (const t of tensors) assert.deepEqual(checkpoint.float32(t.name, t.shape), t.data);
      assert.deepEqual(checkpoint.fileNames().sort(), [
        'model-00001-of-00003.safetensors',
        'model-00002-of-00003.safetensors',
        'model-00003-of-00003.safetensors',
        'model.safetensors.index.json',
      ]);
    } finally {
      checkpoint.close();
    }
  });
});

describe('openCheckpoint errors', () => {
  it('names the directory and both file names when neither exists', () => {
    const dir = newDir();
    assertCheckpointError(() => openCheckpoint(dir), {
      subject: dir,
      expected: 'model.safetensors or model.safetensors.index.json',
      found: 'neither file',
    });
  });

  it('names a directory that does not exist', () => {
    const dir = join(root, 'absent');
    assertCheckpointError(() => openCheckpoint(dir), {
      subject: dir,
      expected: 'model.safetensors or model.safetensors.index.json',
      found: 'no such directory',
    });
  });

  it('names a missing shard and the index listing it', () => {
    const dir = shardedDir();
    const shard = join(dir, 'model-00002-of-00003.safetensors');
    rmSync(shard);
    assertCheckpointError(() => openCheckpoint(dir), {
      subject: shard,
      expected: `the shard listed in ${join(dir, 'model.safetensors.index.json')}`,
      found: 'no such file',
    });
  });

  it('names a tensor the index lists but its shard lacks', () => {
    const dir = shardedDir();
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    index.weight_map['model.layers.0.mlp.weight'] = 'model-00001-of-00003.safetensors';
    writeFileSync(indexPath, JSON.stringify(index));
    assertCheckpointError(() => openCheckpoint(dir), {
      subject: `${join(dir, 'model-00001-of-00003.safetensors')}: model.layers.0.mlp.weight`,
      expected: `the tensor, as ${indexPath} lists it in this shard`,
      found: 'no such tensor in the shard',
    });
  });

  it('rejects an index that is not JSON, or has no weight_map', () => {
    const dir = newDir();
    const indexPath = join(dir, 'model.safetensors.index.json');
    writeFileSync(indexPath, '{"weight_map": ');
    assertCheckpointError(() => openCheckpoint(dir), { subject: indexPath, expected: 'a JSON index', found: /JSON/ });
    writeFileSync(indexPath, '{"metadata": {}}');
    assertCheckpointError(() => openCheckpoint(dir), {
      subject: `${indexPath}: weight_map`,
      expected: 'an object mapping tensor names to shard file names',
      found: 'nothing',
    });
  });

  it('reports a shard with a broken header, naming the shard', () => {
    const dir = shardedDir();
    const shard = join(dir, 'model-00003-of-00003.safetensors');
    // Header length 2, header `{x`.
    writeFileSync(shard, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x78]));
    assertCheckpointError(() => openCheckpoint(dir), { subject: shard, expected: 'a JSON header', found: /JSON/ });
  });
});

describe('Checkpoint tensor errors', () => {
  it('names a missing tensor and the directory', () => {
    const dir = newDir();
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const checkpoint = openCheckpoint(dir);
    try {
      assertCheckpointError(() => checkpoint.float32('model.layers.0.self_attn.q_proj.weight'), {
        subject: `${dir}: model.layers.0.self_attn.q_proj.weight`,
        expected: 'a tensor of that name in model.safetensors',
        found: 'no such tensor',
      });
    } finally {
      checkpoint.close();
    }
  });

  it('names a tensor missing from a sharded checkpoint and the weight_map', () => {
    const checkpoint = openCheckpoint(shardedDir());
    try {
      assertCheckpointError(() => checkpoint.info('vision_tower.weight'), {
        subject: `${checkpoint.dir}: vision_tower.weight`,
        expected: 'a tensor of that name in the weight_map of model.safetensors.index.json',
        found: 'no such tensor',
      });
    } finally {
      checkpoint.close();
    }
  });

  it('reports a wrong shape with the file, tensor, expected and found shapes', () => {
    const dir = shardedDir();
    const checkpoint = openCheckpoint(dir);
    try {
      assertCheckpointError(() => checkpoint.float32('lm_head.weight', [2, 3]), {
        subject: `${join(dir, 'model-00003-of-00003.safetensors')}: lm_head.weight`,
        expected: 'shape [2, 3]',
        found: 'shape [3, 2]',
      });
      assertCheckpointError(() => checkpoint.float32('model.norm.weight', [2, 1]), {
        subject: `${join(dir, 'model-00002-of-00003.safetensors')}: model.norm.weight`,
        expected: 'shape [2, 1]',
        found: 'shape [2]',
      });
    } finally {
      checkpoint.close();
    }
  });

  it('reports a non-float tensor where floats are needed', () => {
    const dir = newDir();
    const path = join(dir, 'model.safetensors');
    const header = JSON.stringify({ 'model.ids': { dtype: 'I32', shape: [2], data_offsets: [0, 8] } });
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(path, Buffer.concat([length, Buffer.from(header), Buffer.alloc(8)]));
    const checkpoint = openCheckpoint(dir);
    try {
      assertCheckpointError(() => checkpoint.float32('model.ids', [2]), {
        subject: `${path}: model.ids`,
        expected: 'F32, F16 or BF16',
        found: 'I32',
      });
    } finally {
      checkpoint.close();
    }
  });
});
