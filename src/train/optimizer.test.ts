// AdamW against torch.optim.AdamW's algorithm written out in float64 (lerp form), with
// clip_grad_norm_ and the Trainer's no-decay group; on worker threads against the one-thread pass
// it had before them, bit for bit; the schedule against get_cosine_schedule_with_warmup.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { writeSafetensors } from '../checkpoint/write.js';
import { mulberry32 } from '../util/prng.js';
import { OPTIMIZER_FILE, readMoments } from './checkpoint-store.js';
import { AdamW, decays, type AdamWSettings, type MomentState } from './optimizer.js';
import { cosineWithWarmup, warmupSteps } from './schedule.js';

function randomArray(random: () => number, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

describe('AdamW', () => {
  test('matches torch.optim.AdamW + clip_grad_norm_ over several steps, decay only where the Trainer decays', () => {
    const random = mulberry32(7);
    const names = ['language_model.model.layers.0.mlp.up_proj.weight', 'vision_tower.vision_model.encoder.layers.0.layer_norm1.bias', 'language_model.model.norm.weight'];
    const params = new Map(names.map((n) => [n, randomArray(random, 50, 1)]));
    const reference = new Map(names.map((n) => [n, { p: Float64Array.from(params.get(n)!), m: new Float64Array(50), v: new Float64Array(50) }]));
    const settings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
    const adamw = new AdamW(settings);
    for (let step = 1; step <= 6; step++) {
      // Large gradients in odd steps (clipped), small in even ones (not), accumulated over 2 micro-batches.
      const grads = new Map(names.map((n) => [n, randomArray(random, 50, step % 2 ? 3 : 0.01)]));
      const lr = 0.01 * step;
      const gradScale = 0.5;
      adamw.step(params, grads, lr, gradScale);
      // torch: clip_grad_norm_ on the accumulated (scaled) gradients, then AdamW.
      let norm = 0;
      for (const g of grads.values()) for (const x of g) norm += (x * gradScale) ** 2;
      norm = Math.sqrt(norm);
      const coef = Math.min(1, 1 / (norm + 1e-6));
      for (const [name, r] of reference) {
        const g = grads.get(name)!;
        const wd = name.endsWith('.bias') || name.endsWith('norm.weight') || name.includes('layer_norm') ? 0 : settings.weightDecay;
        for (let i = 0; i < 50; i++) {
          const grad = g[i]! * gradScale * coef;
          r.p[i] = r.p[i]! * (1 - lr * wd);
          r.m[i] = r.m[i]! + (grad - r.m[i]!) * (1 - settings.beta1);
          r.v[i] = r.v[i]! * settings.beta2 + (1 - settings.beta2) * grad * grad;
          const denom = Math.sqrt(r.v[i]!) / Math.sqrt(1 - settings.beta2 ** step) + settings.eps;
          r.p[i] = r.p[i]! - (lr / (1 - settings.beta1 ** step)) * (r.m[i]! / denom);
        }
      }
    }
    for (const [name, r] of reference) {
      const got = params.get(name)!;
      for (let i = 0; i < 50; i++) assert.ok(Math.abs(got[i]! - r.p[i]!) <= 1e-5 * Math.max(1, Math.abs(r.p[i]!)), `${name}[${i}]: ${got[i]} vs ${r.p[i]}`);
    }
  });

  test('a rate per parameter updates each tensor as a separate AdamW at its own rate would', () => {
    const random = mulberry32(11);
    const names = ['vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight', 'language_model.model.layers.0.mlp.up_proj.weight'];
    const rates: Record<string, number> = { [names[0]!]: 1e-4, [names[1]!]: 1e-3 };
    const settings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0 };
    const start = names.map(() => randomArray(random, 40, 1));
    const grouped = new Map(names.map((n, i) => [n, Float32Array.from(start[i]!)]));
    const alone = names.map((n, i) => ({ adamw: new AdamW(settings), params: new Map([[n, Float32Array.from(start[i]!)]]) }));
    const adamw = new AdamW(settings);
    for (let step = 1; step <= 4; step++) {
      const grads = new Map(names.map((n) => [n, randomArray(random, 40, 1)]));
      adamw.step(grouped, grads, (name) => rates[name]!);
      names.forEach((n, i) => alone[i]!.adamw.step(alone[i]!.params, new Map([[n, grads.get(n)!]]), rates[n]!));
    }
    names.forEach((n, i) => assert.deepEqual(grouped.get(n), alone[i]!.params.get(n), n));
    assert.notDeepEqual(grouped.get(names[0]!), start[0]);
  });

  test('the no-decay group is biases and LayerNorm/RMSNorm weights', () => {
    assert.equal(decays('language_model.model.layers.3.self_attn.q_proj.weight'), true);
    assert.equal(decays('language_model.model.embed_tokens.weight'), true);
    assert.equal(decays('language_model.lm_head.weight'), true);
    assert.equal(decays('multi_modal_projector.linear_1.bias'), false);
    assert.equal(decays('language_model.model.layers.3.input_layernorm.weight'), false);
    assert.equal(decays('language_model.model.layers.3.post_attention_layernorm.weight'), false);
    assert.equal(decays('language_model.model.norm.weight'), false);
    assert.equal(decays('vision_tower.vision_model.pre_layrnorm.weight'), false);
    assert.equal(decays('vision_tower.vision_model.post_layernorm.weight'), false);
    assert.equal(decays('vision_tower.vision_model.encoder.layers.0.layer_norm2.weight'), false);
  });
});

/**
 * AdamW.step as it was before the workers (one pass per tensor on the main thread), kept verbatim
 * as the reference the parallel step must match bit for bit.
 */
function referenceStep(
  state: { steps: number; moments: Map<string, MomentState> },
  settings: AdamWSettings,
  params: ReadonlyMap<string, Float32Array>,
  grads: ReadonlyMap<string, Float32Array>,
  lr: (name: string) => number,
  gradScale: number,
): number {
  let sumSquares = 0;
  for (const grad of grads.values()) {
    let s = 0;
    for (let i = 0; i < grad.length; i++) s += grad[i]! * grad[i]!;
    sumSquares += s;
  }
  const gradNorm = Math.sqrt(sumSquares) * gradScale;
  const { beta1, beta2, eps, weightDecay, maxGradNorm } = settings;
  const clipCoef = maxGradNorm > 0 ? maxGradNorm / (gradNorm + 1e-6) : 1;
  const scale = gradScale * (clipCoef < 1 ? clipCoef : 1);
  state.steps += 1;
  const bias1 = 1 - beta1 ** state.steps;
  const bias2Sqrt = Math.sqrt(1 - beta2 ** state.steps);
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  for (const [name, grad] of grads) {
    const param = params.get(name)!;
    let moments = state.moments.get(name);
    if (!moments) {
      moments = { expAvg: new Float32Array(param.length), expAvgSq: new Float32Array(param.length) };
      state.moments.set(name, moments);
    }
    const { expAvg, expAvgSq } = moments;
    const rate = lr(name);
    const stepSize = rate / bias1;
    const keep = decays(name) ? 1 - rate * weightDecay : 1;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i]! * scale;
      const m = expAvg[i]! * beta1 + g * oneMinusBeta1;
      const v = expAvgSq[i]! * beta2 + g * g * oneMinusBeta2;
      expAvg[i] = m;
      expAvgSq[i] = v;
      param[i] = param[i]! * keep - (stepSize * m) / (Math.sqrt(v) / bias2Sqrt + eps);
    }
  }
  return gradNorm;
}

/** The float bits, so equality means bit for bit (signed zeros and NaNs included). */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('AdamW on worker threads', () => {
  const settings: AdamWSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
  // Odd lengths over several 1000-value chunks, a last chunk of one value, and tensors smaller than a chunk.
  const shapes: Record<string, number> = {
    'language_model.model.layers.0.mlp.up_proj.weight': 10_007,
    'language_model.model.layers.0.input_layernorm.weight': 2_001,
    'multi_modal_projector.linear_1.bias': 999,
    'language_model.model.layers.0.self_attn.q_proj.weight': 6_001,
    'vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight': 3,
  };
  const lr = (name: string) => (name.startsWith('vision_tower.') ? 1e-3 : 1e-2);
  const opened: AdamW[] = [];
  const parallel = (workers: number) => {
    const adamw = new AdamW(settings, { workers, parallelFrom: 0, chunk: 1000 });
    opened.push(adamw);
    return adamw;
  };
  after(() => Promise.all(opened.map((a) => a.close())));

  const start = (seed: number) => {
    const random = mulberry32(seed);
    return new Map(Object.entries(shapes).map(([name, n]) => [name, randomArray(random, n, 1)]));
  };
  /** Gradients for each step: large in odd steps (clipped), small in even ones. */
  const gradients = (seed: number, steps: number) => {
    const random = mulberry32(seed);
    return Array.from({ length: steps }, (_, step) => new Map(Object.entries(shapes).map(([name, n]) => [name, randomArray(random, n, step % 2 ? 3 : 0.01)])));
  };
  const assertSameBits = (got: ReadonlyMap<string, Float32Array>, want: ReadonlyMap<string, Float32Array>, what: string) => {
    for (const [name, array] of want) assert.deepEqual(bits(got.get(name)!), bits(array), `${what} ${name}`);
  };

  for (const workers of [1, 2]) {
    test(`${workers} worker(s): the same bits as the one-thread pass, over steps with clipping and weight decay`, () => {
      const reference = { steps: 0, moments: new Map<string, MomentState>() };
      const referenceParams = start(3);
      const params = start(3);
      const adamw = parallel(workers);
      for (const grads of gradients(4, 6)) {
        const want = referenceStep(reference, settings, referenceParams, grads, lr, 0.5);
        const { gradNorm } = adamw.step(params, grads, lr, 0.5);
        assert.equal(gradNorm, want);
      }
      assert.ok(adamw.chunksOnWorkers > 0, 'the workers took chunks');
      assertSameBits(params, referenceParams, 'parameter');
      assertSameBits(new Map([...adamw.moments].map(([n, m]) => [n, m.expAvg])), new Map([...reference.moments].map(([n, m]) => [n, m.expAvg])), 'exp_avg');
      assertSameBits(new Map([...adamw.moments].map(([n, m]) => [n, m.expAvgSq])), new Map([...reference.moments].map(([n, m]) => [n, m.expAvgSq])), 'exp_avg_sq');
    });
  }

  test('moments saved from shared memory and read back (a resume) continue on the workers as on one thread', async () => {
    const grads = gradients(8, 6);
    const reference = { steps: 0, moments: new Map<string, MomentState>() };
    const referenceParams = start(5);
    for (const g of grads) referenceStep(reference, settings, referenceParams, g, lr, 1);
    // The first half on the workers, the moments written as saveCheckpoint writes them.
    const params = start(5);
    const first = parallel(2);
    for (const g of grads.slice(0, 3)) first.step(params, g, lr, 1);
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-adamw-'));
    try {
      const tensors = [...first.moments].flatMap(([name, m]) => [
        { name: `exp_avg.${name}`, dtype: 'F32' as const, shape: [m.expAvg.length], data: m.expAvg },
        { name: `exp_avg_sq.${name}`, dtype: 'F32' as const, shape: [m.expAvgSq.length], data: m.expAvgSq },
      ]);
      writeSafetensors(join(dir, OPTIMIZER_FILE), tensors, { format: 'pt' });
      // The second half from the file's moments (ordinary arrays), as a resumed run continues.
      const resumed = parallel(2);
      for (const [name, m] of readMoments(dir)) resumed.moments.set(name, m);
      resumed.steps = first.steps;
      resumed.step(params, grads[3]!, lr, 1);
      // Closed and started again between steps (a run never needs to; the pool must allow it).
      await resumed.close();
      for (const g of grads.slice(4)) resumed.step(params, g, lr, 1);
      assertSameBits(params, referenceParams, 'parameter');
      for (const m of resumed.moments.values()) assert.ok(m.expAvg.buffer instanceof SharedArrayBuffer, 'the moments moved to shared memory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a step below the size threshold stays on the main thread; a bad gradient changes nothing', () => {
    const adamw = new AdamW(settings, { workers: 2, parallelFrom: 1_000_000 });
    opened.push(adamw);
    const params = start(9);
    adamw.step(params, gradients(10, 1)[0]!, lr);
    assert.equal(adamw.chunksOnWorkers, 0);
    assert.ok(!(adamw.moments.values().next().value!.expAvg.buffer instanceof SharedArrayBuffer));
    const before = new Map([...params].map(([n, p]) => [n, Float32Array.from(p)]));
    const bad = new Map([...gradients(11, 1)[0]!, ['language_model.model.norm.weight', new Float32Array(4)]]);
    assert.throws(() => adamw.step(params, bad, lr), /no parameter of 4 values for gradient language_model\.model\.norm\.weight/);
    assert.equal(adamw.steps, 1);
    assertSameBits(params, before, 'parameter');
  });
});

describe('cosine schedule with warm-up', () => {
  test("warm-up steps are ceil(ratio x total), as the Trainer's get_warmup_steps", () => {
    assert.equal(warmupSteps(100, 0.03), 3);
    assert.equal(warmupSteps(10, 0.03), 1);
    assert.equal(warmupSteps(5197, 0.03), 156);
    assert.equal(warmupSteps(50, 0), 0);
  });

  test('linear from 0, then a half cosine to 0', () => {
    assert.equal(cosineWithWarmup(0, 4, 100), 0);
    assert.equal(cosineWithWarmup(2, 4, 100), 0.5);
    assert.equal(cosineWithWarmup(4, 4, 100), 1);
    assert.ok(Math.abs(cosineWithWarmup(52, 4, 100) - 0.5) < 1e-12);
    assert.ok(Math.abs(cosineWithWarmup(10, 1, 10) - 0) < 1e-12);
    assert.ok(Math.abs(cosineWithWarmup(5, 1, 10) - 0.5 * (1 + Math.cos((Math.PI * 4) / 9))) < 1e-12);
    assert.equal(cosineWithWarmup(0, 0, 10), 1);
  });
});
