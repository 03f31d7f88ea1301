// visdrop's public API: load a llava-hf checkpoint, generate with streamed events, and the pieces a
// caller may want on their own (config, preprocessing, runtime, errors). The CLI uses only this.
export {
  VisdropError,
  ConfigError,
  CheckpointError,
  TokenizerError,
  ImageError,
  PromptError,
  OptionError,
  GraphError,
  DataError,
  type ErrorDetails,
} from './errors.js';
export { loadLlavaConfig, normalizeLlavaConfig, type LlavaArch, type TextArch, type VisionArch } from './config/llava.js';
export { loadPreprocessorConfig, type ImagePreprocessing } from './config/preprocessor.js';
export { openCheckpoint, Checkpoint, SafetensorsFile, writeSafetensors } from './checkpoint/index.js';
export { LlavaRuntime, type LoadProgress, type RuntimeOptions } from './runtime/llava-runtime.js';
export { KvCache, LayerKv } from './runtime/kv-cache.js';
export { GraphCache, defaultCacheDir, type CacheEntryInfo, type CacheSource, type GraphCacheOptions } from './runtime/graph-cache.js';
export { randomWeights } from './models/random-weights.js';
export { loadModel, LlavaModel, DEFAULT_MAX_NEW_TOKENS, type GenerateRequest, type LoadOptions } from './generate/model.js';
export type { GenerationEvent, GenerationTimings, PrefillTimings, StopReason } from './generate/events.js';
export { generate, expandImageMarker, type GenerationInput, type GenerationSettings } from './generate/loop.js';
export { encodeImage, type PixelValues, type AnyresPixelValues } from './generate/vision.js';
export { readPixelValues, writePixelValues } from './generate/pixel-values-file.js';
export { defaultModelDir, resolveModelDir } from './generate/default-model.js';
export { createSampler, argmax, type SamplingOptions } from './generate/sampling.js';
export { makeTinyCheckpoint, TINY_SHAPE, type TinyShape, type MakeTinyOptions } from './tools/make-tiny.js';
export { writeVisdropTinyInit, visdropTinyConfigJson, VISDROP_TINY_PRESET, VISDROP_TINY_SHAPE, type InitialCheckpointOptions } from './tools/visdrop-tiny.js';
export { writeSynthTokenizer } from './tools/synth-tokenizer.js';
export { convertCheckpoint, type ConvertOptions } from './tools/convert-checkpoint.js';
export { writeSynthDataset, SYNTH_GENERATOR_VERSION, type SynthOptions, type SynthMeta, type LlavaSample, type TestQuestion } from './synth/dataset.js';
export { FAMILIES, SHORT_ANSWER_SUFFIX, type Family } from './synth/questions.js';
export { withVisionStage, type TokenReducer, type BoundaryContext, type KeepPlan, type PositionPolicy, type PrefillSequence, type VisionStage, type FeatureStage, type FeatureContext, type TokenPlan, type CreatedToken, type PlannedToken, type ImagePlan } from './reduce/types.js';
export { meanToken } from './runtime/token-plan.js';
export { mustDrop, MUSTDROP_BUDGETS, type MustDropOptions } from './reduce/must-drop.js';
export { visionZip, VISIONZIP_BUDGETS, type VisionZipOptions } from './reduce/visionzip.js';
export { sparseVlm, SPARSEVLM_PRESETS, SPARSEVLM_DEFAULT_LAYERS, type SparseVlmOptions } from './reduce/sparsevlm.js';
export type { VisionRecord } from './generate/vision.js';
export { fastV, fastVKept, type FastVOptions } from './reduce/fastv.js';
export { pyramidDrop, pyramidDropKept, type PyramidDropOptions } from './reduce/pyramid-drop.js';
export { dart, dartKept, DART_DEFAULTS, type DartOptions } from './reduce/dart.js';
export { divPrune, divPruneKept, DIVPRUNE_DEFAULT_RATIO, type DivPruneOptions } from './reduce/divprune.js';
export type { ReductionRecord, ReductionStage, CreatedRecord, RecordToken } from './generate/reduction-record.js';
export { WEIGHT_FORMATS, Q4_BLOCK_SIZES, type WeightFormat } from './quant/format.js';
export { STRATEGY_NAMES, strategyNames, reducerFromFlags, type ReduceFlags, type StrategyName } from './reduce/registry.js';
export { pyramidDropTraining, lastInstructionTokens, type TrainingReducer } from './reduce/pyramid-drop-train.js';
export {
  TrainingRuntime,
  type TrainingBatch,
  type TrainableParts,
  type ParameterMap,
  type ParameterTensor,
  type BoundaryHook,
  type TrainingBoundary,
  type LossAndGradients,
} from './runtime/training-runtime.js';
export { train, type TrainEvent, type LossRuntime, type RuntimeFactory } from './train/train.js';
export { STAGES, TRAINABLE_PARTS, type Stage, type TrainablePart, type TrainOptions } from './train/options.js';
export {
  runEval,
  runSweep,
  scoreAnswers,
  readAnswers,
  evalTask,
  sweepSettings,
  matchedSetting,
  SWEEP_MATCHES,
  EVAL_TASKS,
  TASK_NAMES,
  type AnswerLine,
  type EvalTask,
  type EvalQuestion,
  type TaskData,
  type TaskScore,
  type RunIdentity,
  type SweepSetting,
  type SweepPlan,
  type SweepMatch,
  type SweepRow,
} from './eval/index.js';
