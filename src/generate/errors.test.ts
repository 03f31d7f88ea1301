// Bad input through the public API: each case gets its typed error, naming the file, key or tensor
// with what was expected and what was found.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { SafetensorsFile, writeSafetensors, writeShardedSafetensors, type TensorToWrite } from '../checkpoint/index.js';
import { CheckpointError, ConfigError, ImageError, OptionError, PromptError, TokenizerError, type VisdropError } from '../errors.js';
import { fastV } from '../reduce/fastv.js';
import { loadModel, type LlavaModel } from './model.js';

const DEMO_IMAGE = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg');
const TENSOR = 'language_model.model.layers.1.mlp.up_proj.weight';

/** Copies the tiny checkpoint to a new folder and lets `spoil` damage the copy. */
function spoiledCopy(source: string, spoil: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'visdrop-bad-'));
  for (const name of readdirSync(source)) copyFileSync(join(source, name), join(dir, name));
  spoil(dir);
  return dir;
}

/** Rewrites model.safetensors with `edit` applied to its tensor list. */
function rewriteWeights(dir: string, edit: (tensors: TensorToWrite[]) => TensorToWrite[]): void {
  const path = join(dir, 'model.safetensors');
  const file = new SafetensorsFile(path);
  const tensors = file.names().map((name) => ({ name, dtype: 'F32' as const, shape: file.info(name).shape, data: file.readFloat32(name) }));
  file.close();
  writeSafetensors(path, edit(tensors));
}

async function assertRejects(promise: Promise<unknown>, kind: new (...args: never[]) => VisdropError, ...mentions: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    for (const text of mentions) assert.ok(error.message.includes(text), `"${error.message}" should mention "${text}"`);
    return true;
  });
}

async function drain(model: LlavaModel, request: Parameters<LlavaModel['generate']>[0]): Promise<void> {
  for await (const event of model.generate(request)) void event;
}

describe('bad input', () => {
  let tiny: string;
  const made: string[] = [];
  const copy = (spoil: (dir: string) => void) => {
    const dir = spoiledCopy(tiny, spoil);
    made.push(dir);
    return dir;
  };
  before(async () => {
    tiny = mkdtempSync(join(tmpdir(), 'visdrop-tiny-'));
    made.push(tiny);
    await makeTinyCheckpoint({ outDir: tiny, seed: 0, shape: { textLayers: 2, visionLayers: 2 } });
  });
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  it('a missing config', async () => {
    await assertRejects(loadModel(copy((d) => rmSync(join(d, 'config.json')))), ConfigError, 'config.json', 'no such file');
  });

  it('an unknown model_type', async () => {
    const dir = copy((d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, model_type: 'qwen2_vl' }));
    });
    await assertRejects(loadModel(dir), ConfigError, 'model_type', '"llava"', '"qwen2_vl"');
  });

  it('a missing tokenizer', async () => {
    await assertRejects(loadModel(copy((d) => rmSync(join(d, 'tokenizer.json')))), TokenizerError, 'tokenizer.json');
  });

  it('a truncated safetensors file', async () => {
    const dir = copy((d) => truncateSync(join(d, 'model.safetensors'), statSync(join(d, 'model.safetensors')).size - 1000));
    await assertRejects(loadModel(dir), CheckpointError, 'model.safetensors');
  });

  /** The copy's weights rewritten as three shards with an index, as llava-hf ships them. */
  const sharded = (d: string) => {
    const path = join(d, 'model.safetensors');
    const file = new SafetensorsFile(path);
    const tensors = file.names().map((name) => ({ name, dtype: 'F32' as const, shape: file.info(name).shape, data: file.readFloat32(name) }));
    file.close();
    writeShardedSafetensors(d, tensors, Math.ceil(statSync(path).size / 3) + 1);
  };
  /** The shard holding TENSOR, as the index maps it. */
  const shard = (d: string) => join(d, JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8')).weight_map[TENSOR] as string);

  it('a missing shard of a sharded checkpoint, naming it and the index (q8, before any graph is cached)', async () => {
    let missing = '';
    const dir = copy((d) => {
      sharded(d);
      missing = shard(d);
      rmSync(missing);
    });
    const cacheDir = join(dir, 'cache');
    await assertRejects(loadModel(dir, { weights: 'q8', cache: { dir: cacheDir } }), CheckpointError, 'model.safetensors.index.json', basename(missing));
    assert.equal(statSync(cacheDir, { throwIfNoEntry: false }), undefined);
  });

  it('a truncated shard of a sharded checkpoint, naming it, with no cache written', async () => {
    let truncated = '';
    const dir = copy((d) => {
      sharded(d);
      truncated = shard(d);
      truncateSync(truncated, statSync(truncated).size - 1000);
    });
    const cacheDir = join(dir, 'cache');
    await assertRejects(loadModel(dir, { weights: 'q8', cache: { dir: cacheDir } }), CheckpointError, basename(truncated));
    assert.equal(statSync(cacheDir, { throwIfNoEntry: false }), undefined, 'the shards are checked before the cache is touched');
  });

  it('a malformed safetensors header', async () => {
    const dir = copy((d) => writeFileSync(join(d, 'model.safetensors'), Buffer.from('\x10\x00\x00\x00\x00\x00\x00\x00{not json at all', 'latin1')));
    await assertRejects(loadModel(dir), CheckpointError, 'model.safetensors');
  });

  it('a missing tensor', async () => {
    const dir = copy((d) => rewriteWeights(d, (tensors) => tensors.filter((t) => t.name !== TENSOR)));
    await assertRejects(loadModel(dir), CheckpointError, TENSOR);
  });

  it('a tensor of the wrong shape', async () => {
    const dir = copy((d) =>
      rewriteWeights(d, (tensors) => tensors.map((t) => (t.name === TENSOR ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t))),
    );
    await assertRejects(loadModel(dir), CheckpointError, TENSOR, '[256, 128]', '[128, 256]');
  });

  it('a tensor of a non-float dtype', async () => {
    const dir = copy((d) => {
      const path = join(d, 'model.safetensors');
      const bytes = readFileSync(path);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      const header = bytes.subarray(8, 8 + headerLength).toString('utf8');
      // Same byte length, so only the declared dtype changes: F32 [256,128] -> I32 [256,128].
      const spoilt = header.replace(new RegExp(`("${TENSOR.replaceAll('.', '\\.')}":\\{"dtype":)"F32"`), '$1"I32"');
      assert.notEqual(spoilt, header);
      writeFileSync(path, Buffer.concat([bytes.subarray(0, 8), Buffer.from(spoilt), bytes.subarray(8 + headerLength)]));
    });
    await assertRejects(loadModel(dir), CheckpointError, TENSOR, 'I32');
  });

  describe('requests', () => {
    let model: LlavaModel;
    before(async () => {
      model = await loadModel(tiny);
    });
    after(() => model.release());

    it('an unreadable image', async () => {
      const path = join(tiny, 'not-an-image.png');
      writeFileSync(path, 'plain text');
      await assertRejects(drain(model, { image: path, prompt: 'hi' }), ImageError, path);
    });

    it('a missing image file', async () => {
      await assertRejects(drain(model, { image: '/no/such/picture.jpg', prompt: 'hi' }), ImageError, '/no/such/picture.jpg', 'no such file');
    });

    it('an image but no image marker in a raw prompt', async () => {
      await assertRejects(drain(model, { image: DEMO_IMAGE, rawPrompt: 'USER: hello ASSISTANT:' }), PromptError, 'image');
    });

    it('an image marker but no image', async () => {
      await assertRejects(drain(model, { rawPrompt: 'USER: <image>\nhello ASSISTANT:' }), PromptError, 'image');
    });

    it('a prompt longer than the context once the image tokens are in', async () => {
      const long = `USER: <image>\n${'hello '.repeat(3600)}ASSISTANT:`;
      await assertRejects(drain(model, { image: DEMO_IMAGE, rawPrompt: long }), PromptError, '4096', '576 image');
    });

    it('a token reduction without an image', async () => {
      await assertRejects(drain(model, { rawPrompt: 'USER: hello ASSISTANT:', reduce: fastV() }), OptionError, '--reduce fastv', 'no image');
    });

    it('pixel values of the wrong shape', async () => {
      const pixelValues = { data: new Float32Array(3 * 224 * 224), shape: [1, 3, 224, 224] as [1, 3, number, number] };
      await assertRejects(drain(model, { pixelValues, prompt: 'hi' }), ImageError, 'pixel_values', '[1, 3, 336, 336]', '[1, 3, 224, 224]');
    });
  });
});
