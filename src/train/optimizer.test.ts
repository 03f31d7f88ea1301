// AdamW against torch.optim.AdamW's algorithm written out in float64 (lerp form), with
// clip_grad_norm_ and the Trainer's no-decay group; the schedule against get_cosine_schedule_with_warmup.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../util/prng.js';
import { AdamW, decays } from './optimizer.js';
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
