// `visdrop bench --train`: one fine-tuning step (forward + backward through the training runtime,
// then the AdamW update) on a preset's shapes with random weights, the decoder cut to a few layers
// and the vision tower to the two CLIP layers its feature layer needs, per strategy (none, pdrop).
// One sample: 576 image tokens and ~60 text tokens, 10 of them labelled. Beside it, the f32 MatMul
// rate measured in the same process on the decoder's shapes: model FLOP/s as a share of it, and
// PyramidDrop's measured speedup against the one the forward + backward FLOPs predict. Rounds
// interleave the strategies, so drift on a shared machine hits them alike; medians are reported
// with the other processes' CPU share during the runs.
import type { LlavaArch } from '../config/llava.js';
import { normalizeLlavaConfig } from '../config/llava.js';
import { PRESETS } from '../config/presets.js';
import { OptionError } from '../errors.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { randomTensor } from '../models/random-weights.js';
import { pyramidDropTraining, type TrainingReducer } from '../reduce/pyramid-drop-train.js';
import { pyramidDropStages } from '../reduce/pyramid-drop.js';
import { strategyNames, type ReduceFlags } from '../reduce/registry.js';
import { TrainingRuntime, type ParameterTensor, type TrainableParts, type TrainingBatch } from '../runtime/training-runtime.js';
import { AdamW, LLAVA_ADAMW } from '../train/optimizer.js';
import { markCpu, othersShare } from './contention.js';
import { measureMatMul } from './roofline.js';
import { median } from './stats.js';
import { scaleLayerLists } from './strategies.js';
import { alignedTable } from './text-table.js';
import { trainingStepFlops } from './train-flops.js';

export interface TrainBenchOptions extends ReduceFlags {
  readonly preset?: string;
  /** Decoder layers built (default 2). */
  readonly layers?: number;
  /** Text tokens around the image (default 60). */
  readonly textTokens?: number;
  /** Timed rounds after the warm-up steps (default 2). */
  readonly runs?: number;
  readonly threads?: number;
  /** Keep each layer's intermediate values for its backward instead of recomputing its forward there. */
  readonly storeActivations?: boolean;
  readonly onProgress?: (message: string) => void;
}

export interface TrainBenchRow {
  readonly label: string;
  readonly tokensPerLayer: readonly number[];
  /** Medians over the rounds, ms. */
  readonly forwardBackwardMs: number;
  readonly updateMs: number;
  readonly stepMs: number;
  readonly modelFlops: number;
  readonly gflops: number;
  readonly rooflineShare: number;
  readonly loss: number;
}

export interface TrainBenchResult {
  readonly preset: string;
  readonly layers: number;
  readonly sequence: number;
  readonly imageTokens: number;
  readonly labelled: number;
  readonly matmulGflops: number;
  /** Parameters the AdamW update ran over (decoder layers and projector). */
  readonly updatedParameters: number;
  readonly trainableParameters: number;
  readonly othersShare: number;
  readonly activations: 'store' | 'recompute';
  readonly rows: readonly TrainBenchRow[];
}

const LABELLED = 10;
const WARM_UP_STEPS = 2;
/** System prompt and "USER:" before the image in a LLaVA-1.5 sample. */
const BEFORE_IMAGE = 35;
const FINETUNE: TrainableParts = { vision: false, projector: true, llm: true };

/** The preset with its decoder cut to `layers` and its tower to the two CLIP layers feature layer -2 needs. */
export function trainBenchArch(preset: string, layers: number): LlavaArch {
  const config = PRESETS[preset];
  if (!config) throw new OptionError({ subject: '--preset', expected: `one of ${Object.keys(PRESETS).join(', ')}`, found: JSON.stringify(preset) });
  const vision = config.vision_config as Record<string, unknown>;
  const text = config.text_config as Record<string, unknown>;
  const arch = normalizeLlavaConfig({ ...config, vision_config: { ...vision, num_hidden_layers: 2 }, text_config: { ...text, num_hidden_layers: layers } });
  if (arch.anyres) throw new OptionError({ subject: '--preset', expected: 'a LLaVA-1.5 preset (training has no anyres)', found: preset });
  return arch;
}

/** One LLaVA-1.5 sample: BOS and the system prompt, the image, the question, a 10-token answer. */
export function benchBatch(arch: LlavaArch, textTokens: number): TrainingBatch {
  const N = arch.imageTokensPerImage;
  const after = textTokens - BEFORE_IMAGE - LABELLED;
  if (after < 1) throw new OptionError({ subject: '--text-tokens', expected: `at least ${BEFORE_IMAGE + LABELLED + 1}`, found: String(textTokens) });
  const T = N + textTokens;
  const inputIds = new Int32Array(T);
  const labels = new Int32Array(T).fill(-100);
  for (let i = 0; i < T; i++) inputIds[i] = 100 + ((i * 7919) % 20000);
  inputIds[0] = arch.text.bosTokenId;
  inputIds.fill(arch.imageTokenId, BEFORE_IMAGE, BEFORE_IMAGE + N);
  for (let i = T - LABELLED; i < T; i++) labels[i] = inputIds[i]!;
  const S = arch.vision.imageSize;
  const pixelValues = randomTensor(7, 'pixel_values', [1, 3, S, S]);
  return { batch: 1, length: T, inputIds, labels, attentionMask: new Uint8Array(T).fill(1), pixelValues, hasImage: [true] };
}

export async function runTrainBench(options: TrainBenchOptions): Promise<TrainBenchResult> {
  const preset = options.preset ?? 'llava-1.5-7b';
  const layers = options.layers ?? 2;
  const textTokens = options.textTokens ?? 60;
  const runs = options.runs ?? 2;
  const note = options.onProgress ?? (() => {});
  const names = strategyNames({ ...options, reduce: options.reduce ?? 'none,pdrop' });
  for (const name of names) {
    if (name !== 'none' && name !== 'pdrop') throw new OptionError({ subject: '--reduce', expected: 'none or pdrop with --train', found: name });
  }
  const arch = trainBenchArch(preset, layers);
  const fullLayers = (PRESETS[preset]!.text_config as { num_hidden_layers: number }).num_hidden_layers;
  const { flags } = scaleLayerLists(options, names, layers, fullLayers);
  const strategies: { label: string; reducer: TrainingReducer | null }[] = [{ label: 'none', reducer: null }];
  if (names.includes('pdrop')) {
    const stages = {
      ...(flags.pdropLayers ? { layers: flags.pdropLayers } : {}),
      ...(flags.pdropRatios ? { ratios: flags.pdropRatios } : {}),
      ...(flags.pdropLambda !== undefined ? { lambda: flags.pdropLambda } : {}),
    };
    const reducer = pyramidDropTraining(stages);
    reducer.checkModel(layers);
    strategies.push({ label: `pdrop ${pyramidDropStages(stages).layers.join(',')}`, reducer });
  }
  const batch = benchBatch(arch, textTokens);
  const N = arch.imageTokensPerImage;

  note('roofline');
  const settings = options.threads ? { intraOpThreads: options.threads } : {};
  const matmulGflops = await measureMatMul({ ...settings, matmulRows: batch.length, matmulWidth: arch.text.hiddenSize });

  note('random weights');
  const parameters = new Map<string, ParameterTensor>();
  for (const { name, shape } of llavaTensorList(arch)) parameters.set(name, { shape, data: randomTensor(1, name, shape) });
  // AdamW moments for the decoder layers and the projector; embed_tokens' and lm_head's gradients are
  // computed but not applied, which keeps the bench's memory to the cut model's (their 0.26B of the
  // 7B's parameters would dominate a 2-layer model's update but not the real one's). The vision
  // tower is frozen (no gradients), so its layers are not counted as updated.
  const isUpdated = (name: string) => (name.includes('.layers.') && !name.startsWith('vision_tower.')) || name.startsWith('multi_modal_projector.');
  const updated = new Map([...parameters].filter(([name]) => isUpdated(name)).map(([name, p]) => [name, p.data] as const));
  const trainableParameters = [...parameters].filter(([name]) => !name.startsWith('vision_tower.')).reduce((n, [, p]) => n + p.data.length, 0);
  const optimizer = new AdamW(LLAVA_ADAMW);
  const activations = options.storeActivations ? 'store' : 'recompute';
  const runtime = await TrainingRuntime.create(arch, parameters, { ...settings, activations });
  const timings = strategies.map(() => ({ fb: [] as number[], update: [] as number[], loss: 0 }));
  const step = async (s: number) => {
    const start = performance.now();
    const result = await runtime.lossAndGradients(batch, { trainable: FINETUNE, ...(strategies[s]!.reducer ? { boundary: strategies[s]!.reducer!.boundary } : {}) });
    const middle = performance.now();
    const grads = new Map([...result.grads].filter(([name]) => updated.has(name)));
    optimizer.step(updated, grads, 1e-6);
    const end = performance.now();
    return { fb: middle - start, update: end - middle, loss: result.loss };
  };
  let share = 0;
  try {
    // Two warm-up steps each: onnxruntime's arenas keep growing through the second step (measured
    // on the 7B shape, one layer, one thread: 17.7-18.0 s for steps 1-2, 13.9 s from the third on).
    for (let warmUp = 0; warmUp < WARM_UP_STEPS; warmUp++) {
      for (let s = 0; s < strategies.length; s++) {
        note(`warm-up ${warmUp + 1}/${WARM_UP_STEPS} ${strategies[s]!.label}`);
        await step(s);
      }
    }
    const mark = markCpu();
    for (let round = 0; round < runs; round++) {
      for (let s = 0; s < strategies.length; s++) {
        note(`round ${round + 1}/${runs} ${strategies[s]!.label}`);
        const t = await step(s);
        timings[s]!.fb.push(t.fb);
        timings[s]!.update.push(t.update);
        timings[s]!.loss = t.loss;
      }
    }
    share = othersShare(mark);
  } finally {
    await runtime.release();
    await optimizer.close();
  }
  const text = textTokens;
  const rows = strategies.map(({ label, reducer }, s) => {
    const { layers: boundaries = [], ratios = [] } = reducer ? (reducer.options as { layers: number[]; ratios: number[] }) : {};
    const tokensPerLayer = Array.from({ length: layers }, (_, layer) => {
      const stage = boundaries.filter((b) => b <= layer).length;
      return text + (stage === 0 ? N : Math.floor(N * ratios[stage - 1]!));
    });
    const modelFlops = trainingStepFlops(arch, { tokensPerLayer, labelled: LABELLED }, FINETUNE).total;
    const forwardBackwardMs = median(timings[s]!.fb);
    const updateMs = median(timings[s]!.update);
    const stepMs = forwardBackwardMs + updateMs;
    const gflops = modelFlops / (stepMs * 1e6);
    return { label, tokensPerLayer, forwardBackwardMs, updateMs, stepMs, modelFlops, gflops, rooflineShare: gflops / matmulGflops, loss: timings[s]!.loss };
  });
  return {
    preset,
    layers,
    sequence: batch.length,
    imageTokens: N,
    labelled: LABELLED,
    matmulGflops,
    updatedParameters: [...updated.values()].reduce((n, p) => n + p.length, 0),
    trainableParameters,
    othersShare: share,
    activations,
    rows,
  };
}

export function formatTrainBenchTable(result: TrainBenchResult): string {
  const base = result.rows[0]!;
  const table = alignedTable(
    ['strategy', 'tokens per layer', 'fwd+bwd ms', 'update ms', 'step ms', 'model GFLOP', 'GFLOP/s', '% of MatMul', 'speedup', 'FLOPs predict', 'measured/predicted'],
    result.rows.map((row) => {
      const speedup = base.stepMs / row.stepMs;
      const predicted = base.modelFlops / row.modelFlops;
      return [
        row.label,
        row.tokensPerLayer.join('/'),
        row.forwardBackwardMs.toFixed(0),
        row.updateMs.toFixed(0),
        row.stepMs.toFixed(0),
        (row.modelFlops / 1e9).toFixed(0),
        row.gflops.toFixed(0),
        `${(row.rooflineShare * 100).toFixed(0)}%`,
        row === base ? '1.00x' : `${speedup.toFixed(2)}x`,
        row === base ? '1.00x' : `${predicted.toFixed(2)}x`,
        row === base ? '' : (speedup / predicted).toFixed(2),
      ];
    }),
  );
  const updateNs = (base.updateMs * 1e6) / result.updatedParameters;
  return [
    `training step, ${result.preset} shapes, decoder cut to ${result.layers} layers, CLIP to 2: one sample of ${result.sequence} tokens (${result.imageTokens} image), ${result.labelled} labelled; fine-tuning (projector + LLM); ${result.activations === 'store' ? 'activations stored' : 'each layer recomputed in its backward (gradient checkpointing)'}`,
    `f32 MatMul [${result.sequence} x 4096] x [4096 x 4096] in this process: ${result.matmulGflops.toFixed(0)} GFLOP/s; other processes took ${(result.othersShare * 100).toFixed(0)}% of the CPU during the runs`,
    ...table,
    `AdamW over ${(result.updatedParameters / 1e6).toFixed(0)}M parameters (decoder layers + projector): ${updateNs.toFixed(2)} ns per parameter` +
      ` (a full 7B's 6.8B would take ${((updateNs * 6.76e9) / 1e9).toFixed(1)} s per optimizer step, spread over its micro-batches)`,
    '',
  ].join('\n');
}
