// Projector checks: with identity weights the output is gelu(x + b1) + b2, rows are independent,
// and without projector biases no bias tensor is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gelu, linear } from './math.js';
import { referenceProjector } from './projector.js';
import { lookupFrom, maxAbsDiff, randomMatrix, randomWeights, row, tinyArch } from './test-helpers.js';

const identity = (n: number) => Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));

test('linear_1, exact GELU, linear_2, with biases', () => {
  const arch = tinyArch(); // Dv = Dt = 16
  const weights = randomWeights(arch, 1);
  weights.set('multi_modal_projector.linear_1.weight', identity(16));
  weights.set('multi_modal_projector.linear_2.weight', identity(16));
  const b1 = weights.get('multi_modal_projector.linear_1.bias')!;
  const b2 = weights.get('multi_modal_projector.linear_2.bias')!;
  const x = randomMatrix(3 * 16, 2);
  const expected = x.map((v, i) => gelu(v + b1[i % 16]!) + b2[i % 16]!);
  assert.ok(maxAbsDiff(referenceProjector(arch, lookupFrom(weights), x, 3), expected) < 1e-15);
});

test('rows are projected independently', () => {
  const arch = tinyArch();
  const lookup = lookupFrom(randomWeights(arch, 3));
  const x = randomMatrix(4 * 16, 4);
  const all = referenceProjector(arch, lookup, x, 4);
  for (let r = 0; r < 4; r++) {
    assert.ok(maxAbsDiff(row(all, 16, r), referenceProjector(arch, lookup, row(x, 16, r), 1)) < 1e-15);
  }
});

test('without multimodal_projector_bias no bias is read or added', () => {
  // Dt = 8 ≠ Dv = 16, so a transposed weight would not fit.
  const arch = tinyArch({ llava: { multimodal_projector_bias: false }, text: { hidden_size: 8 } });
  const weights = randomWeights(arch, 5);
  assert.equal(weights.has('multi_modal_projector.linear_1.bias'), false);
  const x = randomMatrix(2 * 16, 6);
  const hidden = linear(x, 2, 16, 8, weights.get('multi_modal_projector.linear_1.weight')!).map(gelu);
  const expected = linear(hidden, 2, 8, 8, weights.get('multi_modal_projector.linear_2.weight')!);
  const out = referenceProjector(arch, lookupFrom(weights), x, 2);
  assert.equal(out.length, 2 * 8);
  assert.ok(maxAbsDiff(out, expected) < 1e-15);
});
