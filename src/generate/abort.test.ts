// Stopping a generation: an AbortSignal aborted mid-answer ends it before the next decode step
// with the signal's reason; one aborted before the start runs nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { loadModel, type LlavaModel } from './model.js';

describe('generate with an AbortSignal', () => {
  let dir: string;
  let model: LlavaModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-abort-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0 });
    model = await loadModel(dir);
  });
  after(async () => {
    await model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops before the next decode step with the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('client left');
    const types: string[] = [];
    await assert.rejects(async () => {
      for await (const event of model.generate({ prompt: 'Tell a story.', maxNewTokens: 100, signal: controller.signal })) {
        types.push(event.type);
        if (types.filter((t) => t === 'token').length === 3) controller.abort(reason);
      }
    }, (error: unknown) => error === reason);
    assert.deepEqual(types, ['prefill', 'token', 'token', 'token']);
  });

  it('runs nothing when aborted before it starts', async () => {
    const types: string[] = [];
    await assert.rejects(async () => {
      for await (const event of model.generate({ prompt: 'Hi', signal: AbortSignal.abort() })) types.push(event.type);
    }, { name: 'AbortError' });
    assert.deepEqual(types, []);
  });
});
