// Training checkpoints on disk. `OUT/checkpoint-<step>/` is a llava-hf checkpoint that loadModel
// reads (the source model's config, tokenizer and preprocessor files copied, the weights in F32
// under the source's tensor names) plus what a resume needs: `optimizer.safetensors` (AdamW's
// moments per trained tensor) and `trainer_state.json` (step, schedule, data order, RNG, losses
// so far, the fingerprints a resume is checked against). A checkpoint is written whole in a
// temporary directory and renamed into place, so a kill during a save leaves only a temporary
// directory, which is ignored and removed; the older checkpoint is removed after the rename.
// The final model goes into OUT itself, its weights renamed in after they are complete.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INDEX_FILE, SafetensorsFile, SINGLE_FILE, writeSafetensors, writeShardedSafetensors, type TensorToWrite } from '../checkpoint/index.js';
import { CheckpointError } from '../errors.js';
import { LOSS_CURVE_FILE } from './loss-curve.js';
import type { MomentState } from './optimizer.js';
import { LOG_FILE } from './step-log.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FORMAT = 'visdrop-trainer/1';
const CHECKPOINT_DIR = /^checkpoint-(\d+)$/;
const TEMPORARY_DIR = /^\.tmp-/;
const SHARD_FILE = /^model-\d{5}-of-\d{5}\.safetensors$/;
/** save_pretrained's default max_shard_size. */
const SHARD_BYTES = 5e9;

export interface TrainerState {
  readonly format: typeof STATE_FORMAT;
  /** Optimizer steps done. */
  readonly step: number;
  readonly totalSteps: number;
  /** What must match for a resume: the source model, the data and every option that changes the losses. */
  readonly fingerprint: Fingerprint;
  /** The shuffle's state: seed and the epoch the next step falls in (epochOrder rebuilds the order from them). */
  readonly rng: { readonly seed: number; readonly epoch: number };
  /** Sample indices of that epoch in training order. */
  readonly dataOrder: readonly number[];
  /** Every step's metrics so far, for the log and the loss curve. */
  readonly history: readonly StepRecord[];
}

export interface Fingerprint {
  readonly model: string;
  readonly data: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface StepRecord {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly labelTokens: number;
  readonly sequenceTokens: number;
  /** Wall time of the whole step, and of the optimizer update within it. */
  readonly ms: number;
  readonly updateMs: number;
}

export interface ParameterToSave {
  readonly name: string;
  /** The name in the source checkpoint's spelling. */
  readonly storedName: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A run's own outputs: when the source model is an earlier run's --out, copying its would overwrite this run's. */
const RUN_OUTPUTS = new Set([TRAINER_STATE_FILE, OPTIMIZER_FILE, LOG_FILE, LOSS_CURVE_FILE]);

/** Every regular file of the source model that is not weights or a run's output (config, tokenizer, preprocessor, templates). */
function copyModelFiles(modelDir: string, to: string): void {
  for (const entry of readdirSync(modelDir)) {
    if (entry === SINGLE_FILE || entry === INDEX_FILE || SHARD_FILE.test(entry) || RUN_OUTPUTS.has(entry)) continue;
    const from = join(modelDir, entry);
    if (statSync(from).isFile()) copyFileSync(from, join(to, entry));
  }
}

function weightTensors(parameters: readonly ParameterToSave[]): TensorToWrite[] {
  return parameters.map((p) => ({ name: p.storedName, dtype: 'F32', shape: p.shape, data: p.data }));
}

export function checkpointDir(outDir: string, step: number): string {
  return join(outDir, `checkpoint-${step}`);
}

/** Writes checkpoint-<step> atomically and removes older checkpoints; returns its directory. */
export function saveCheckpoint(
  outDir: string,
  modelDir: string,
  parameters: readonly ParameterToSave[],
  moments: ReadonlyMap<string, MomentState>,
  state: TrainerState,
): string {
  const target = checkpointDir(outDir, state.step);
  const temporary = join(outDir, `.tmp-checkpoint-${state.step}-${process.pid}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  try {
    copyModelFiles(modelDir, temporary);
    writeShardedSafetensors(temporary, weightTensors(parameters), SHARD_BYTES, { format: 'pt' });
    const optimizerTensors: TensorToWrite[] = [];
    for (const [name, { expAvg, expAvgSq }] of moments) {
      optimizerTensors.push({ name: `exp_avg.${name}`, dtype: 'F32', shape: [expAvg.length], data: expAvg });
      optimizerTensors.push({ name: `exp_avg_sq.${name}`, dtype: 'F32', shape: [expAvgSq.length], data: expAvgSq });
    }
    writeSafetensors(join(temporary, OPTIMIZER_FILE), optimizerTensors, { format: 'pt' });
    writeFileSync(join(temporary, TRAINER_STATE_FILE), `${JSON.stringify(state)}\n`);
    rmSync(target, { recursive: true, force: true });
    renameSync(temporary, target);
  } catch (cause) {
    rmSync(temporary, { recursive: true, force: true });
    if (cause instanceof CheckpointError) throw cause;
    throw new CheckpointError({ subject: target, expected: 'a checkpoint directory it can write', found: (cause as Error).message, cause });
  }
  for (const entry of readdirSync(outDir)) {
    const match = CHECKPOINT_DIR.exec(entry);
    if (match && Number(match[1]) < state.step) rmSync(join(outDir, entry), { recursive: true, force: true });
  }
  return target;
}

/** The newest complete checkpoint in `outDir`, or null. Leftover temporary directories are removed. */
export function latestCheckpoint(outDir: string): { dir: string; step: number } | null {
  if (!existsSync(outDir)) return null;
  let best: { dir: string; step: number } | null = null;
  for (const entry of readdirSync(outDir)) {
    if (TEMPORARY_DIR.test(entry)) {
      rmSync(join(outDir, entry), { recursive: true, force: true });
      continue;
    }
    const match = CHECKPOINT_DIR.exec(entry);
    const dir = join(outDir, entry);
    if (match && existsSync(join(dir, TRAINER_STATE_FILE)) && (best === null || Number(match[1]) > best.step)) best = { dir, step: Number(match[1]) };
  }
  return best;
}

export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, TRAINER_STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
  } catch (cause) {
    throw new CheckpointError({ subject: path, expected: 'a trainer state written by visdrop train', found: (cause as Error).message, cause });
  }
  if (state.format !== STATE_FORMAT) {
    throw new CheckpointError({ subject: path, expected: `format ${STATE_FORMAT}`, found: JSON.stringify(state.format) });
  }
  return state;
}

/** AdamW's moments saved with a checkpoint, by parameter name. */
export function readMoments(dir: string): Map<string, MomentState> {
  const file = new SafetensorsFile(join(dir, OPTIMIZER_FILE));
  try {
    const moments = new Map<string, MomentState>();
    for (const name of file.names()) {
      if (!name.startsWith('exp_avg.')) continue;
      const parameter = name.slice('exp_avg.'.length);
      moments.set(parameter, { expAvg: file.readFloat32(name), expAvgSq: file.readFloat32(`exp_avg_sq.${parameter}`) });
    }
    return moments;
  } finally {
    file.close();
  }
}

/**
 * Writes the final model into `outDir` (config, tokenizer and preprocessor files, F32 weights).
 * The weights are written beside it first and renamed in whole, the index last, so a kill leaves
 * the previous weights or no index, never a mix.
 */
export function saveFinalModel(outDir: string, modelDir: string, parameters: readonly ParameterToSave[]): void {
  const temporary = join(outDir, `.tmp-final-${process.pid}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  try {
    const written = writeShardedSafetensors(temporary, weightTensors(parameters), SHARD_BYTES, { format: 'pt' });
    copyModelFiles(modelDir, outDir);
    for (const entry of readdirSync(outDir)) {
      if (entry === INDEX_FILE || entry === SINGLE_FILE || SHARD_FILE.test(entry)) rmSync(join(outDir, entry), { force: true });
    }
    for (const name of written.filter((n) => n !== INDEX_FILE)) renameSync(join(temporary, name), join(outDir, name));
    if (written.includes(INDEX_FILE)) renameSync(join(temporary, INDEX_FILE), join(outDir, INDEX_FILE));
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}
