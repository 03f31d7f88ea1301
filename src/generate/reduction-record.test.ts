// The reduction record's stages: originals through a vision stage and through tokens built
// between decoder layers (nested built tokens name the originals under them), ids s<stage>c<j>.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { meanToken } from '../runtime/token-plan.js';
import { StageRecorder, stageEntry } from './reduction-record.js';

describe('StageRecorder', () => {
  it('without a vision stage: originals are first-span places; built tokens list their originals', () => {
    const recorder = new StageRecorder(5, null);
    // Stage 1: keep 0 and 3, build one token from 1 and 4 (identity 5).
    recorder.decoderStage(2, { tokens: [0, 3, meanToken([4, 1])] }, [0, 1, 2, 3, 4], [0, 3, 5]);
    // Stage 2: keep 3, build from 0 and the stage-1 token (identity 6).
    recorder.decoderStage(4, { tokens: [1, meanToken([2, 0])] }, [0, 3, 5], [3, 6]);
    assert.deepEqual(recorder.stages, [
      { afterLayer: 2, keptImageTokens: [0, 3], created: [{ id: 's1c0', members: [1, 4] }], order: [0, 3, 's1c0'] },
      { afterLayer: 4, keptImageTokens: [3], created: [{ id: 's2c0', members: [0, 1, 4] }], order: [3, 's2c0'] },
    ]);
    assert.equal(recorder.nextIdentity, 7);
  });

  it('after a vision stage: first-span places are named by its order, "cls" stands for no original', () => {
    const vision = stageEntry({ where: 'vision' }, ['cls', 's1c0', 2], [{ id: 's1c0', members: [0, 1, 3] }]);
    assert.deepEqual(vision.keptImageTokens, [2]);
    const recorder = new StageRecorder(3, vision);
    recorder.decoderStage(1, { tokens: [meanToken([0, 1])] }, [0, 1, 2], [3]);
    recorder.decoderStage(2, { keep: [] }, [3], []);
    assert.deepEqual(recorder.stages.slice(1), [
      { afterLayer: 1, keptImageTokens: [], created: [{ id: 's2c0', members: [0, 1, 3] }], order: ['s2c0'] },
      { afterLayer: 2, keptImageTokens: [], created: [], order: [] },
    ]);
  });
});
