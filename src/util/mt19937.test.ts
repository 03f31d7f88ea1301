// torch.manual_seed(0); torch.rand(5) and torch.rand(1, 20) afterwards (torch 1.13, CPU, float32).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Mt19937 } from './mt19937.js';

describe('Mt19937', () => {
  it("gives torch's CPU float32 stream for seed 0", () => {
    const rng = new Mt19937(0);
    const first = Array.from({ length: 5 }, () => rng.nextFloat32());
    assert.deepEqual(first.map((u) => Math.fround(u)), [0.49625658988952637, 0.7682217955589294, 0.08847743272781372, 0.13203048706054688, 0.30742281675338745].map(Math.fround));
    const next = Array.from({ length: 3 }, () => rng.nextFloat32());
    assert.deepEqual(next.map(Math.fround), [0.6340786814689636, 0.4900934100151062, 0.8964447379112244].map(Math.fround));
  });
});
