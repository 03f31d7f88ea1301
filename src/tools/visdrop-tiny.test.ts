// visdrop-tiny before training: its tokenizer (ids as Hugging Face's tokenizers give them, spaces
// back on decoding, streaming equal to decoding), its initial checkpoint (HF initialisation, 144
// image tokens, small enough to ship in F16), and the engine loading it and generating.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCheckpoint } from '../checkpoint/index.js';
import { loadModel } from '../generate/model.js';
import { StreamDecoder } from '../text/stream-decoder.js';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer.js';
import { SYNTH_IMAGE_TOKEN_ID, SYNTH_UNK_ID } from './synth-tokenizer.js';
import { INITIALIZER_RANGE, QUERY_KEY_INIT_SCALE, writeVisdropTinyInit } from './visdrop-tiny.js';
import { convertCheckpoint } from './convert-checkpoint.js';
import { writeSynthDataset, type LlavaSample } from '../synth/dataset.js';
import { SYNTH_PIXEL_STATISTICS } from '../synth/pixel-statistics.js';

const PROMPT =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. " +
  'USER: <image>\nWhat color is the zebra? ASSISTANT: A plain picture with a small red star, and a label.';
/** Hugging Face tokenizers 0.22.2 (Rust, from Python) on the same tokenizer.json and PROMPT. */
const HF_IDS = [
  1, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 17, 20, 21, 22, 23, 22, 13, 24, 25, 26, 27, 12, 28, 29, 30, 18, 5, 212, 4, 51, 74, 96, 27, 174, 232, 229, 245, 228, 41, 6,
  212, 7, 118, 117, 145, 10, 130, 122, 133, 22, 13, 10, 99, 18,
];

describe('visdrop-tiny initial checkpoint', () => {
  let dir: string;
  let tokenizer: TextTokenizer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-tiny-init-'));
    writeVisdropTinyInit({ outDir: dir, seed: 0 });
    tokenizer = loadTokenizer(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("tokenizes as Hugging Face's tokenizers do: one id per word, <image> as one token, unknown words letter by letter", () => {
    assert.deepEqual(tokenizer.encode(PROMPT), HF_IDS);
    assert.equal(tokenizer.tokenId('<image>'), SYNTH_IMAGE_TOKEN_ID);
    assert.deepEqual(tokenizer.encode('<image>', { addSpecialTokens: false }), [SYNTH_IMAGE_TOKEN_ID]);
  });

  test('decodes with the spaces back, and streams the same text token by token', () => {
    const answer = 'A plain picture with a small red star at the top left, a large zebra and a label reading cat.';
    const ids = tokenizer.encode(answer, { addSpecialTokens: false });
    assert.equal(tokenizer.decode(ids), answer);
    const stream = new StreamDecoder(tokenizer);
    const streamed = ids.map((id) => stream.push(id)).join('') + stream.flush();
    assert.equal(streamed, answer);
  });

  test('every text of a synthetic set encodes without <unk>', async () => {
    const data = mkdtempSync(join(tmpdir(), 'visdrop-tiny-synth-'));
    try {
      await writeSynthDataset({ outDir: data, count: 40, seed: 5 });
      const samples = [...JSON.parse(readFileSync(join(data, 'train.json'), 'utf8')), ...JSON.parse(readFileSync(join(data, 'pretrain.json'), 'utf8'))] as LlavaSample[];
      for (const turn of samples.flatMap((s) => s.conversations)) assert.ok(!tokenizer.encode(turn.value).includes(SYNTH_UNK_ID), turn.value);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  test("weights as HF initialises them: normal(0, 0.02), norms 1, biases 0, but the decoder's queries and keys at 3x and the tower's fixed positions; at most 40 MB in F16", () => {
    const checkpoint = openCheckpoint(dir);
    let parameters = 0;
    for (const name of checkpoint.names()) {
      const values = checkpoint.float32(name);
      parameters += values.length;
      if (/norm[^.]*\.weight$|layrnorm\.weight$/.test(name)) assert.ok(values.every((v) => v === 1), name);
      else if (name.endsWith('.bias')) assert.ok(values.every((v) => v === 0), name);
      else if (name.endsWith('position_embedding.weight')) assertSinCosTable(values);
      else if (values.length >= 10000) {
        const mean = values.reduce((s, v) => s + v, 0) / values.length;
        const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
        const expected = /^language_model\.model\.layers\.\d+\.self_attn\.[qk]_proj\.weight$/.test(name) ? INITIALIZER_RANGE * QUERY_KEY_INIT_SCALE : INITIALIZER_RANGE;
        assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - expected) < 0.001 * (expected / INITIALIZER_RANGE), `${name}: mean ${mean}, std ${std}, expected ${expected}`);
      }
    }
    assert.ok(parameters * 2 <= 40e6, `${parameters} parameters`);
  });

  /** MAE's 2-D table on the 12 x 12 grid, 192 wide: rows, then columns, 48 frequencies each as sin then cos. */
  function assertSinCosTable(table: Float32Array): void {
    const width = 192;
    const near = (token: number, dim: number, expected: number) => assert.ok(Math.abs(table[token * width + dim]! - expected) < 1e-6, `token ${token}, dim ${dim}: ${table[token * width + dim]} against ${expected}`);
    for (let dim = 0; dim < width; dim++) near(0, dim, 0);
    // token 1 + 13 is the patch in row 1, column 1; token 1 + 1 is row 0, column 1
    near(14, 0, Math.sin(1));
    near(14, 48, Math.cos(1));
    near(14, 96, Math.sin(1));
    near(2, 0, 0);
    near(2, 48, 1);
    near(2, 96, Math.sin(1));
    near(2, 144, Math.cos(1));
    // the second frequency of the patch in row 5, column 7: 1 / 10000^(1/48)
    near(1 + 5 * 12 + 7, 1, Math.sin(5 / 10000 ** (1 / 48)));
    near(1 + 5 * 12 + 7, 97, Math.sin(7 / 10000 ** (1 / 48)));
  }

  test("its image processor normalises with the synthetic scenes' pixel statistics, not CLIP's", () => {
    const config = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as { image_mean: number[]; image_std: number[] };
    assert.deepEqual(config.image_mean, [...SYNTH_PIXEL_STATISTICS.mean]);
    assert.deepEqual(config.image_std, [...SYNTH_PIXEL_STATISTICS.std]);
  });

  test('loadModel reads it with 144 image tokens and generates with the vicuna_v1 prompt', async () => {
    const model = await loadModel(dir);
    try {
      assert.equal(model.arch.imageTokensPerImage, 144);
      const { text } = model.encodePrompt({ prompt: 'What color is the star?' }, true);
      assert.ok(text.endsWith("questions. USER: <image>\nWhat color is the star? ASSISTANT:"), text);
      let tokens = 0;
      for await (const event of model.generate({ image: join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg'), prompt: 'What color is the star?', maxNewTokens: 3 })) {
        if (event.type === 'done') tokens = event.tokens.length;
      }
      assert.ok(tokens >= 1);
    } finally {
      await model.release();
    }
  });

  test('convert writes the weights in F16 beside the model files, loadable, values rounded to F16', () => {
    const out = mkdtempSync(join(tmpdir(), 'visdrop-tiny-f16-'));
    try {
      const bytes = convertCheckpoint({ modelDir: dir, outDir: out, dtype: 'F16' });
      const [source, converted] = [openCheckpoint(dir), openCheckpoint(out)];
      assert.deepEqual(converted.names(), source.names());
      let parameters = 0;
      for (const name of source.names()) {
        assert.equal(converted.info(name).dtype, 'F16');
        const [a, b] = [source.float32(name), converted.float32(name)];
        parameters += a.length;
        // F16 keeps 11 significant bits: relative error <= 2^-11 above its normal range (6.1e-5).
        a.forEach((v, i) => assert.ok(Math.abs(b[i]! - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -24), `${name}[${i}]`));
      }
      assert.equal(bytes, parameters * 2);
      for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json', 'generation_config.json']) {
        assert.equal(readFileSync(join(out, file), 'utf8'), readFileSync(join(dir, file), 'utf8'), file);
      }
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(config.torch_dtype, 'float16');
      assert.throws(() => convertCheckpoint({ modelDir: dir, outDir: dir, dtype: 'F16' }), /--out/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
