// RoPE checks: identity at position 0, norm preservation, a hand-rotated vector that pins the
// rotate_half pairing (j with j + headDim/2) and frequencies, and the relative-position property.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRope } from './rope.js';
import { maxAbsDiff, randomMatrix, row } from './test-helpers.js';

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);

test('RoPE at position 0 is the identity', () => {
  const x = randomMatrix(2 * 3 * 8, 1);
  assert.deepEqual(applyRope(x, 2, 3, 8, [0, 0], 10000), x);
});

test('RoPE preserves the norm of every head', () => {
  const x = randomMatrix(3 * 2 * 8, 2);
  const out = applyRope(x, 3, 2, 8, [1, 7, 123], 10000);
  assert.ok(maxAbsDiff(out, x) > 0.1);
  for (let head = 0; head < 6; head++) {
    assert.ok(Math.abs(norm(row(out, 8, head)) - norm(row(x, 8, head))) < 1e-14);
  }
});

test('RoPE rotates dimension j with j + headDim/2 by position * theta^(-2j/headDim)', () => {
  // headDim 4, theta 100: pair (0, 2) turns by 2 * 1, pair (1, 3) by 2 * 100^(-1/2) = 0.2.
  const out = applyRope(Float64Array.from([1, 2, 3, 4]), 1, 1, 4, [2], 100);
  const [c0, s0, c1, s1] = [Math.cos(2), Math.sin(2), Math.cos(0.2), Math.sin(0.2)];
  const expected = [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1];
  assert.ok(maxAbsDiff(out, expected) < 1e-15);
});

test('q·k after RoPE depends only on the distance between positions', () => {
  const q = randomMatrix(8, 3);
  const k = randomMatrix(8, 4);
  const score = (m: number, n: number) => dot(applyRope(q, 1, 1, 8, [m], 10000), applyRope(k, 1, 1, 8, [n], 10000));
  assert.ok(Math.abs(score(3, 1) - score(10, 8)) < 1e-12);
  assert.ok(Math.abs(score(3, 1) - score(1, 3)) > 1e-3);
});
