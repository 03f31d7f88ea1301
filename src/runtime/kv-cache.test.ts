// LayerKv bookkeeping on plain arrays: appends across capacity growth, keep(), per-layer lengths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KvCache, LayerKv } from './kv-cache.js';
import { attentionMask } from './mask.js';

/** keyT [Hk, Hd, T] and value [Hk, T, Hd] whose entries encode (head, dim, token) for checking. */
function tokens(Hk: number, Hd: number, first: number, T: number) {
  const keyT = new Float32Array(Hk * Hd * T);
  const value = new Float32Array(Hk * T * Hd);
  for (let h = 0; h < Hk; h++)
    for (let d = 0; d < Hd; d++)
      for (let t = 0; t < T; t++) {
        keyT[(h * Hd + d) * T + t] = 1000 * h + 100 * d + first + t;
        value[(h * T + t) * Hd + d] = -(1000 * h + 100 * d + first + t);
      }
  return { keyT, value, positions: Array.from({ length: T }, (_, t) => first + t) };
}

/** The cached token ids read back out of the buffers, per head and dim, from keys and values. */
function cachedTokens(kv: LayerKv): { keys: number[]; values: number[] } {
  const { keysT, values } = kv.buffers();
  const C = kv.capacity;
  const keys: number[] = [];
  const vals: number[] = [];
  for (let h = 0; h < kv.numKvHeads; h++)
    for (let d = 0; d < kv.headDim; d++)
      for (let t = 0; t < kv.length; t++) {
        keys.push(keysT[(h * kv.headDim + d) * C + t]! - 1000 * h - 100 * d);
        vals.push(-values[(h * C + t) * kv.headDim + d]! - 1000 * h - 100 * d);
      }
  return { keys, values: vals };
}

describe('LayerKv', () => {
  it('appends prefill and decode tokens across a capacity change', () => {
    const kv = new LayerKv(2, 3);
    // 60 tokens (rows copied whole), then 3 at once and 1 at a time (rows copied element by element).
    const prefill = tokens(2, 3, 0, 60);
    kv.append(prefill.keyT, prefill.value, prefill.positions);
    assert.equal(kv.capacity, 64);
    const three = tokens(2, 3, 60, 3);
    kv.append(three.keyT, three.value, three.positions);
    for (const t of [63, 64, 65]) {
      const step = tokens(2, 3, t, 1);
      kv.append(step.keyT, step.value, step.positions);
    }
    assert.equal(kv.length, 66);
    assert.equal(kv.capacity, 128);
    const expected = Array.from({ length: 6 }, () => Array.from({ length: 66 }, (_, t) => t)).flat();
    assert.deepEqual(cachedTokens(kv), { keys: expected, values: expected });
    assert.deepEqual(kv.positions.slice(-3), [63, 64, 65]);
  });

  it('keep() compacts keys, values and positions in the given order', () => {
    const kv = new LayerKv(1, 2);
    const all = tokens(1, 2, 10, 6);
    kv.append(all.keyT, all.value, all.positions);
    kv.keep([0, 2, 5]);
    assert.equal(kv.length, 3);
    assert.deepEqual(kv.positions, [10, 12, 15]);
    assert.deepEqual(cachedTokens(kv), { keys: [10, 12, 15, 10, 12, 15], values: [10, 12, 15, 10, 12, 15] });
  });

  it('layers keep their own lengths', () => {
    const cache = new KvCache(2, 1, 1);
    const a = tokens(1, 1, 0, 4);
    cache.layer(0).append(a.keyT, a.value, a.positions);
    cache.layer(1).append(a.keyT, a.value, a.positions);
    cache.layer(1).keep([1, 3]);
    assert.deepEqual([cache.layer(0).length, cache.layer(1).length], [4, 2]);
    assert.throws(() => cache.layer(2), RangeError);
  });
});

describe('attentionMask', () => {
  it('shows filled slots, hides spare ones, and is causal among new tokens', () => {
    const mask = Array.from(attentionMask(2, 3, 2));
    const I = -Infinity;
    assert.deepEqual(mask, [0, 0, I, 0, I, 0, 0, I, 0, 0]);
  });
});
