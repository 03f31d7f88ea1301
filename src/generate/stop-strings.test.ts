// Stop strings over streamed chunks: nothing of a stop string is ever released.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StopStringFilter } from './stop-strings.js';

function run(stops: string[], chunks: string[]): { shown: string[]; stopped: boolean; rest: string } {
  const filter = new StopStringFilter(stops);
  const shown = chunks.map((c) => filter.push(c));
  return { shown, stopped: filter.stopped, rest: filter.flush() };
}

describe('StopStringFilter', () => {
  it('holds back a possible stop-string prefix until it is decided', () => {
    const result = run(['</s>'], ['Hello', ' <', '/', 'x', ' world']);
    assert.deepEqual(result.shown, ['Hello', ' ', '', '</x', ' world']);
    assert.equal(result.stopped, false);
  });

  it('stops at a stop string split over chunks and shows only what precedes it', () => {
    const result = run(['###'], ['an', 'swer #', '#', '# more']);
    assert.equal(result.shown.join(''), 'answer ');
    assert.equal(result.stopped, true);
    assert.equal(result.rest, '');
  });

  it('releases held text at the end when no stop came', () => {
    const result = run(['STOP'], ['go ST']);
    assert.equal(result.shown.join('') + result.rest, 'go ST');
  });
});
