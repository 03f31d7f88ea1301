// `visdrop show` run as a user runs it, on a tiny random checkpoint with 16 decoder layers: the PNG
// has one 336x336 panel per stage, each stage panel dims exactly the patches the strategy dropped;
// with MustDrop the vision panel outlines as many windows and marks as many key tokens as the
// merge reported, and each later panel keeps the patches of its kept tokens clear, nine for a kept
// merged window; bad --reduce or --out values fail in one line before the model loads. On a tiny
// LLaVA-NeXT checkpoint each panel is the base image beside the 2x2 tile canvas, its padding rows
// hatched alike in every panel, and each stage dims the drawn patches of its dropped tokens (the
// newlines, which have no patch, account for the rest); MustDrop's flat crops draw without hatching.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DIM_GREY, DIM_KEEP, HATCH_LINE, HATCH_PERIOD, HATCH_RGB, layout, MARK_RGB, OUTLINE_RGB, OUTLINE_WIDTH, patchRect, type Rect } from './draw-stages.js';
import { NEXT_GAP } from './next-picture.js';

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
    // 16 layers: room for MustDrop's default filter layers 2, 6, 10, 14 and one after.
    const made = visdrop('make-tiny', '--out', model, '--seed', '0', '--text-layers', '16');
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

  it('draws the MustDrop merge with outlined windows and marked keys, then each filter stage', async () => {
    const out = join(work, 'mustdrop.png');
    // Thresholds between the shipped budgets', so that on this random model some tokens go and
    // some merged windows stay (asserted below, so the test notices if that changes).
    const thresholds = ['--mustdrop-global-thr', '0.005', '--mustdrop-individual-thr', '0.005'];
    const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'What is in the picture?', '--reduce', 'mustdrop', ...thresholds, '--out', out);
    assert.equal(run.status, 0, run.stderr);
    const summary = /image tokens 576 -> (\d+) \((\d+) windows merged, (\d+) key tokens\) -> (\d+) -> (\d+) -> (\d+) -> (\d+)\n/.exec(run.stderr);
    assert.ok(summary, run.stderr);
    const [merged, windows, keys, ...kept] = summary.slice(1).map(Number) as [number, number, number, ...number[]];
    assert.ok(windows > 0, 'the tiny model merges windows at the default threshold 0.8');
    assert.equal(merged, 576 - 8 * windows);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    // All tokens, the vision stage, four filter stages; captions wrap to two lines, the title to one or more.
    const place = [1, 2, 3].map((titleLines) => layout(6, 336, 336, { titleLines, captionLines: 2, legend: true })).find((p) => p.height === info.height);
    assert.ok(place, `no 6-panel layout is ${info.height} pixels high`);
    assert.equal(info.width, place.width);
    const [all, vision, ...stages] = place.panels as [Rect, Rect, ...Rect[]];
    const pixel = (at: Rect, x: number, y: number) => [...data.subarray(((at.top + y) * info.width + at.left + x) * info.channels, ((at.top + y) * info.width + at.left + x) * info.channels + 3)];
    const is = (rgb: readonly number[]) => (at: Rect, x: number, y: number) => pixel(at, x, y).every((v, c) => v === rgb[c]);
    /** Merged windows drawn: 42-pixel windows of the 8x8 window grid whose whole 2-pixel border is outline colour. */
    const outlinedWindows = (at: Rect) => {
      let count = 0;
      for (let w = 0; w < 64; w++) {
        const left = (w % 8) * 42;
        const top = Math.floor(w / 8) * 42;
        let ring = true;
        for (let i = 0; i < 42 && ring; i++) {
          for (let d = 0; d < OUTLINE_WIDTH && ring; d++) {
            ring = [[left + i, top + d], [left + i, top + 41 - d], [left + d, top + i], [left + 41 - d, top + i]].every(([x, y]) => is(OUTLINE_RGB)(at, x!, y!));
          }
        }
        if (ring) count++;
      }
      return count;
    };
    /** Key marks drawn: patches whose centre pixel is mark colour (a merged key's mark sits on its window's centre patch). */
    const marks = (at: Rect) => Array.from({ length: 576 }, (_, p) => patchRect(p, 24, 336, 336)).filter((r) => is(MARK_RGB)(at, r.left + 7, r.top + 7)).length;
    /** Patches left as in the all-tokens panel, judged on a strip no outline or mark reaches. */
    const clear = (at: Rect) =>
      Array.from({ length: 576 }, (_, p) => patchRect(p, 24, 336, 336)).filter((r) => [2, 3, 4, 5].every((x) => pixel(at, r.left + x, r.top + 2).join() === pixel(all, r.left + x, r.top + 2).join())).length;
    assert.deepEqual([outlinedWindows(all), marks(all)], [0, 0], 'the all-tokens panel is the plain crop');
    assert.deepEqual([outlinedWindows(vision), marks(vision), clear(vision)], [windows, keys, 576]);
    const keptWindows = stages.map(outlinedWindows);
    assert.ok(keptWindows.some((n) => n > 0) && kept.some((n) => n < merged), `some merged windows kept (${keptWindows}) and some tokens dropped (${kept})`);
    // MustDrop never drops a key token; each kept merged window clears 9 patches for one token.
    assert.deepEqual(stages.map(marks), [keys, keys, keys, keys]);
    assert.deepEqual(stages.map(clear), kept.map((k, i) => k + 8 * keptWindows[i]!));
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

describe('visdrop show on LLaVA-NeXT', () => {
  let work: string;
  let model: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'visdrop-show-next-'));
    model = join(work, 'tiny-next');
    const made = visdrop('make-tiny', '--out', model, '--seed', '0', '--arch', 'llava-next');
    assert.equal(made.status, 0, made.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  // The 480x360 demo image: the 672x672 canvas (2x2 tiles), fitted 672x504 between 84-pixel black
  // bands, which are feature rows 0..5 and 42..47; rows 6..41 have tokens.
  const PANEL = { width: 336 + NEXT_GAP + 672, height: 672 };
  const CANVAS_LEFT = 336 + NEXT_GAP;
  const drawnPatches: Rect[] = [
    ...Array.from({ length: 576 }, (_, p) => patchRect(p, 24, 336, 336)),
    ...Array.from({ length: 36 * 48 }, (_, i) => ({ left: CANVAS_LEFT + (i % 48) * 14, top: (6 + Math.floor(i / 48)) * 14, width: 14, height: 14 })),
  ];

  async function read(out: string) {
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    const pixel = (at: Rect, x: number, y: number) => [...data.subarray(((at.top + y) * info.width + at.left + x) * info.channels, ((at.top + y) * info.width + at.left + x) * info.channels + 3)];
    return { info, pixel };
  }

  it('draws the base image and the tile canvas per PyramidDrop stage, padding hatched, dropped patches dimmed', async () => {
    const out = join(work, 'next-pdrop.png');
    const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'What is in the picture?', '--reduce', 'pdrop', '--pdrop-layers', '1,2,3', '--out', out);
    assert.equal(run.status, 0, run.stderr);
    const counts = /image tokens 2340 -> (\d+) -> (\d+) -> (\d+)\n/.exec(run.stderr);
    assert.ok(counts, run.stderr);
    const kept = counts.slice(1).map(Number);
    assert.deepEqual(kept, [1170, 585, 292]);
    const { info, pixel } = await read(out);
    // Four panels of 1024x672, two a row, under the title and the legend (hatching, dropped).
    const place = layout(4, PANEL.width, PANEL.height, { legend: true });
    assert.deepEqual([info.width, info.height], [place.width, place.height]);
    assert.deepEqual([info.width, info.height], [2096, 1498]);
    const [all, ...stages] = place.panels as [Rect, ...Rect[]];
    // The hatched bands over black padding: line grey, or black dimmed (0.25 * 0 + 0.75 * 40 = 30),
    // the same in every panel. Sampled away from the label at the band's centre.
    const dimmedBlack = Math.round((1 - DIM_KEEP) * DIM_GREY);
    for (const at of place.panels) {
      for (const [x, y] of [[0, 0], [1, 0], [5, 3], [200, 83], [671, 588], [100, 671]] as const) {
        const want = (x + y) % HATCH_PERIOD < HATCH_LINE ? [...HATCH_RGB] : [dimmedBlack, dimmedBlack, dimmedBlack];
        assert.deepEqual(pixel(at, CANVAS_LEFT + x, y), want, `band pixel (${x}, ${y})`);
      }
    }
    // Each stage dims exactly the drawn patches of its dropped tokens: all but the kept tokens that
    // are not newlines, of which there are 36 at most.
    const changed = (at: Rect) =>
      drawnPatches.filter((r) => {
        for (let y = r.top; y < r.top + r.height; y++) for (let x = r.left; x < r.left + r.width; x++) if (pixel(at, x, y).join() !== pixel(all, x, y).join()) return true;
        return false;
      }).length;
    stages.forEach((at, i) => {
      const keptNewlines = kept[i]! - (drawnPatches.length - changed(at));
      assert.ok(keptNewlines >= 0 && keptNewlines <= 36, `stage ${i}: ${keptNewlines} newlines kept`);
    });
  });

  it("draws MustDrop's flat crops without hatching: every tile cell has a token", async () => {
    const out = join(work, 'next-mustdrop.png');
    const thresholds = ['--mustdrop-global-thr', '0.005', '--mustdrop-individual-thr', '0.005'];
    const run = visdrop('show', '--model', model, '--image', DEMO_IMAGE, '--prompt', 'What is in the picture?', '--reduce', 'mustdrop', '--mustdrop-layers', '1,2', ...thresholds, '--out', out);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /image tokens 2880 -> \d+ \(\d+ windows merged, \d+ key tokens\) -> \d+ -> \d+\n/);
    const { info, pixel } = await read(out);
    // All tokens, the vision stage, two filter stages; captions and the title may wrap.
    const place = [1, 2, 3]
      .flatMap((titleLines) => [1, 2].map((captionLines) => layout(4, PANEL.width, PANEL.height, { titleLines, captionLines, legend: true })))
      .find((p) => p.height === info.height && p.width === info.width);
    assert.ok(place, `no 4-panel layout is ${info.width}x${info.height}`);
    assert.deepEqual(pixel(place.panels[0]!, CANVAS_LEFT + 1, 0), [0, 0, 0], 'the padding shows as the black the processor padded with');
  });
});
