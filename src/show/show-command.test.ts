// `visdrop show` run as a user runs it, on a tiny random checkpoint: the PNG has one 336x336 panel
// per stage, each stage panel dims exactly the patches the strategy dropped, and bad --reduce or
// --out values fail in one line before the model loads.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { layout, patchRect, type Rect } from './draw-stages.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEMO_IMAGE = join(ROOT, 'assets', 'demo.jpg');

function visdrop(...args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stderr: result.stderr };
}

/** Patches of panel `at` whose pixels differ from the same patch in the all-tokens panel. */
function changedPatches(data: Buffer, width: number, channels: number, all: Rect, at: Rect): number {
  let changed = 0;
  for (let p = 0; p < 576; p++) {
    const r = patchRect(p, 24, 336, 336);
    let same = true;
    for (let y = r.top; y < r.top + r.height && same; y++) {
      for (let x = r.left; x < r.left + r.width && same; x++) {
        for (let c = 0; c < 3; c++) {
          if (data[((all.top + y) * width + all.left + x) * channels + c] !== data[((at.top + y) * width + at.left + x) * channels + c]) same = false;
        }
      }
    }
    if (!same) changed++;
  }
  return changed;
}

describe('visdrop show', () => {
  let work: string;
  let model: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'visdrop-show-'));
    model = join(work, 'tiny');
    const made = visdrop('make-tiny', '--out', model, '--seed', '0');
    assert.equal(made.status, 0, made.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('draws all tokens and each PyramidDrop stage, dimming exactly the dropped patches', async () => {
    const out = join(work, 'pdrop.png');
    const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'What is in the picture?', '--reduce', 'pdrop', '--pdrop-layers', '1,2,3', '--out', out);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /image tokens 576 -> 288 -> 144 -> 72/);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    const place = layout(4, 336, 336);
    assert.deepEqual([info.width, info.height], [place.width, place.height]);
    const [all, ...stages] = place.panels as [Rect, ...Rect[]];
    assert.deepEqual(
      stages.map((at) => changedPatches(data, info.width, info.channels, all, at)),
      [576 - 288, 576 - 144, 576 - 72],
    );
  });

  it('refuses --reduce none and a missing --reduce with one line', () => {
    for (const reduce of [['--reduce', 'none'], []]) {
      const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'q', '--out', join(work, 'x.png'), ...reduce);
      assert.equal(run.status, 1);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /--reduce: expected a strategy to show/);
    }
  });

  it('names an --out it cannot write', () => {
    const out = join(work, 'no-such-dir', 'x.png');
    const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'q', '--reduce', 'fastv', '--out', out);
    assert.equal(run.status, 1);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.ok(run.stderr.includes(out), run.stderr);
  });
});
