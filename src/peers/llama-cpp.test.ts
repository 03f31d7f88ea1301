// End to end: llama.cpp (node-llama-cpp, installed on demand from npm into the peers' scratch folder)
// loads the f32 GGUF written from a tiny visdrop checkpoint and, fed the same token ids, takes the
// same greedy tokens with the same next-token probabilities as visdrop's f32 runtime: the proof that
// the GGUF carries visdrop's weights (names, shapes, the rotary permutation, norms, vocabulary size).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../generate/model.js';
import { argmax } from '../generate/sampling.js';
import { KvCache } from '../runtime/kv-cache.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { ensureLlamaCpp, runLlamaCppScript } from './llama-cpp.js';
import { writeDecoderGguf } from './llava-to-gguf.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-llama-cpp-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PROMPT = [1, 450, 4996, 17354, 1701, 29871, 13, 3148, 1001, 29901];
const STEPS = 8;

/** visdrop's greedy tokens after `ids`, and the first step's softmax. */
async function visdropGreedy(runtime: LlavaRuntime, ids: readonly number[], steps: number): Promise<{ tokens: number[]; firstProbabilities: Float64Array }> {
  const t = runtime.arch.text;
  const cache = new KvCache(t.numLayers, t.numKvHeads, t.headDim);
  let { state } = await runtime.decoderLayers(0, t.numLayers, { hidden: runtime.embedTokens(ids), positions: ids.map((_, i) => i) }, cache);
  const tokens: number[] = [];
  let firstProbabilities = new Float64Array(0);
  for (let step = 0; step < steps; step++) {
    const rows = state.hidden.length / t.hiddenSize;
    const logits = await runtime.logits(state.hidden.subarray((rows - 1) * t.hiddenSize), 1);
    if (step === 0) {
      const max = Math.max(...logits);
      const e = Float64Array.from(logits, (x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      firstProbabilities = e.map((x) => x / sum);
    }
    const token = argmax(logits);
    tokens.push(token);
    ({ state } = await runtime.decoderLayers(0, t.numLayers, { hidden: runtime.embedTokens([token]), positions: [ids.length + step] }, cache));
  }
  return { tokens, firstProbabilities };
}

describe('llama.cpp on the GGUF of a tiny checkpoint', () => {
  it('takes visdrop f32’s greedy tokens with its probabilities', async () => {
    const dir = join(root, 'tiny');
    await makeTinyCheckpoint({ outDir: dir, seed: 11, shape: { textLayers: 3, visionLayers: 1, textKvHeads: 2 } });
    const gguf = writeDecoderGguf(dir, join(root, 'tiny-f32.gguf'), 'f32');
    const module = ensureLlamaCpp();
    const peer = runLlamaCppScript<{ tokens: number[]; firstProbabilities: [number, number][] }>({
      module,
      gguf: gguf.path,
      mode: 'greedy',
      threads: 1,
      decodeTokens: STEPS,
      tokens: PROMPT,
    });
    const model = await loadModel(dir, { weights: 'f32', cache: false, threads: 1 });
    try {
      const ours = await visdropGreedy(model.runtime, PROMPT, STEPS);
      assert.deepEqual(peer.tokens, ours.tokens);
      assert.equal(peer.firstProbabilities.length, 20);
      for (const [token, p] of peer.firstProbabilities) {
        const q = ours.firstProbabilities[token]!;
        assert.ok(Math.abs(p - q) <= 2e-3 * q, `token ${token}: llama.cpp ${p}, visdrop ${q}`);
      }
    } finally {
      await model.release();
    }
  });
});
