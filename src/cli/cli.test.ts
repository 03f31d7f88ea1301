// The CLI contract, run as a user runs it: `generate --json` fields, streamed text, the dump files
// and --pixel-values round trip, and one-line errors with a non-zero exit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../checkpoint/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEMO_IMAGE = join(ROOT, 'assets', 'demo.jpg');
const QUESTION = 'What is in the picture?';

function visdrop(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function assertOneLineError(result: ReturnType<typeof visdrop>, ...mentions: string[]): void {
  assert.notEqual(result.status, 0, 'exit code');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  for (const text of mentions) assert.ok(lines[0]!.includes(text), `"${lines[0]}" should mention "${text}"`);
}

describe('visdrop CLI', () => {
  let work: string;
  let model: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'visdrop-cli-'));
    model = join(work, 'tiny');
    const made = visdrop('make-tiny', '--out', model, '--seed', '0');
    assert.equal(made.status, 0, made.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('generate --json prints one object with the contract fields', () => {
    const result = visdrop('generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '8', '--json');
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const output = JSON.parse(lines[0]!);
    assert.deepEqual(output.inputIds, [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618, 338, 297, 278, 7623, 29973, 319, 1799, 9047, 13566, 29901]);
    assert.deepEqual(output.imageTokenRange, [5, 581]);
    assert.deepEqual(output.tokens, [26890, 30125, 1229, 4302, 16010, 4266, 1229, 4302]);
    assert.equal(typeof output.text, 'string');
    for (const key of ['loadMs', 'visionMs', 'prefillMs', 'decodeMsPerToken']) {
      assert.ok(Number.isFinite(output.timings[key]) && output.timings[key] > 0, `timings.${key} = ${output.timings[key]}`);
    }
  });

  it('streams text to stdout and statistics to stderr', () => {
    const streamed = visdrop('generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '8');
    const json = JSON.parse(visdrop('generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '8', '--json').stdout);
    assert.equal(streamed.status, 0, streamed.stderr);
    assert.equal(streamed.stdout, `${json.text}\n`);
    assert.match(streamed.stderr, /8 tokens, max-new-tokens.*prefill .* ms \(594 tokens\)/);
  });

  it('dumps logits and pixel values, and --pixel-values reproduces the run', () => {
    const logits = join(work, 'logits.safetensors');
    const pixels = join(work, 'pixels.safetensors');
    const fromImage = visdrop(
      'generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '4', '--json',
      '--dump-logits', logits, '--dump-pixel-values', pixels,
    );
    assert.equal(fromImage.status, 0, fromImage.stderr);
    const logitsFile = new SafetensorsFile(logits);
    assert.deepEqual(logitsFile.info('logits'), { dtype: 'F32', shape: [32064] });
    logitsFile.close();
    const pixelsFile = new SafetensorsFile(pixels);
    assert.deepEqual(pixelsFile.info('pixel_values'), { dtype: 'F32', shape: [1, 3, 336, 336] });
    pixelsFile.close();
    const fromPixels = visdrop('generate', '--model', model, '--pixel-values', pixels, '--prompt', QUESTION, '--max-new-tokens', '4', '--json');
    assert.equal(fromPixels.status, 0, fromPixels.stderr);
    assert.deepEqual(JSON.parse(fromPixels.stdout).tokens, JSON.parse(fromImage.stdout).tokens);
  });

  it('generate --weights q8 fills the cache, reads it on the next run, and cache list / clear show and empty it', () => {
    const cacheDir = join(work, 'cache');
    const args = ['generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '2', '--weights', 'q8', '--cache-dir', cacheDir, '--json'];
    const first = JSON.parse(visdrop(...args).stdout);
    const second = JSON.parse(visdrop(...args).stdout);
    assert.equal(first.load.cachedGraphs, 0);
    assert.equal(second.load.cachedGraphs, 15);
    assert.deepEqual(second.tokens, first.tokens);
    assert.ok(second.load.peakRssBytes > 0);
    assert.equal(JSON.parse(visdrop(...args, '--no-cache').stdout).load.cachedGraphs, 0);

    const listed = visdrop('cache', 'list', '--cache-dir', cacheDir);
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal(listed.stdout.trim().split('\n').length, 1);
    assert.match(listed.stdout, new RegExp(`\\tq8\\t${model}\\t`));
    assert.match(visdrop('cache', 'clear', '--cache-dir', cacheDir).stderr, /removed 1 entries/);
    assert.equal(visdrop('cache', 'list', '--cache-dir', cacheDir).stdout, '');
  });

  it('cache warm converts a checkpoint into the cache, then reads it, timing each load', () => {
    const cacheDir = join(work, 'warm-cache');
    const warm = (...extra: string[]) => visdrop('cache', 'warm', '--model', model, '--weights', 'q4', '--cache-dir', cacheDir, ...extra);
    const first = JSON.parse(warm('--json').stdout);
    const second = JSON.parse(warm('--json').stdout);
    assert.equal(first.cachedGraphs, 0);
    assert.equal(second.cachedGraphs, 15);
    assert.ok(first.loadMs > 0 && first.peakRssBytes > 0);
    assert.match(warm().stdout, /^loaded .* as q4 in \d+\.\d s \(15 graphs from the cache\)\n$/);
    assertOneLineError(visdrop('cache', 'warm', '--model', model, '--weights', 'f32'), '--weights', 'f32');
  });

  it('a missing checkpoint directory is one line and exit 1', () => {
    const result = visdrop('generate', '--model', join(work, 'nowhere'), '--image', DEMO_IMAGE, '--prompt', QUESTION);
    assertOneLineError(result, 'nowhere', 'config.json', 'no such file');
    assert.equal(result.status, 1);
  });

  it('make-tiny --dtype takes any case and names the dtype in config.json', () => {
    const out = join(work, 'tiny-f16');
    const made = visdrop('make-tiny', '--out', out, '--dtype', 'f16');
    assert.equal(made.status, 0, made.stderr);
    const file = new SafetensorsFile(join(out, 'model.safetensors'));
    assert.equal(file.info('language_model.lm_head.weight').dtype, 'F16');
    file.close();
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'float16');
  });

  it('make-tiny refuses an unknown preset, a tiny shape flag beside a preset, and an unknown dtype, in one line', () => {
    assertOneLineError(visdrop('make-tiny', '--out', join(work, 'x'), '--preset', 'llava-9b'), '--preset', 'llava-9b', 'llava-1.5-7b');
    assertOneLineError(visdrop('make-tiny', '--out', join(work, 'x'), '--preset', 'llava-1.5-7b', '--text-layers', '2'), '--preset', '--text-layers');
    assertOneLineError(visdrop('make-tiny', '--out', join(work, 'x'), '--dtype', 'f8'), '--dtype', '"f8"');
  });

  it('an unknown option is one line', () => {
    assertOneLineError(visdrop('generate', '--model', model, '--frobnicate'), '--frobnicate');
  });

  it('a malformed number is one line naming the flag', () => {
    assertOneLineError(visdrop('generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '12abc'), '--max-new-tokens', '"12abc"');
  });

  it('--q4-block-size picks q4 blocks; a size MatMulNBits lacks, or the flag without --weights q4, is one line', () => {
    const args = ['generate', '--model', model, '--image', DEMO_IMAGE, '--prompt', QUESTION, '--max-new-tokens', '2', '--no-cache', '--json'];
    const logits = ['32', '128'].map((size) => {
      const file = join(work, `logits-q4-${size}.safetensors`);
      const result = visdrop(...args, '--weights', 'q4', '--q4-block-size', size, '--dump-logits', file);
      assert.equal(result.status, 0, result.stderr);
      return readFileSync(file);
    });
    // 128 features a scale instead of 32: other weights, so other prefill logits (the tokens may agree).
    assert.equal(logits[0]!.length, logits[1]!.length);
    assert.ok(!logits[0]!.equals(logits[1]!), 'the block size changes the logits');
    assertOneLineError(visdrop(...args, '--weights', 'q4', '--q4-block-size', '24'), '--q4-block-size', '"24"', '128');
    assertOneLineError(visdrop(...args, '--weights', 'q8', '--q4-block-size', '128'), '--q4-block-size', 'with --weights q4', '--weights q8');
  });

  it('--prompt and --raw-prompt together are refused', () => {
    assertOneLineError(visdrop('generate', '--model', model, '--prompt', 'a', '--raw-prompt', 'b'), '--prompt / --raw-prompt', 'both');
  });

  it('an unreadable image is one line naming the file', () => {
    assertOneLineError(visdrop('generate', '--model', model, '--image', join(model, 'config.json'), '--prompt', QUESTION), 'config.json');
  });
});
