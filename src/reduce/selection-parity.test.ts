// Parity with the authors' selection code: test-fixtures/parity/selection-inputs.json holds what
// VisionZip's and SparseVLM's selections read in visdrop's run of a small seeded model, and
// visdrop's record of that run; selection-goldens.json holds what the authors' code path computes
// on the same tensors (tools/python/selection_parity.py, torch 1.13). Each stage's kept tokens,
// layout and merged members must agree, and DPC-kNN's assignments on seeded points with torch's noise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ReductionStage } from '../generate/reduction-record.js';
import { dpcKnnClusters } from './dpc-knn.js';
import { visionZipPlan } from './visionzip.js';
import { Mt19937 } from '../util/mt19937.js';

const read = (name: string) => JSON.parse(readFileSync(new URL(`../../test-fixtures/parity/${name}`, import.meta.url), 'utf8'));
const { cases } = read('selection-inputs.json') as { cases: { method: string; options: Record<string, number>; inputs: Record<string, unknown>[]; record: ReductionStage[] }[] };
const { goldens, clustering } = read('selection-goldens.json') as {
  goldens: { result: unknown }[];
  clustering: { seed: number; points: number[][]; clusters: number; assignment: number[] }[];
};

interface ZipGolden {
  dominantPatches: number[];
  contextual: { target: number; members: number[] }[];
}
interface SparseGolden {
  raters: number[];
  stages: { rank: number; k: number | null; candidates: number[]; clusters: { originals: number[] }[]; blockAfter: (number | number[])[] }[];
}

describe('parity with the authors\' selection code', () => {
  cases.forEach((c, i) => {
    it(`${c.method} ${JSON.stringify(c.options)}`, () => {
      if (c.method === 'visionzip') {
        const golden = goldens[i]!.result as ZipGolden[];
        const [stage] = c.record;
        const [expected] = golden;
        assert.deepEqual(stage!.keptImageTokens, expected!.dominantPatches);
        assert.deepEqual(stage!.order, ['cls', ...expected!.dominantPatches, ...expected!.contextual.map((_, j) => `s1c${j}`)]);
        assert.deepEqual(stage!.created.map((t) => t.members), expected!.contextual.map((t) => t.members));
        // And the plan itself from the dumped tensors.
        const image = c.inputs[0] as { classAttention: number[]; keyMean: number[]; numHeads: number; headDim: number };
        const plan = visionZipPlan({ hidden: new Float32Array(0), hiddenSize: 0, classAttention: Float32Array.from(image.classAttention), numHeads: image.numHeads, keyMean: Float32Array.from(image.keyMean), headDim: image.headDim }, c.options.dominant!, c.options.contextual!);
        assert.deepEqual(plan.tokens.filter((t) => typeof t === 'number'), [0, ...expected!.dominantPatches.map((p) => p + 1)]);
        return;
      }
      const golden = goldens[i]!.result as SparseGolden;
      const stages = c.record;
      assert.equal(stages.length, golden.stages.length);
      stages.forEach((stage, s) => {
        const expected = golden.stages[s]!;
        assert.deepEqual(stage.detail?.raters, golden.raters, `stage ${s + 1} raters`);
        assert.equal(stage.detail?.rank, expected.rank, `stage ${s + 1} rank`);
        assert.equal(stage.detail?.k, expected.k, `stage ${s + 1} k`);
        assert.deepEqual(stage.detail?.candidates ?? [], expected.candidates, `stage ${s + 1} candidates`);
        assert.deepEqual(stage.created.map((t) => t.members), expected.clusters.map((cl) => cl.originals), `stage ${s + 1} clusters`);
        // The block after the stage: originals as themselves, built tokens as their originals.
        const members = new Map(stages.slice(0, s + 1).flatMap((st) => st.created.map((t) => [t.id, t.members] as const)));
        const block = stage.order.map((t) => (typeof t === 'number' ? t : [...members.get(t)!]));
        assert.deepEqual(block, expected.blockAfter, `stage ${s + 1} block`);
      });
    });
  });

  it('DPC-kNN assigns as cluster_and_merge does, noise from torch.manual_seed', () => {
    for (const c of clustering) {
      const rng = new Mt19937(c.seed);
      const points = c.points.map((p) => Float32Array.from(p));
      assert.deepEqual(dpcKnnClusters(points, points[0]!.length, c.clusters, () => rng.nextFloat32()), c.assignment, `seed ${c.seed}`);
    }
  });
});
