// The GGUF writer and ggml's block quantisations against their definitions (ggml-quants.c's
// reference rows, gguf.md's layout), and the decoder of a tiny checkpoint as a GGUF: names, shapes,
// metadata, bytes, and the rotary row permutation llama.cpp's converter applies to q and k.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCheckpoint } from '../checkpoint/index.js';
import { f16BitsToFloat32, float32ToF16Bits } from '../checkpoint/dtype.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { dequantizeQ4_0, dequantizeQ8_0, quantizeQ4_0, quantizeQ8_0 } from './ggml-quant.js';
import { GGUF_ALIGNMENT, readGgufHeader, writeGguf } from './gguf.js';
import { permuteRotaryRows, writeDecoderGguf } from './llava-to-gguf.js';
import { mulberry32 } from '../util/prng.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-gguf-'));
after(() => rmSync(root, { recursive: true, force: true }));

const f16 = (x: number) => f16BitsToFloat32(float32ToF16Bits(x));
const scaleOf = (bytes: Uint8Array, offset = 0) => f16BitsToFloat32(bytes[offset]! | (bytes[offset + 1]! << 8));

function randomValues(count: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count }, () => (next() - 0.5) * 4);
}

describe('q8_0', () => {
  it('stores d = max|x| / 127 as f16 and q = round(x / d), halves away from zero', () => {
    const x = new Float32Array(32);
    x[0] = 127; // d = 1 exactly
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 3.49;
    x[4] = -127;
    const block = quantizeQ8_0(x);
    assert.equal(block.length, 34);
    assert.equal(scaleOf(block), 1);
    const q = new Int8Array(block.buffer, 2, 32);
    assert.deepEqual([...q.subarray(0, 6)], [127, 3, -3, 3, -127, 0]);
  });

  it('round-trips within half a step per block', () => {
    const x = randomValues(32 * 64, 1);
    const back = dequantizeQ8_0(quantizeQ8_0(x), x.length);
    for (let b = 0; b < 64; b++) {
      const block = x.subarray(b * 32, (b + 1) * 32);
      const d = Math.max(...block.map(Math.abs)) / 127;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[b * 32 + j]! - block[j]!) <= d / 2 + 2e-3 * d * 127, `block ${b} value ${j}`);
    }
  });
});

describe('q4_0', () => {
  it('takes d from the largest-magnitude value with its sign, / -8, and packs value j low, j + 16 high', () => {
    const x = new Float32Array(32);
    x[0] = -8; // d = 1
    x[1] = 7.9; // 16.4 -> clamped to 15
    x[2] = -0.5; // trunc(8.0) = 8
    x[3] = 0.49; // trunc(8.99) = 8
    x[4] = 0.5; // 9
    x[16] = 3; // 11, high nibble of byte 0
    x[17] = -3; // 5, high nibble of byte 1
    const block = quantizeQ4_0(x);
    assert.equal(block.length, 18);
    assert.equal(scaleOf(block), 1);
    const q = block.subarray(2);
    assert.equal(q[0], 0 | (11 << 4));
    assert.equal(q[1], 15 | (5 << 4));
    assert.equal(q[2], 8 | (8 << 4));
    assert.equal(q[3], 8 | (8 << 4));
    assert.equal(q[4], 9 | (8 << 4));
  });

  it('gives a positive extreme a negative scale, so it lands on -8 exactly', () => {
    const x = new Float32Array(32);
    x[0] = 4;
    x[1] = -4;
    const block = quantizeQ4_0(x);
    assert.equal(scaleOf(block), -0.5);
    assert.equal(block[2]! & 0x0f, 0); // 4 / -0.5 + 8.5 = 0.5 -> 0, which stands for -8 * -0.5 = 4
    assert.equal(block[3]! & 0x0f, 15); // -4 / -0.5 + 8.5 = 16.5 -> clamped to 15 (3.5)
    assert.deepEqual([...dequantizeQ4_0(block, 32).subarray(0, 3)], [4, -3.5, -0]);
  });

  it('round-trips within one step per block', () => {
    const x = randomValues(32 * 64, 2);
    const back = dequantizeQ4_0(quantizeQ4_0(x), x.length);
    for (let b = 0; b < 64; b++) {
      const block = x.subarray(b * 32, (b + 1) * 32);
      const d = Math.abs(f16(Math.max(...block.map(Math.abs)) / 8));
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[b * 32 + j]! - block[j]!) <= d * 1.01, `block ${b} value ${j}`);
    }
  });

  it('refuses a length that is not whole blocks', () => {
    assert.throws(() => quantizeQ4_0(new Float32Array(33)), RangeError);
  });
});

describe('writeGguf', () => {
  it('writes the header, metadata and aligned tensors that readGgufHeader reads back', () => {
    const path = join(root, 'small.gguf');
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = randomValues(64, 3);
    const bytes = writeGguf(
      path,
      new Map([
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['llama.block_count', { type: 'u32', value: 7 }],
        ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
        ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
        ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: ['<unk>', '▁a', 'é'] }],
        ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: Int32Array.from([2, 1, -1]) }],
      ] as const),
      [
        { name: 'a', dims: [3, 2], type: 'F32', data: () => new Uint8Array(a.buffer) },
        { name: 'b', dims: [32, 2], type: 'Q8_0', data: () => quantizeQ8_0(b) },
      ],
    );
    const file = readFileSync(path);
    assert.equal(file.length, bytes);
    assert.equal(file.toString('latin1', 0, 4), 'GGUF');
    const header = readGgufHeader(path);
    assert.equal(header.version, 3);
    assert.equal(header.metadata.get('general.architecture'), 'llama');
    assert.equal(header.metadata.get('llama.block_count'), 7);
    assert.equal(header.metadata.get('llama.rope.freq_base'), 10000);
    assert.equal(header.metadata.get('tokenizer.ggml.add_bos_token'), true);
    assert.deepEqual(header.metadata.get('tokenizer.ggml.tokens'), ['<unk>', '▁a', 'é']);
    assert.deepEqual(header.metadata.get('tokenizer.ggml.token_type'), [2, 1, -1]);
    const [ta, tb] = header.tensors;
    assert.deepEqual([ta!.name, ta!.dims, ta!.type], ['a', [3, 2], 0]);
    assert.deepEqual([tb!.name, tb!.dims, tb!.type], ['b', [32, 2], 8]);
    for (const t of header.tensors) assert.equal(t.fileOffset % GGUF_ALIGNMENT, 0);
    assert.deepEqual(new Float32Array(file.buffer.slice(file.byteOffset + ta!.fileOffset, file.byteOffset + ta!.fileOffset + 24)), a);
    assert.deepEqual(new Uint8Array(file.subarray(tb!.fileOffset, tb!.fileOffset + 68)), quantizeQ8_0(b));
    assert.equal(bytes, tb!.fileOffset + 96); // 68 bytes padded to the alignment
  });

  it('refuses data of the wrong size, naming the tensor', () => {
    assert.throws(
      () => writeGguf(join(root, 'bad.gguf'), new Map(), [{ name: 'w', dims: [32, 1], type: 'Q4_0', data: () => new Uint8Array(17) }]),
      /w: expected 18 bytes of Q4_0/,
    );
  });
});

describe('the decoder as a GGUF', () => {
  it('permutes q/k rows as convert_hf_to_gguf: reshape(heads, 2, hd/2, in).swapaxes(1, 2)', () => {
    const heads = 2;
    const hd = 4;
    const inF = 3;
    const w = Float32Array.from({ length: heads * hd * inF }, (_, i) => i);
    const out = permuteRotaryRows(w, heads, hd, inF);
    // Rows of head h: [r0, r1 | r2, r3] (two halves) become [r0, r2, r1, r3].
    const rowOrder = [0, 2, 1, 3, 4, 6, 5, 7];
    assert.deepEqual([...out], rowOrder.flatMap((r) => [r * 3, r * 3 + 1, r * 3 + 2]));
  });

  it('writes llama metadata, the vocabulary and the same weights, quantised', async () => {
    const dir = join(root, 'tiny');
    const arch = await makeTinyCheckpoint({ outDir: dir, seed: 5, shape: { textLayers: 2, visionLayers: 1 } });
    const t = arch.text;
    const path = join(root, 'tiny-q8_0.gguf');
    writeDecoderGguf(dir, path, 'q8_0');
    const header = readGgufHeader(path);
    const meta = header.metadata;
    assert.equal(meta.get('general.architecture'), 'llama');
    assert.equal(meta.get('general.file_type'), 7);
    assert.equal(meta.get('llama.block_count'), 2);
    assert.equal(meta.get('llama.embedding_length'), t.hiddenSize);
    assert.equal(meta.get('llama.attention.head_count_kv'), t.numKvHeads);
    assert.equal(meta.get('llama.rope.dimension_count'), t.headDim);
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    assert.equal(tokens.length, t.vocabSize);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.equal(tokens[13], '<0x0A>');
    assert.deepEqual((meta.get('tokenizer.ggml.token_type') as number[]).slice(0, 4), [2, 3, 3, 6]);
    assert.equal(header.tensors.length, 1 + 9 * 2 + 2); // token_embd, 9 per layer, output_norm, output
    const byName = new Map(header.tensors.map((x) => [x.name, x]));
    assert.deepEqual(byName.get('token_embd.weight')!.dims, [t.hiddenSize, t.vocabSize]);
    assert.deepEqual(byName.get('blk.1.ffn_down.weight')!.dims, [t.intermediateSize, t.hiddenSize]);
    assert.equal(byName.get('blk.0.attn_norm.weight')!.type, 0);
    const file = readFileSync(path);
    const checkpoint = openCheckpoint(dir);
    const tensorBytes = (name: string, bytes: number) => new Uint8Array(file.subarray(byName.get(name)!.fileOffset, byName.get(name)!.fileOffset + bytes));
    const up = checkpoint.float32('language_model.model.layers.1.mlp.up_proj.weight');
    assert.deepEqual(tensorBytes('blk.1.ffn_up.weight', (up.length / 32) * 34), quantizeQ8_0(up));
    const q = checkpoint.float32('language_model.model.layers.0.self_attn.q_proj.weight');
    const permuted = permuteRotaryRows(q, t.numHeads, t.headDim, t.hiddenSize);
    assert.deepEqual(tensorBytes('blk.0.attn_q.weight', (q.length / 32) * 34), quantizeQ8_0(permuted));
    checkpoint.close();
  });
});
