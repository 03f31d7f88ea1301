// Retrains visdrop-tiny from scratch, seeded: synthetic data -> initial checkpoint -> LLaVA's
// pre-training stage on inventory captions ("blue small triangle top left center circle orange large
// label bottom cat"), first over pictures whose shapes fill whole cells, then twice over the real
// ones -> fine-tuning on the questions with PyramidDrop -> F16 into
// assets/visdrop-tiny/. Each step is a `visdrop` command, printed before it runs, so this file is
// the recipe. A step whose output is complete is skipped, and training steps resume, so an
// interrupted run continues where it stopped.
//
//   npm run train:tiny                      # the shipped model
//   npm run train:tiny -- --plain           # the comparison: fine-tuning without PyramidDrop
//   node scripts/train-tiny.mjs --work DIR --out DIR --seed S [--plain] [--threads N] [--dry-run]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/**
 * The recipe's sizes, chosen so the whole run fits within 60 minutes on 2 cores: 51-58 minutes
 * predicted from step times measured with `visdrop train` on this model at two threads (README,
 * "visdrop-tiny"); 4000 fine-tuning steps are most of it.
 */
const RECIPE = {
  scenes: 6000,
  batchSize: 8,
  gradAccum: 1,
  /** Copies per side of each shape in the first pre-training stage's pictures (`synth --tiles`). */
  largeTiles: 4,
  pretrainLarge: { maxSteps: 600, lr: 1e-3, warmupRatio: 0.03 },
  pretrain: { maxSteps: 600, lr: 1e-3, warmupRatio: 0.03 },
  /** A second pass over the real pictures' inventories: a fresh warm-up and cosine cycle, the next seed's data order. */
  pretrainAgain: { maxSteps: 1200, lr: 1e-3, warmupRatio: 0.03, seedOffset: 1 },
  finetune: { maxSteps: 4000, lr: 1e-3, warmupRatio: 0.03 },
  saveEvery: 50,
  pdropLambda: 0.5,
};

const { values: flags } = parseArgs({
  options: {
    work: { type: 'string', default: join(ROOT, '.visdrop-cache', 'train-tiny') },
    out: { type: 'string' },
    seed: { type: 'string', default: '0' },
    plain: { type: 'boolean', default: false },
    // Threads per operator for the training steps (default: onnxruntime's, one per core); 1 lets
    // two recipes (the shipped model and the plain one) share a 2-core machine.
    threads: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const seed = flags.seed;
const work = resolve(flags.work);
// The shipped model is fine-tuned with PyramidDrop (lambda 0.5 at 1/4, 1/2, 3/4 of the depth): from the
// same pre-trained checkpoint it answered 85.9% of held-out questions, the plain fine-tuning 82.7% (79.7%
// and 74.3% at 2000 steps; README, "PyramidDrop's training result, small"). The plain one is a second
// model for comparison.
const out = resolve(flags.out ?? (flags.plain ? join(work, 'visdrop-tiny-plain') : join(ROOT, 'assets', 'visdrop-tiny')));
const data = join(work, 'data');
const largeData = join(work, `data-tiles${RECIPE.largeTiles}`);
const init = join(work, 'init');
const pretrainedLarge = join(work, `pretrain-tiles${RECIPE.largeTiles}`);
const pretrainedOnce = join(work, 'pretrain');
const pretrained = join(work, 'pretrain-again');
const finetuned = join(work, flags.plain ? 'finetune' : 'finetune-pdrop');

const timings = [];

/** Runs `visdrop ...args` (unless its output `done` exists), timing it; stops the recipe on failure. */
function step(title, done, args) {
  const command = ['node', CLI, ...args];
  if (done !== undefined && existsSync(done)) {
    process.stderr.write(`\n== ${title}: done already (${done})\n`);
    return;
  }
  process.stderr.write(`\n== ${title}\n$ visdrop ${args.join(' ')}\n`);
  if (flags['dry-run']) return;
  const start = performance.now();
  const result = spawnSync(process.execPath, command.slice(1), { stdio: 'inherit' });
  const seconds = (performance.now() - start) / 1000;
  timings.push([title, seconds]);
  if (result.status !== 0) {
    process.stderr.write(`train:tiny: "${title}" failed (exit ${result.status ?? result.signal}); rerun to resume\n`);
    process.exit(1);
  }
}

/** --resume only when `dir` holds a saved checkpoint (checkpoint-N), so a fresh run and a resumed one use the same command. */
function resumeFlag(dir) {
  return existsSync(dir) && readdirSync(dir).some((name) => /^checkpoint-\d+$/.test(name)) ? ['--resume'] : [];
}

function trainArgs(stage, model, dataFile, outDir, settings) {
  return [
    'train',
    '--model', model,
    '--data', dataFile,
    '--images', join(dirname(dataFile), 'images'),
    '--out', outDir,
    '--stage', stage,
    // The vision tower stays at its seeded initialisation in every stage, as LLaVA keeps CLIP frozen:
    // trained from scratch here, its features collapse to one shared direction within a few hundred
    // steps, while a random CLIP still tells the patches apart. The projector stays at its
    // initialisation too: trained, it squeezes the patch's place out of the image tokens (a probe
    // reads the cell at 97% after the initial projector, 59% after a trained one; README,
    // "visdrop-tiny"). There is no pretrained LLaMA, so the decoder alone trains, in every stage.
    '--train', 'llm',
    '--max-steps', String(settings.maxSteps),
    '--batch-size', String(RECIPE.batchSize),
    '--grad-accum', String(RECIPE.gradAccum),
    '--lr', String(settings.lr),
    '--warmup-ratio', String(settings.warmupRatio),
    '--seed', String(Number(seed) + (settings.seedOffset ?? 0)),
    '--save-every', String(RECIPE.saveEvery),
    ...(flags.threads ? ['--threads', flags.threads] : []),
    ...resumeFlag(outDir),
  ];
}

/** PyramidDrop's stage ends at a quarter, half and three quarters of the decoder's depth (8, 16, 24 of LLaVA's 32). */
function pdropLayers() {
  const layers = flags['dry-run'] && !existsSync(join(init, 'config.json')) ? 8 : JSON.parse(readFileSync(join(init, 'config.json'), 'utf8')).text_config.num_hidden_layers;
  return [1, 2, 3].map((q) => Math.round((q * layers) / 4)).join(',');
}

const total = performance.now();
step('synthetic data', join(data, 'meta.json'), ['synth', '--out', data, '--count', String(RECIPE.scenes), '--seed', seed]);
step(`synthetic data, shapes as ${RECIPE.largeTiles}x${RECIPE.largeTiles} blocks`, join(largeData, 'meta.json'), ['synth', '--out', largeData, '--count', String(RECIPE.scenes), '--seed', seed, '--tiles', String(RECIPE.largeTiles)]);
step('initial checkpoint', join(init, 'model.safetensors'), ['make-tiny', '--preset', 'visdrop-tiny', '--seed', seed, '--out', init]);
// Reading one of 144 image tokens by its content is learned first where each object fills 16 of
// them, and carries over to one-token objects at once (README, "visdrop-tiny").
step('pre-training on inventories, large shapes', join(pretrainedLarge, 'model.safetensors'), trainArgs('pretrain', init, join(largeData, 'inventory.json'), pretrainedLarge, RECIPE.pretrainLarge));
step('pre-training on inventories', join(pretrainedOnce, 'model.safetensors'), trainArgs('pretrain', pretrainedLarge, join(data, 'inventory.json'), pretrainedOnce, RECIPE.pretrain));
// The inventory names four attributes an object in a drawn order (synth v7), and the lookups were still improving at
// the end of the first pass (README, "visdrop-tiny"); a second pass is cheap (0.3 s a step).
step('pre-training on inventories, again', join(pretrained, 'model.safetensors'), trainArgs('pretrain', pretrainedOnce, join(data, 'inventory.json'), pretrained, RECIPE.pretrainAgain));
step('fine-tuning on the questions' + (flags.plain ? '' : ' with PyramidDrop'), join(finetuned, 'model.safetensors'), [
  ...trainArgs('finetune', pretrained, join(data, 'train.json'), finetuned, RECIPE.finetune),
  ...(flags.plain ? [] : ['--reduce', 'pdrop', '--pdrop-layers', pdropLayers(), '--pdrop-lambda', String(RECIPE.pdropLambda)]),
]);
step('F16 model', undefined, ['convert', '--model', finetuned, '--out', out, '--dtype', 'F16']);

process.stderr.write('\n');
for (const [title, seconds] of timings) process.stderr.write(`${title.padEnd(48)} ${(seconds / 60).toFixed(1)} min\n`);
process.stderr.write(`${'total'.padEnd(48)} ${((performance.now() - total) / 60000).toFixed(1)} min -> ${out}\n`);
