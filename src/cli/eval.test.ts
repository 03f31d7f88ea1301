// `visdrop eval`, `eval score` and `eval sweep` as a user runs them: the --json object
// {task, n, metrics, score}, the sweep's files, and bad data as one line with a non-zero exit.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { writeJsonl, writeLlavaAnswers, writePng, writeText } from '../eval/test-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function visdrop(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function assertOneLineError(result: ReturnType<typeof visdrop>, ...mentions: string[]): void {
  assert.notEqual(result.status, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  for (const text of mentions) assert.ok(lines[0]!.includes(text), `"${lines[0]}" should mention "${text}"`);
}

describe('visdrop eval', () => {
  let work: string;
  let model: string;
  let data: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'visdrop-eval-cli-'));
    model = join(work, 'tiny');
    await makeTinyCheckpoint({ outDir: model, seed: 0 });
    data = join(work, 'synth');
    await writePng(join(data, 'images', 'a.png'), 1);
    await writePng(join(data, 'images', 'b.png'), 2);
    writeJsonl(join(data, 'test.jsonl'), [
      { question_id: 'a', image: 'a.png', text: 'What colour?\nAnswer the question using a single word or phrase.', answer: 'red', category: 'colour' },
      { question_id: 'b', image: 'b.png', text: 'How many?\nAnswer the question using a single word or phrase.', answer: '2', category: 'count' },
    ]);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('eval score --json prints {task, n, metrics, score}', () => {
    const answers = join(work, 'answers.jsonl');
    writeLlavaAnswers(answers, [
      { question_id: 'a', prompt: 'What colour?\nAnswer the question using a single word or phrase.', text: 'Red' },
      { question_id: 'b', prompt: 'How many?\nAnswer the question using a single word or phrase.', text: 'three' },
    ]);
    const result = visdrop('eval', 'score', '--task', 'synth', '--data', data, '--answers', answers, '--json');
    assert.equal(result.status, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(output), ['task', 'n', 'metrics', 'score']);
    assert.deepEqual([output.task, output.n, output.score], ['synth', 2, 50]);
  });

  it('bad data ends with one line: an answers file of another task, a corrupt parquet file, an unknown task', () => {
    const answers = join(work, 'other.jsonl');
    writeLlavaAnswers(answers, [{ question_id: 7, prompt: 'Is there a dog in the image?', text: 'yes' }]);
    assertOneLineError(visdrop('eval', 'score', '--task', 'synth', '--data', data, '--answers', answers), 'other.jsonl', 'another task');
    const corrupt = join(work, 'corrupt');
    writeText(join(corrupt, 'test.parquet'), 'not parquet');
    assertOneLineError(visdrop('eval', 'score', '--task', 'chartqa', '--data', corrupt, '--answers', answers), 'test.parquet', 'corrupt');
    assertOneLineError(visdrop('eval', '--model', model, '--task', 'nope', '--data', data), '--task', 'synth');
  });

  it('eval sweep runs every setting and writes the table and the plot', () => {
    const out = join(work, 'sweep');
    const result = visdrop('eval', 'sweep', '--model', model, '--task', 'synth', '--data', data, '--limit', '1', '--max-new-tokens', '2', '--budgets', '192', '--out-dir', out, '--json');
    assert.equal(result.status, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual(output.rows.map((r: { method: string }) => r.method), ['none', 'fastv', 'pdrop', 'mustdrop']);
    assert.equal(output.rows[0].flopsRatio, 1);
    // 4 layers, budget 192 of 576: FastV K=1 keeps 64 after it, an average of 192 per layer.
    assert.equal(output.rows[1].averageImageTokens, 192);
    assert.ok(output.rows[1].flopsRatio < 1);
    for (const name of ['sweep.md', 'sweep.csv', 'sweep.svg', 'sweep.png', 'synth-none.jsonl', 'synth-fastv-192.jsonl']) assert.ok(existsSync(join(out, name)), name);
    assert.match(readFileSync(join(out, 'sweep.md'), 'utf8'), /\| fastv \| 192 \| K=1 R=0\.888889 \|/);
  });

  it("eval sweep --match mustdrop sets FastV and PyramidDrop to MustDrop's measured average, after MustDrop", async () => {
    // 16 layers: FastV's first layer alone then averages 36 of 576, below what MustDrop keeps.
    const deep = join(work, 'tiny16');
    await makeTinyCheckpoint({ outDir: deep, seed: 0, shape: { textLayers: 16 } });
    const out = join(work, 'sweep-match');
    const result = visdrop('eval', 'sweep', '--model', deep, '--task', 'synth', '--data', data, '--limit', '1', '--max-new-tokens', '2', '--budgets', '64', '--match', 'mustdrop', '--out-dir', out, '--json');
    assert.equal(result.status, 0, result.stderr);
    const rows: { method: string; setting: string; targetAverageImageTokens: number | null; averageImageTokens: number }[] = JSON.parse(result.stdout).rows;
    assert.deepEqual(rows.map((r) => r.method), ['none', 'mustdrop', 'fastv', 'pdrop']);
    const mustdrop = rows[1]!.averageImageTokens;
    for (const r of rows.slice(2)) {
      assert.equal(r.targetAverageImageTokens, mustdrop);
      assert.match(r.setting, /\(MustDrop's average\)$/);
      // FastV's kept count and PyramidDrop's lambda move in whole-token steps: within a token of the target.
      assert.ok(Math.abs(r.averageImageTokens - mustdrop) <= 1, `${r.method}: ${r.averageImageTokens} for ${mustdrop}`);
    }
    assert.ok(existsSync(join(out, 'synth-fastv-64-as-mustdrop.jsonl')));
    assertOneLineError(visdrop('eval', 'sweep', '--model', model, '--task', 'synth', '--data', data, '--reduce', 'fastv', '--match', 'mustdrop', '--out-dir', out), '--match mustdrop', 'mustdrop among --reduce');
  });

  it('eval sweep runs DART and DivPrune by name, each at its paper\'s budget rule', () => {
    const out = join(work, 'sweep-dart-divprune');
    const result = visdrop('eval', 'sweep', '--model', model, '--task', 'synth', '--data', data, '--limit', '1', '--max-new-tokens', '2', '--budgets', '64', '--reduce', 'dart,divprune', '--out-dir', out, '--json');
    assert.equal(result.status, 0, result.stderr);
    const rows: { method: string; setting: string; averageImageTokens: number }[] = JSON.parse(result.stdout).rows;
    assert.deepEqual(rows.map((r) => `${r.method}: ${r.setting}`), ['none: full', 'dart: K=1 M=64 pivots 4+4', 'divprune: keep 64']);
    // 4 layers: DART's first layer sees all 576, the other three 4 + 8 x 8 = 68; DivPrune keeps 64 in every layer.
    assert.deepEqual(rows.map((r) => r.averageImageTokens), [576, (576 + 3 * 68) / 4, 64]);
  });
});
