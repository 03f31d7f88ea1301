// Tests of the benchmark's option validation: defaults, the preset-dependent --layers range, strict
// parsing of flag text, and that every rejection is an OptionError naming the flag.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionError } from '../errors.js';
import { DEFAULT_DECODE_TOKENS, DEFAULT_RUNS, resolveBenchOptions } from './options.js';
import { cutDecoder, PRESETS } from '../config/presets.js';

function rejects(input: Parameters<typeof resolveBenchOptions>[0], subject: string, found: string): void {
  assert.throws(
    () => resolveBenchOptions(input),
    (error: unknown) => error instanceof OptionError && error.subject === subject && error.found === found,
  );
}

describe('resolveBenchOptions', () => {
  it('defaults to the preset’s full depth, 3 runs and 8 decode tokens', () => {
    const resolved = resolveBenchOptions({ preset: 'llava-1.5-13b' });
    assert.deepEqual(
      { layers: resolved.layers, totalLayers: resolved.totalLayers, runs: resolved.runs, decodeTokens: resolved.decodeTokens },
      { layers: 40, totalLayers: 40, runs: DEFAULT_RUNS, decodeTokens: DEFAULT_DECODE_TOKENS },
    );
  });

  it('parses flag text and accepts numbers', () => {
    const fromText = resolveBenchOptions({ preset: 'llava-1.5-7b', layers: '2', runs: ' 5 ', decodeTokens: '1' });
    const fromNumbers = resolveBenchOptions({ preset: 'llava-1.5-7b', layers: 2, runs: 5, decodeTokens: 1 });
    assert.deepEqual([fromText.layers, fromText.runs, fromText.decodeTokens], [2, 5, 1]);
    assert.deepEqual(fromText, fromNumbers);
  });

  it('rejects an unknown preset, listing the known ones', () => {
    assert.throws(
      () => resolveBenchOptions({ preset: 'llava-7b' }),
      (error: unknown) => error instanceof OptionError && error.subject === '--preset' && error.expected.includes('llava-1.5-13b'),
    );
  });

  it('keeps --layers within [1, the preset’s depth]', () => {
    assert.equal(resolveBenchOptions({ preset: 'llava-1.5-7b', layers: 32 }).layers, 32);
    rejects({ preset: 'llava-1.5-7b', layers: 33 }, '--layers', '33');
    rejects({ preset: 'llava-1.5-7b', layers: '0' }, '--layers', '"0"');
    assert.equal(resolveBenchOptions({ preset: 'llava-1.5-13b', layers: 40 }).layers, 40);
  });

  it('resolves the strategies against the depth that runs, scaling the lists it was not given', () => {
    const resolved = resolveBenchOptions({ preset: 'llava-1.5-7b', layers: '16', reduce: 'pdrop,mustdrop', mustdropBudgets: '128' });
    assert.deepEqual(
      resolved.strategies.map((s) => s.label),
      ['none', 'pdrop 4,8,12', 'mustdrop 1,3,5,7 budget 128'],
    );
    assert.deepEqual(resolved.scaledLists.map((s) => s.flag), ['--pdrop-layers', '--mustdrop-layers']);
    // --layers is checked before the strategies that depend on it.
    rejects({ preset: 'llava-1.5-7b', layers: '40', reduce: 'pdrop' }, '--layers', '"40"');
    rejects({ preset: 'llava-1.5-7b', reduce: 'pdrop', mustdropBudgets: '64' }, '--mustdrop-budgets', '--reduce none,pdrop');
  });

  it('rejects counts that are not plain whole numbers', () => {
    for (const text of ['', '1.5', '4x', '0x10', '1e1', '-1']) rejects({ preset: 'llava-1.5-7b', layers: text }, '--layers', JSON.stringify(text));
    rejects({ preset: 'llava-1.5-7b', layers: 2.5 }, '--layers', '2.5');
    rejects({ preset: 'llava-1.5-7b', runs: 0 }, '--runs', '0');
    rejects({ preset: 'llava-1.5-7b', decodeTokens: '0' }, '--decode-tokens', '"0"');
  });
});

describe('LLaVA-NeXT image size', () => {
  it('defaults to 672x672 on llava-next-7b: base + 2x2 tiles, 2928 image tokens', () => {
    assert.deepEqual(resolveBenchOptions({ preset: 'llava-next-7b' }).image, { width: 672, height: 672, tileRows: 2, tileCols: 2, crops: 5, tokens: 2928 });
    assert.equal(resolveBenchOptions({ preset: 'llava-1.5-7b' }).image, null);
  });

  it('takes --image-size as WIDTHxHEIGHT, counted as the processor counts', () => {
    const image = resolveBenchOptions({ preset: 'llava-next-7b', imageSize: '640x480' }).image!;
    assert.deepEqual([image.tileRows, image.tileCols, image.crops, image.tokens], [2, 2, 5, 2340]);
    assert.equal(resolveBenchOptions({ preset: 'llava-next-7b', imageSize: '336x336' }).image!.tokens, 1176);
  });

  it('rejects a malformed size, and a size on a LLaVA-1.5 preset', () => {
    rejects({ preset: 'llava-next-7b', imageSize: '640x' }, '--image-size', '"640x"');
    rejects({ preset: 'llava-1.5-7b', imageSize: '672x672' }, '--image-size', '--preset llava-1.5-7b (model_type "llava")');
  });
});

describe('presets', () => {
  it('normalise to the LLaVA-1.5 and LLaVA-NeXT shapes, with the decoder cut on request', () => {
    const arch = cutDecoder(PRESETS['llava-1.5-7b']!, 4);
    assert.equal(arch.text.numLayers, 4);
    assert.deepEqual(
      [arch.text.hiddenSize, arch.text.numHeads, arch.text.headDim, arch.text.intermediateSize, arch.text.vocabSize],
      [4096, 32, 128, 11008, 32064],
    );
    assert.deepEqual([arch.vision.hiddenSize, arch.visionLayersUsed, arch.imageTokensPerImage, arch.imageTokenId], [1024, 23, 576, 32000]);
    const next = cutDecoder(PRESETS['llava-next-7b']!, 8);
    assert.deepEqual([next.modelType, next.text.numLayers, next.text.hiddenSize, next.text.vocabSize, next.imageTokenId], ['llava_next', 8, 4096, 32064, 32000]);
    assert.equal(next.anyres!.pinpoints.length, 5);
    const big = cutDecoder(PRESETS['llava-1.5-13b']!, 40).text;
    assert.deepEqual([big.hiddenSize, big.numHeads, big.numKvHeads, big.intermediateSize], [5120, 40, 40, 13824]);
  });
});
