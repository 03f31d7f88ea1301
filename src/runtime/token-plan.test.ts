// Token plans: kept rows copied, built tokens as weighted sums in member order, rows outside the
// span untouched, bad plans refused; on a prefill sequence, built tokens get fresh identities and
// need renumbered positions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphError } from '../errors.js';
import { applyImagePlan } from './image-tokens.js';
import { applyTokenPlan, checkTokenPlan, meanToken } from './token-plan.js';

/** 6 rows of width 2: row r = [r, 10 r]. */
const ROWS = Float32Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? i / 2 : 5 * i - 5));

describe('applyTokenPlan', () => {
  it('keeps, builds and drops tokens of the span, leaving the rows around it', () => {
    // Span = rows 1..4; keep 0 (row 1), build 0.5 x row 2 + 2 x row 4 (span 1 and 3), drop span 2 (row 3).
    const out = applyTokenPlan(ROWS, 2, 1, 4, { tokens: [0, { members: [1, 3], weights: [0.5, 2] }] });
    assert.deepEqual([...out], [0, 0, 1, 10, 0.5 * 2 + 2 * 4, 0.5 * 20 + 2 * 40, 5, 50]);
  });

  it('builds a plain mean with meanToken', () => {
    const out = applyTokenPlan(ROWS, 2, 0, 6, { tokens: [meanToken([0, 1, 2])] });
    assert.deepEqual([...out], [1, 10]);
  });
});

describe('checkTokenPlan', () => {
  it('refuses a token used twice, out of range, kept out of order, or a built token without members', () => {
    assert.throws(() => checkTokenPlan({ tokens: [0, meanToken([0, 1])] }, 4, 't'), GraphError);
    assert.throws(() => checkTokenPlan({ tokens: [4] }, 4, 't'), GraphError);
    assert.throws(() => checkTokenPlan({ tokens: [2, 1] }, 4, 't'), GraphError);
    assert.throws(() => checkTokenPlan({ tokens: [{ members: [], weights: [] }] }, 4, 't'), GraphError);
    assert.throws(() => checkTokenPlan({ tokens: [{ members: [1], weights: [] }] }, 4, 't'), GraphError);
    checkTokenPlan({ tokens: [meanToken([3, 0]), 1, 2] }, 4, 't');
  });
});

describe('applyImagePlan', () => {
  const sequence = { hidden: ROWS, positions: [0, 1, 2, 3, 4, 5], imageStart: 1, imageTokens: [0, 1, 2, 3], keyTokens: [0, 2] };

  it('gives built tokens fresh identities and renumbers positions; keys follow kept tokens', () => {
    const after = applyImagePlan(sequence, { tokens: [0, 2, meanToken([1, 3])] }, 2, 'reindex', 4);
    assert.deepEqual(after.imageTokens, [0, 2, 4]);
    assert.deepEqual(after.positions, [0, 1, 2, 3, 4]);
    assert.deepEqual(after.keyTokens, [0, 1]);
    assert.deepEqual([...after.hidden.subarray(6, 8)], [3, 30]);
  });

  it('refuses built tokens under kept positions: a built token has no position of its own', () => {
    assert.throws(() => applyImagePlan(sequence, { tokens: [meanToken([0, 1])] }, 2, 'keep-original', 4), GraphError);
    assert.deepEqual(applyImagePlan(sequence, { keep: [1, 3] }, 2, 'keep-original').positions, [0, 2, 4, 5]);
  });
});
