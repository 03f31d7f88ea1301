// `visdrop flops` run as a user runs it: the --json contract (exactly four fields, a fifth with the
// count --image-size gave), the table, and one-line errors with a non-zero exit; plus the table's
// number and stage formats.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatFlops, formatStages } from './format.js';

const ROOT = join(import.meta.dirname, '..', '..');

function visdrop(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('visdrop flops', () => {
  it('--json prints one object: flops, ratio, averageImageTokens, imageTokensPerLayer', () => {
    const result = visdrop('flops', '--preset', 'llava-1.5-7b', '--image-tokens', '576', '--reduce', 'pdrop', '--accounting', 'pdrop', '--json');
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const output = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(output), ['flops', 'ratio', 'averageImageTokens', 'imageTokensPerLayer']);
    assert.equal((output.flops / 1e12).toFixed(4), '1.7774');
    assert.equal(output.averageImageTokens, 270);
    assert.deepEqual(output.imageTokensPerLayer, [...Array(8).fill(576), ...Array(8).fill(288), ...Array(8).fill(144), ...Array(8).fill(72)]);
  });

  it('prints a table with the FastV flags, in the FastV paper units', () => {
    const result = visdrop('flops', '--preset', 'llava-1.5-13b', '--image-tokens', '576', '--reduce', 'fastv', '--fastv-r', '0.75', '--accounting', 'fastv');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^FLOPs +50\.18 GFLOPs per layer$/m);
    assert.match(result.stdout, /^ratio +32\.45 % of no reduction \(154\.64 GFLOPs per layer\)$/m);
    assert.match(result.stdout, /^tokens +576 image, 36 text$/m);
    assert.match(result.stdout, /^image tokens +2×576 → 38×144$/m);
  });

  it('counts LLaVA-NeXT image tokens from --image-size and prints the count in the table and the JSON', () => {
    const args = ['flops', '--preset', 'llava-next-7b', '--image-size', '640x480', '--reduce', 'pdrop', '--accounting', 'pdrop'];
    const table = visdrop(...args);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^tokens +2340 image \(from a 640x480 image: 2 rows x 2 columns of tiles\), text not counted$/m);
    assert.match(table.stdout, /^image tokens +8×2340 → 8×1170 → 8×585 → 8×292$/m);
    const json = visdrop(...args, '--json');
    assert.equal(json.status, 0, json.stderr);
    const output = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(output), ['flops', 'ratio', 'averageImageTokens', 'imageTokensPerLayer', 'imageTokens']);
    assert.equal(output.imageTokens, 2340);
    assert.equal(output.imageTokensPerLayer[0], 2340);
  });

  it('refuses --image-size with --image-tokens, a malformed size, and a LLaVA-1.5 preset, in one line', () => {
    for (const [args, line] of [
      [['--preset', 'llava-next-7b', '--image-size', '640x480', '--image-tokens', '2340'], 'visdrop: --image-tokens / --image-size: expected exactly one of them, found both'],
      [['--preset', 'llava-next-7b'], 'visdrop: --image-tokens / --image-size: expected exactly one of them, found neither'],
      [['--preset', 'llava-next-7b', '--image-size', '640x'], 'visdrop: --image-size: expected WIDTHxHEIGHT in pixels, two whole numbers >= 1 (e.g. 640x480), found "640x"'],
      [
        ['--preset', 'llava-1.5-7b', '--image-size', '640x480'],
        'visdrop: --image-size: expected a LLaVA-NeXT model (--preset llava-next-7b, or a llava_next config.json); give --image-tokens otherwise, found llava-1.5-7b (model_type "llava")',
      ],
    ] as const) {
      const result = visdrop('flops', ...args, '--accounting', 'full');
      assert.equal(result.status, 1, args.join(' '));
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `${line}\n`);
    }
  });

  it('fails with one line naming the flag, and a non-zero exit', () => {
    const result = visdrop('flops', '--preset', 'llava-1.5-7b', '--image-tokens', '576', '--accounting', 'paper');
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'visdrop: --accounting: expected one of pdrop, fastv, full, found "paper"\n');
  });
});

describe('flops formats', () => {
  it('prints FLOPs as the papers do, and full by size', () => {
    assert.equal(formatFlops(1.77739923456e12, 'pdrop'), '1.7774 TFLOPs');
    assert.equal(formatFlops(84.6e9, 'fastv'), '84.60 GFLOPs per layer');
    assert.equal(formatFlops(4.5e12, 'full'), '4.5000 TFLOPs');
    assert.equal(formatFlops(19840, 'full'), '19840 FLOPs');
  });

  it('groups per-layer counts into stages', () => {
    assert.equal(formatStages([576, 576, 288, 288, 288, 576]), '2×576 → 3×288 → 1×576');
  });
});
