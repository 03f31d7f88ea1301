// Tests of the bench's strategy list: `none` first, MustDrop once per budget, the new flags'
// validation, and the papers' layer lists scaled to a cut decoder unless the user gave lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionError } from '../errors.js';
import { benchStrategies, parseMustDropBudgets, scaleLayerList, scaleLayerLists, type StrategyFlags } from './strategies.js';

function labels(flags: StrategyFlags, layers = 32, totalLayers = 32): string[] {
  return benchStrategies(flags, layers, totalLayers).strategies.map((s) => s.label);
}

function rejects(flags: StrategyFlags, subject: string, layers = 32): void {
  assert.throws(
    () => benchStrategies(flags, layers, 32),
    (error: unknown) => error instanceof OptionError && error.subject === subject,
  );
}

describe('layer-list scaling', () => {
  it('scales the papers’ lists to 12 of 32 layers', () => {
    const { flags, scaled } = scaleLayerLists({}, ['fastv', 'pdrop', 'mustdrop'], 12, 32);
    assert.deepEqual([flags.fastvK, flags.pdropLayers, flags.mustdropLayers], [1, [3, 6, 9], [1, 2, 4, 5]]);
    assert.deepEqual(
      scaled.map((s) => [s.flag, s.from, s.to]),
      [
        ['--fastv-k', [2], [1]],
        ['--pdrop-layers', [8, 16, 24], [3, 6, 9]],
        ['--mustdrop-layers', [2, 6, 10, 14], [1, 2, 4, 5]],
      ],
    );
  });

  it('keeps lists strictly increasing and inside the decoder, dropping what cannot fit', () => {
    assert.deepEqual(scaleLayerList([8, 16, 24], 4, 32, 1, 4), [1, 2, 3]);
    assert.deepEqual(scaleLayerList([8, 16, 24], 2, 32, 1, 2), [1]);
    assert.deepEqual(scaleLayerList([2, 6, 10, 14], 4, 32, 0, 3), [0, 1, 2]);
    assert.deepEqual(scaleLayerList([2, 6, 10, 14], 16, 32, 0, 15), [1, 3, 5, 7]);
    // A 40-layer preset cut to 20 keeps the lists' relative depth.
    assert.deepEqual(scaleLayerList([8, 16, 24], 20, 40, 1, 20), [4, 8, 12]);
  });

  it('leaves lists alone at full depth, when given, and for strategies not listed', () => {
    assert.deepEqual(scaleLayerLists({}, ['pdrop'], 32, 32), { flags: {}, scaled: [] });
    const given = scaleLayerLists({ pdropLayers: [2, 4, 6], fastvK: 3 }, ['fastv', 'pdrop', 'mustdrop-vision+fastv'], 12, 32);
    assert.deepEqual(given, { flags: { pdropLayers: [2, 4, 6], fastvK: 3 }, scaled: [] });
  });

  it('names the scaled lists in the labels', () => {
    assert.deepEqual(labels({ reduce: 'fastv,pdrop,mustdrop-vision+pdrop' }, 12), [
      'none',
      'fastv K=1 R=0.5',
      'pdrop 3,6,9',
      'mustdrop-vision+pdrop 3,6,9',
    ]);
  });
});

describe('benchStrategies', () => {
  it('measures none alone by default, and none first whatever the order', () => {
    assert.deepEqual(labels({}), ['none']);
    assert.deepEqual(labels({ reduce: 'pdrop, none,fastv' }), ['none', 'pdrop 8,16,24', 'fastv K=2 R=0.5']);
  });

  it('expands mustdrop to one row per budget, or one when a budget or thresholds are given', () => {
    assert.deepEqual(labels({ reduce: 'mustdrop' }), [
      'none',
      'mustdrop 2,6,10,14 budget 192',
      'mustdrop 2,6,10,14 budget 128',
      'mustdrop 2,6,10,14 budget 64',
    ]);
    assert.deepEqual(labels({ reduce: 'mustdrop', mustdropBudgets: '64, 128' }).slice(1), ['mustdrop 2,6,10,14 budget 64', 'mustdrop 2,6,10,14 budget 128']);
    assert.deepEqual(labels({ reduce: 'mustdrop', mustdropBudget: 128 }).slice(1), ['mustdrop 2,6,10,14 budget 128']);
    assert.deepEqual(labels({ reduce: 'mustdrop', mustdropGlobalThr: 0.01, mustdropIndividualThr: 0.02 }).slice(1), [
      'mustdrop 2,6,10,14 thresholds 0.01/0.02',
    ]);
    const [, first] = benchStrategies({ reduce: 'mustdrop', mustdropBudgets: [64] }, 32, 32).strategies;
    assert.deepEqual([first!.reducer!.options.globalThr, first!.reducer!.options.individualThr], [0.011, 0.01]);
  });

  it('parses --mustdrop-budgets strictly', () => {
    assert.deepEqual(parseMustDropBudgets(undefined), [192, 128, 64]);
    assert.deepEqual(parseMustDropBudgets(' 128 ,192'), [128, 192]);
    for (const bad of ['', '100', '64,64', '64;128', '0x40', '1e2']) {
      assert.throws(() => parseMustDropBudgets(bad), (e: unknown) => e instanceof OptionError && e.subject === '--mustdrop-budgets' && e.found === JSON.stringify(bad));
    }
    assert.throws(() => parseMustDropBudgets([]), OptionError);
  });

  it('rejects strategy lists and flags that do not fit together', () => {
    rejects({ reduce: 'pdrop,fastv,pdrop' }, '--reduce');
    rejects({ reduce: 'none,unknownvlm' }, '--reduce');
    rejects({ reduce: 'pdrop', mustdropBudgets: '64' }, '--mustdrop-budgets');
    rejects({ reduce: 'mustdrop', mustdropBudgets: '64', mustdropBudget: 128 }, '--mustdrop-budgets');
    rejects({ reduce: 'mustdrop', mustdropBudgets: '64', mustdropGlobalThr: 0.1, mustdropIndividualThr: 0.1 }, '--mustdrop-budgets');
    rejects({ reduce: 'pdrop', fastvK: 1 }, '--fastv-*');
    rejects({ reduce: 'mustdrop', mustdropBudget: 100 }, 'mustdrop budget');
    // A list the user gave is not scaled, so it must fit the cut decoder.
    rejects({ reduce: 'pdrop', pdropLayers: [8, 16, 24] }, 'pdrop layers', 12);
    rejects({ reduce: 'fastv', fastvK: 12 }, 'fastv K', 12);
  });
});
