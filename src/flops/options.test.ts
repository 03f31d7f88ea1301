// Tests of `visdrop flops` option resolution: presets and --model, the text-token defaults per
// accounting, LLaVA-NeXT image token counts from --image-size, and bad options failing as
// OptionErrors naming the flag, what it takes and what it got.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { normalizeLlavaConfig } from '../config/llava.js';
import { OptionError } from '../errors.js';
import { pyramidDrop } from '../reduce/pyramid-drop.js';
import { resolveFlopsOptions, type FlopsOptionsInput } from './options.js';
import { FLOPS_PRESETS, NEXT_PINPOINTS } from './presets.js';

const GOOD: FlopsOptionsInput = { preset: 'llava-1.5-7b', imageTokens: '576', accounting: 'pdrop' };

function assertOptionError(options: FlopsOptionsInput, subject: string, expected: RegExp, found: string): void {
  assert.throws(
    () => resolveFlopsOptions(options),
    (error: unknown) => {
      assert.ok(error instanceof OptionError, `an OptionError, got ${String(error)}`);
      assert.equal(error.subject, subject);
      assert.match(error.expected, expected);
      assert.equal(error.found, found);
      return true;
    },
  );
}

describe('resolveFlopsOptions', () => {
  it('resolves a preset into the count input', () => {
    const reducer = pyramidDrop();
    const { model, arch, input } = resolveFlopsOptions({ ...GOOD, reducer });
    assert.equal(model, 'llava-1.5-7b');
    assert.equal(arch.text.hiddenSize, 4096);
    assert.deepEqual({ ...input, text: undefined }, { text: undefined, imageTokens: 576, textTokens: 40, accounting: 'pdrop', anyres: false, reducer });
  });

  it("knows LLaVA-NeXT-7B as the 7B decoder and tower with NeXT's pinpoints", () => {
    const next = resolveFlopsOptions({ ...GOOD, preset: 'llava-next-7b', imageTokens: 2880 });
    const llava7b = normalizeLlavaConfig(FLOPS_PRESETS['llava-1.5-7b']!);
    assert.deepEqual([next.arch.text, next.arch.vision], [llava7b.text, llava7b.vision]);
    assert.equal(next.arch.modelType, 'llava_next');
    assert.deepEqual(next.arch.anyres?.pinpoints, [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]);
    assert.equal(next.input.imageTokens, 2880);
    assert.equal(next.image, undefined);
  });

  it("defaults text tokens to the FastV paper's 36 for fastv, 40 otherwise, and takes given ones", () => {
    assert.equal(resolveFlopsOptions({ ...GOOD, accounting: 'fastv' }).input.textTokens, 36);
    assert.equal(resolveFlopsOptions({ ...GOOD, accounting: 'full' }).input.textTokens, 40);
    assert.equal(resolveFlopsOptions({ ...GOOD, accounting: 'full', textTokens: '0' }).input.textTokens, 0);
  });

  it('passes the vision tower on only when asked', () => {
    assert.equal(resolveFlopsOptions({ ...GOOD, accounting: 'full' }).input.vision, undefined);
    assert.equal(resolveFlopsOptions({ ...GOOD, accounting: 'full', vision: true }).input.vision?.vision.hiddenSize, 1024);
  });

  it("reads --model's config.json", () => {
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-flops-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(FLOPS_PRESETS['llava-1.5-13b']));
      const { model, arch } = resolveFlopsOptions({ model: dir, imageTokens: 576, accounting: 'full' });
      assert.equal(model, dir);
      assert.deepEqual(arch, normalizeLlavaConfig(FLOPS_PRESETS['llava-1.5-13b']!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown preset, naming the known ones', () => {
    assertOptionError({ ...GOOD, preset: 'llava-2' }, '--preset', /one of llava-1\.5-7b, llava-1\.5-13b, llava-next-7b/, '"llava-2"');
  });

  it('wants exactly one of --preset and --model', () => {
    assertOptionError({ ...GOOD, model: '/tmp/x' }, '--preset / --model', /exactly one/, 'both');
    assertOptionError({ imageTokens: 576, accounting: 'pdrop' }, '--preset / --model', /exactly one/, 'neither');
  });

  it('wants --image-tokens, a whole number >= 1', () => {
    assertOptionError({ ...GOOD, imageTokens: '0' }, '--image-tokens', /whole number >= 1/, '"0"');
    assertOptionError({ ...GOOD, imageTokens: '1.5' }, '--image-tokens', /whole number >= 1/, '"1.5"');
    assertOptionError({ ...GOOD, imageTokens: 0 }, '--image-tokens', /whole number >= 1/, '0');
    assertOptionError({ ...GOOD, textTokens: '-3' }, '--text-tokens', /whole number >= 0/, '"-3"');
  });

  it('wants exactly one of --image-tokens and --image-size', () => {
    const next = { preset: 'llava-next-7b', accounting: 'pdrop' };
    assertOptionError(next, '--image-tokens / --image-size', /exactly one/, 'neither');
    assertOptionError({ ...next, imageTokens: '2340', imageSize: '640x480' }, '--image-tokens / --image-size', /exactly one/, 'both');
  });

  it('wants --image-size as WIDTHxHEIGHT, two whole numbers >= 1', () => {
    for (const size of ['640x', 'x480', '640', '640x480x2', '640*480', '0x480', '640x-480', '64.5x480', '']) {
      assertOptionError({ preset: 'llava-next-7b', accounting: 'pdrop', imageSize: size }, '--image-size', /WIDTHxHEIGHT in pixels/, JSON.stringify(size));
    }
  });

  it('takes --image-size on LLaVA-NeXT models only', () => {
    for (const preset of ['llava-1.5-7b', 'llava-1.5-13b']) {
      assertOptionError({ preset, accounting: 'pdrop', imageSize: '640x480' }, '--image-size', /a LLaVA-NeXT model/, `${preset} (model_type "llava")`);
    }
  });

  it('refuses an image too thin to keep a row after unpadding, as --image-size', () => {
    assertOptionError({ preset: 'llava-next-7b', accounting: 'pdrop', imageSize: '10000x10' }, '--image-size', /at least one row and column/, '10000x10: 0x72 kept');
  });

  it('wants a known --accounting', () => {
    assertOptionError({ ...GOOD, accounting: 'paper' }, '--accounting', /one of pdrop, fastv, full/, '"paper"');
    assertOptionError({ preset: 'llava-1.5-7b', imageTokens: 576 }, '--accounting', /one of pdrop, fastv, full/, 'nothing');
  });
});

describe('--image-size on LLaVA-NeXT', () => {
  const resolve = (imageSize: string, extra: Partial<FlopsOptionsInput> = {}) => resolveFlopsOptions({ preset: 'llava-next-7b', accounting: 'full', imageSize, ...extra });

  // 640x480 -> the 672x672 canvas (2x2 tiles), fitted 672 wide and 504 high: 36 of 48 feature
  // rows kept, 576 + 36 x (48 + 1) = 2340. Turned to 480x640 it keeps 36 of 48 columns in all 48
  // rows, and each row has its newline: 576 + 48 x 37 = 2352. 672x672 fills 2x2 tiles:
  // 576 + 48 x 49 = 2928. 336x336 picks the first canvas wasting least, 336x672 (1x2 tiles), and
  // keeps the middle 24 of 48 columns: 576 + 24 x 25 = 1176. 300x900 fills 3x1 tiles: 576 + 72 x 25.
  for (const [size, tokens, tileRows, tileCols] of [
    ['640x480', 2340, 2, 2],
    ['480x640', 2352, 2, 2],
    ['672x672', 2928, 2, 2],
    ['336x336', 1176, 1, 2],
    ['300x900', 2376, 3, 1],
  ] as const) {
    it(`counts ${tokens} image tokens for a ${size} image (${tileRows}x${tileCols} tiles)`, () => {
      const { input, image } = resolve(size);
      assert.equal(input.imageTokens, tokens);
      const [width, height] = size.split('x').map(Number);
      assert.deepEqual(image, { width, height, tileRows, tileCols });
      assert.equal(input.crops, 1 + tileRows * tileCols);
    });
  }

  it('agrees with the processor count for every pinpoint the preset lists', () => {
    for (const [h, w] of NEXT_PINPOINTS) {
      const rows = h / 336;
      const cols = w / 336;
      assert.equal(resolve(`${w}x${h}`).input.imageTokens, 576 + rows * 24 * (cols * 24 + 1), `${w}x${h}`);
    }
  });

  it("reads a llava_next --model's pinpoints and tower", () => {
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-flops-'));
    try {
      // Only 2x1 and 1x2 canvases, equally good for a square image: the first, 2x1 tiles, of
      // whose 48 x 24 feature rows the middle 24 are kept: 576 + 24 x 25.
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...FLOPS_PRESETS['llava-next-7b'], image_grid_pinpoints: [[672, 336], [336, 672]] }));
      const { input, image } = resolveFlopsOptions({ model: dir, imageSize: '672x672', accounting: 'pdrop' });
      assert.equal(input.imageTokens, 576 + 24 * 25);
      assert.deepEqual(image, { width: 672, height: 672, tileRows: 2, tileCols: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
