// Runs on the random tiny model: answers in LLaVA's answer JSONL with visdrop's extras, resuming
// that skips answered questions and refuses another run's file, a torn last line, a missing image
// reported before anything is generated, and a child process killed with SIGKILL mid-run losing
// at most the question in flight.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { loadModel, type LlavaModel } from '../generate/model.js';
import { reducerFromFlags } from '../reduce/registry.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import type { RunIdentity } from './answers-file.js';
import { runEval } from './run-eval.js';
import { evalTask } from './tasks/index.js';
import { writeJsonl, writePng } from './test-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const QUESTIONS = 6;

let work: string;
let modelDir: string;
let data: string;
let model: LlavaModel;

function identity(strategy: string, options: Record<string, unknown>): RunIdentity {
  return { task: 'synth', model: modelDir, weights: 'f32', strategy, options, maxNewTokens: 3, conversation: 'vicuna_v1', padToSquare: true };
}

async function run(answersFile: string, limit: number, strategy = 'none', flags = {}) {
  const reducer = reducerFromFlags(strategy as 'none', { ...flags, reduce: strategy });
  const task = evalTask('synth');
  return runEval({
    model,
    task,
    data: await task.load(data),
    answersFile,
    identity: identity(strategy, reducer?.options ?? {}),
    reducer,
    conversation: 'vicuna_v1',
    limit,
    flopsRatio: ({ imageTokensPerLayer, imageTokens }) => imageTokensPerLayer.reduce((a, b) => a + b, 0) / (imageTokens * imageTokensPerLayer.length),
  });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'visdrop-eval-run-'));
  modelDir = join(work, 'tiny');
  await makeTinyCheckpoint({ outDir: modelDir, seed: 0 });
  data = join(work, 'synth');
  const colours = ['red', 'green', 'blue'];
  for (let i = 0; i < QUESTIONS; i++) await writePng(join(data, 'images', `q${i}.png`), i + 1);
  writeJsonl(
    join(data, 'test.jsonl'),
    Array.from({ length: QUESTIONS }, (_, i) => ({ question_id: `q${i}`, image: `q${i}.png`, text: 'What colour is the square?\nAnswer the question using a single word or phrase.', answer: colours[i % 3], category: 'colour' })),
  );
  model = await loadModel(modelDir);
});
after(async () => {
  await model.release();
  rmSync(work, { recursive: true, force: true });
});

describe('runEval', () => {
  it("writes LLaVA's answer fields and visdrop's extras, then resumes without redoing answered questions", async () => {
    const file = join(work, 'resume.jsonl');
    const first = await run(file, 2);
    assert.deepEqual([first.resumed, first.generated, first.score.n], [0, 2, 2]);
    const written = lines(file);
    const answer = JSON.parse(written[0]!);
    assert.deepEqual(Object.keys(answer), ['question_id', 'prompt', 'text', 'answer_id', 'model_id', 'metadata', 'visdrop']);
    assert.equal(answer.question_id, 'q0');
    assert.equal(answer.prompt, 'What colour is the square?\nAnswer the question using a single word or phrase.');
    assert.deepEqual(answer.visdrop.keptImageTokens, [576]);
    assert.equal(answer.visdrop.flopsRatio, 1);
    const second = await run(file, 3);
    assert.deepEqual([second.resumed, second.generated, second.score.n], [2, 1, 3]);
    assert.deepEqual(lines(file).slice(0, 2), written, 'answers already written are kept as they were');
  });

  it('records image tokens per stage with a strategy', async () => {
    const file = join(work, 'pdrop.jsonl');
    await run(file, 1, 'pdrop', { pdropLayers: [1, 2, 3], pdropRatios: [0.5, 0.25, 0.125] });
    const extras = JSON.parse(lines(file)[0]!).visdrop;
    assert.deepEqual(extras.keptImageTokens, [576, 288, 144, 72]);
    assert.deepEqual(extras.imageTokensPerLayer, [576, 288, 144, 72]);
    assert.equal(extras.run.strategy, 'pdrop');
  });

  it('refuses a file another run wrote, before generating anything', async () => {
    const file = join(work, 'resume.jsonl');
    const before = readFileSync(file, 'utf8');
    await assert.rejects(run(file, 4, 'fastv', { fastvK: 1, fastvR: 0.5 }), (e: unknown) => e instanceof DataError && e.message.includes('strategy, options'));
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  it('drops a torn last line and answers its question again', async () => {
    const file = join(work, 'resume.jsonl');
    appendFileSync(file, '{"question_id":"q3","prompt":"What col');
    const result = await run(file, 4);
    assert.deepEqual([result.resumed, result.generated], [3, 1]);
    assert.deepEqual(lines(file).map((l) => JSON.parse(l).question_id), ['q0', 'q1', 'q2', 'q3']);
  });

  it('a missing image is one DataError naming it, and the answers file is left as it was', async () => {
    const file = join(work, 'resume.jsonl');
    const before = readFileSync(file, 'utf8');
    const image = join(data, 'images', 'q5.png');
    const bytes = readFileSync(image);
    unlinkSync(image);
    try {
      await assert.rejects(run(file, QUESTIONS), (e: unknown) => e instanceof DataError && e.message.includes('q5.png'));
      assert.equal(readFileSync(file, 'utf8'), before);
    } finally {
      appendFileSync(image, bytes);
    }
  });
});

describe('visdrop eval killed with SIGKILL', () => {
  it('loses at most the question in flight; rerunning the same command finishes the set', async () => {
    const file = join(work, 'killed.jsonl');
    const args = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'eval', '--model', modelDir, '--task', 'synth', '--data', data, '--out', file, '--max-new-tokens', '3', '--json'];
    // The malloc setting given up front, so the CLI does not relaunch itself and the pid is the worker's.
    const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: '65536' };
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Kill once two answers are on disk: the third is then being generated.
    while (!(existsSync(file) && lines(file).length >= 2)) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const survived = readFileSync(file, 'utf8').split('\n').filter((l) => l.endsWith('}'));
    assert.ok(survived.length >= 2 && survived.length < QUESTIONS, `${survived.length} answers survived`);

    const rerun = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(rerun.status, 0, rerun.stderr);
    const final = lines(file);
    assert.deepEqual(final.map((l) => JSON.parse(l).question_id), Array.from({ length: QUESTIONS }, (_, i) => `q${i}`));
    assert.deepEqual(final.slice(0, survived.length), survived, 'every answer written before the kill is kept');
    assert.equal(JSON.parse(rerun.stdout).n, QUESTIONS);
  });
});
