// Hand-checkable values for the reference's float64 building blocks: erf and the activations
// against published values, dense/norm layers on vectors small enough to work out on paper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf, gelu, layerNorm, linear, quickGelu, rmsNorm, silu, softmax } from './math.js';
import { maxAbsDiff } from './test-helpers.js';

const close = (actual: number, expected: number, tolerance: number) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test('erf matches known values to float64 precision', () => {
  close(erf(0.5), 0.5204998778130465, 1e-15);
  close(erf(1), 0.8427007929497149, 1e-15);
  close(erf(-2), -0.9953222650189527, 1e-15);
  close(erf(0.1), 0.1124629160182849, 1e-16);
  close(erf(3), 0.9999779095030014, 1e-15);
  assert.equal(erf(0), 0);
  assert.equal(erf(7), 1);
  assert.equal(erf(-Infinity), -1);
});

test('erf is odd and continuous where its method changes', () => {
  for (const x of [0.3, 0.999, 1.7, 4.2]) assert.equal(erf(-x), -erf(x));
  for (const edge of [1, 6]) close(erf(edge - 1e-9), erf(edge + 1e-9), 1e-8);
});

test('gelu is exact (erf-based) GELU', () => {
  close(gelu(1), 0.8413447460685429, 1e-15);
  assert.equal(gelu(0), 0);
  // Φ(x) + Φ(-x) = 1, so gelu(x) - gelu(-x) = x.
  for (const x of [0.25, 1.5, 3]) close(gelu(x) - gelu(-x), x, 1e-15);
  // The tanh approximation differs from exact GELU by ~1e-4 here; this tells them apart.
  const tanhApprox = 0.5 * 1.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1.5 + 0.044715 * 1.5 ** 3)));
  assert.ok(Math.abs(gelu(1.5) - tanhApprox) > 1e-5);
});

test('quick_gelu and silu', () => {
  close(quickGelu(1), 1 / (1 + Math.exp(-1.702)), 1e-16);
  close(quickGelu(-2), -2 / (1 + Math.exp(3.404)), 1e-16);
  close(silu(2), 2 / (1 + Math.exp(-2)), 1e-16);
  assert.equal(silu(0), 0);
});

test('linear multiplies by the transposed [out, in] weight and adds the bias', () => {
  const x = Float64Array.from([1, 2, 3, 4]); // [[1, 2], [3, 4]]
  const weight = Float32Array.from([1, 0, 0, 1, 1, 1]); // [[1, 0], [0, 1], [1, 1]]
  const bias = Float32Array.from([0.5, 0, -1]);
  assert.deepEqual([...linear(x, 2, 2, 3, weight, bias)], [1.5, 2, 2, 3.5, 4, 6]);
  assert.deepEqual([...linear(x, 2, 2, 3, weight)], [1, 2, 3, 3, 4, 7]);
});

test('rmsNorm divides each row by its root mean square, then scales', () => {
  const x = Float64Array.from([3, 4, 0, -2]);
  const out = rmsNorm(x, 2, 2, Float32Array.from([1, 2]), 0);
  const expected = [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5), 0, -4 / Math.sqrt(2)];
  assert.ok(maxAbsDiff(out, expected) < 1e-15);
  const withEps = rmsNorm(x, 2, 2, Float32Array.from([1, 1]), 0.5);
  close(withEps[0]!, 3 / Math.sqrt(13), 1e-15);
});

test('layerNorm centres, divides by the biased standard deviation, then scales and shifts', () => {
  const x = Float64Array.from([1, 2, 3, 4]);
  const out = layerNorm(x, 1, 4, Float32Array.from([1, 1, 2, 1]), Float32Array.from([0, 0, 0, 1]), 0);
  const sd = Math.sqrt(1.25); // mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4
  assert.ok(maxAbsDiff(out, [-1.5 / sd, -0.5 / sd, 1 / sd, 1.5 / sd + 1]) < 1e-15);
  const withEps = layerNorm(x, 1, 4, Float32Array.from([1, 1, 1, 1]), Float32Array.from([0, 0, 0, 0]), 0.75);
  close(withEps[0]!, -1.5 / Math.sqrt(2), 1e-15);
});

test('softmax normalises, matches a hand value, and ignores a constant shift', () => {
  assert.ok(maxAbsDiff(softmax(Float64Array.from([0, Math.log(3)])), [0.25, 0.75]) < 1e-15);
  const scores = Float64Array.from([0.3, -1.2, 2.5, 0]);
  const p = softmax(scores);
  close(p.reduce((a, b) => a + b, 0), 1, 1e-15);
  // A shift of 1000 would overflow a naive exp; the result moves only by the rounding of the
  // shifted scores (an ulp of 1000 is 1.1e-13).
  assert.ok(maxAbsDiff(softmax(scores.map((s) => s + 1000)), p) < 1e-12);
  assert.ok(maxAbsDiff(softmax(scores.map((s) => s - 7)), p) < 1e-14);
});
