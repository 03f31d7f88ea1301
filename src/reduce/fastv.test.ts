// FastV: the shared conformance suite, then the spec's rules (section 1): the ranking row and
// layer, the kept count, original positions, and option errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { fastV, fastVKept } from './fastv.js';
import { runStrategyConformance } from './conformance.case.test.js';

runStrategyConformance('fastv K=2 R=0.5', () => fastV({ k: 2, r: 0.5 }));
runStrategyConformance('fastv K=3 R=0.75', () => fastV({ k: 3, r: 0.75 }));

describe('fastv rules', () => {
  it('keeps round(N(1-R)) with Python rounding', () => {
    assert.equal(fastVKept(576, 0.5), 288);
    assert.equal(fastVKept(576, 0.75), 144);
    assert.equal(fastVKept(576, 0.9), 58);
    assert.equal(fastVKept(5, 0.5), 2); // 2.5 rounds to the even neighbour
    assert.equal(fastVKept(7, 0.5), 4); // 3.5 likewise
  });

  it('ranks by the head-mean attention of the last prompt row at layer K-1, keeps original positions', async () => {
    const strategy = fastV({ k: 2, r: 0.5 });
    assert.deepEqual(strategy.boundaries, [2]);
    assert.equal(strategy.positionPolicy, 'keep-original');
    const sequence = { hidden: new Float32Array(0), positions: [0, 1, 2, 3, 4, 5, 6], imageStart: 2, imageTokens: [0, 1, 2, 3], keyTokens: [] };
    assert.deepEqual(strategy.attentionRowsBefore!(2, sequence), [6]);
    // Two heads, one row, seven keys: image columns 2..5 score (head mean) 0.2, 0.05, 0.15, 0.1.
    const attention = Float32Array.from([0.1, 0.1, 0.3, 0.0, 0.2, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4]);
    const plan = await strategy.onBoundary({
      layer: 2,
      originalImageTokens: 4,
      sequence,
      numHeads: 2,
      attention,
      scoresAtNextLayer: () => Promise.reject(new Error('FastV must not score with the next layer')),
    });
    assert.deepEqual(plan, { keep: [0, 2] });
  });

  it('rejects bad options with a clear error', () => {
    assert.throws(() => fastV({ k: 0 }), (e: unknown) => e instanceof OptionError && /fastv k/.test(e.message));
    assert.throws(() => fastV({ r: 1 }), (e: unknown) => e instanceof OptionError && /fastv r/.test(e.message) && /1/.test(e.message));
    assert.throws(() => fastV({ r: 0 }), OptionError);
    assert.throws(() => fastV({ k: 2.5 }), OptionError);
    assert.throws(() => fastV({ k: 32 }).checkModel(32), (e: unknown) => e instanceof OptionError && /32/.test(e.message));
  });
});
