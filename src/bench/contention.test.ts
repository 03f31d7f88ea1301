// Tests of the contention measure: others' share is their busy and stolen time over the cores'
// wall time, this process's own time left out, clamped to [0, 1].
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { describe, it } from 'node:test';
import { markCpu, othersShare } from './contention.js';

describe('othersShare', () => {
  it('counts other busy time and steal, not this process’s own time', () => {
    const cores = cpus().length;
    const since = { busyMs: 0, stealMs: 0, ownMs: 0, wallMs: 0 };
    // Over 1 s: 500 ms of our own work, 300 ms of others', 200 ms stolen.
    assert.equal(othersShare(since, { busyMs: 800, stealMs: 200, ownMs: 500, wallMs: 1000 }), 0.5 / cores);
    assert.equal(othersShare(since, { busyMs: 400, stealMs: 0, ownMs: 500, wallMs: 1000 }), 0);
    assert.equal(othersShare(since, { ...since, wallMs: 0 }), 0);
  });

  it('reads the machine’s counters', () => {
    const mark = markCpu();
    assert.ok(mark.busyMs > 0 && mark.ownMs > 0 && mark.stealMs >= 0);
    const share = othersShare(mark);
    assert.ok(share >= 0 && share <= 1);
  });
});
