// Sampling rules on hand-made logits: greedy ties, top-k and top-p cut-offs, seeded reproducibility.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, createSampler } from './sampling.js';
import { OptionError } from '../errors.js';

const logits = Float32Array.from([0.1, 2.0, 2.0, -1.0, 1.5]);

function histogram(sample: (l: Float32Array) => number, draws: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const id = sample(logits);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('sampling', () => {
  it('greedy takes the first of equal maxima, as torch.argmax', () => {
    assert.equal(argmax(logits), 1);
    assert.equal(createSampler({ kind: 'greedy' })(logits), 1);
  });

  it('top-k 1 is greedy whatever the temperature', () => {
    const sample = createSampler({ kind: 'sample', temperature: 5, topK: 1, seed: 3 });
    assert.deepEqual([...histogram(sample, 50).keys()], [1]);
  });

  it('top-p keeps only the smallest set holding the mass', () => {
    // Probabilities at T=1: ids 1 and 2 hold ~0.39 each, id 4 ~0.24; p = 0.7 needs just ids 1 and 2.
    const sample = createSampler({ kind: 'sample', temperature: 1, topP: 0.7, seed: 1 });
    const counts = histogram(sample, 400);
    assert.deepEqual([...counts.keys()].sort(), [1, 2]);
  });

  it('samples every token in proportion without cut-offs', () => {
    const counts = histogram(createSampler({ kind: 'sample', temperature: 1, seed: 9 }), 4000);
    const expected = Array.from(logits, Math.exp);
    const total = expected.reduce((a, b) => a + b, 0);
    for (const [id, weight] of expected.entries()) {
      assert.ok(Math.abs((counts.get(id) ?? 0) / 4000 - weight / total) < 0.03, `token ${id}`);
    }
  });

  it('the same seed gives the same draws, another seed others', () => {
    const draw = (seed: number) => {
      const sample = createSampler({ kind: 'sample', temperature: 1, seed });
      return Array.from({ length: 30 }, () => sample(logits));
    };
    assert.deepEqual(draw(5), draw(5));
    assert.notDeepEqual(draw(5), draw(6));
  });

  it('rejects out-of-range options', () => {
    assert.throws(() => createSampler({ kind: 'sample', temperature: -1, seed: 0 }), OptionError);
    assert.throws(() => createSampler({ kind: 'sample', temperature: 1, topP: 1.5, seed: 0 }), OptionError);
    assert.throws(() => createSampler({ kind: 'sample', temperature: 1, topK: 2.5, seed: 0 }), OptionError);
  });
});
