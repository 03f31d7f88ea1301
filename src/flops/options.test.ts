// Tests of `visdrop flops` option resolution: presets and --model, the text-token defaults per
// accounting, and bad options failing as OptionErrors naming the flag, what it takes and what it got.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { normalizeLlavaConfig } from '../config/llava.js';
import { OptionError } from '../errors.js';
import { pyramidDrop } from '../reduce/pyramid-drop.js';
import { resolveFlopsOptions, type FlopsOptionsInput } from './options.js';
import { FLOPS_PRESETS } from './presets.js';

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
    assert.deepEqual({ ...input, text: undefined }, { text: undefined, imageTokens: 576, textTokens: 40, accounting: 'pdrop', reducer });
  });

  it('knows LLaVA-NeXT-7B as the 7B decoder and tower', () => {
    const next = resolveFlopsOptions({ ...GOOD, preset: 'llava-next-7b', imageTokens: 2880 });
    assert.deepEqual(next.arch, normalizeLlavaConfig(FLOPS_PRESETS['llava-1.5-7b']!));
    assert.equal(next.input.imageTokens, 2880);
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
    assertOptionError({ preset: 'llava-1.5-7b', accounting: 'pdrop' }, '--image-tokens', /whole number >= 1/, 'nothing');
    assertOptionError({ ...GOOD, imageTokens: '0' }, '--image-tokens', /whole number >= 1/, '"0"');
    assertOptionError({ ...GOOD, imageTokens: '1.5' }, '--image-tokens', /whole number >= 1/, '"1.5"');
    assertOptionError({ ...GOOD, imageTokens: 0 }, '--image-tokens', /whole number >= 1/, '0');
    assertOptionError({ ...GOOD, textTokens: '-3' }, '--text-tokens', /whole number >= 0/, '"-3"');
  });

  it('wants a known --accounting', () => {
    assertOptionError({ ...GOOD, accounting: 'paper' }, '--accounting', /one of pdrop, fastv, full/, '"paper"');
    assertOptionError({ preset: 'llava-1.5-7b', imageTokens: 576 }, '--accounting', /one of pdrop, fastv, full/, 'nothing');
  });
});
