// FLOPs of LLaVA prefills with and without visual-token reduction: the engine's own counts (the
// bench's), the papers' accountings to check their tables, and the `visdrop flops` options and output.
export { decoderLayerFlops, decoderPrefillFlops, decoderWeightBytes, lastRowLogitsFlops, modelWeightBytes, nextLayerScoresFlops, visionFlops } from './engine.js';
export { ACCOUNTINGS, countFlops, type Accounting, type FlopsInput, type FlopsResult } from './count.js';
export { DEFAULT_TEXT_TOKENS, resolveFlopsOptions, type FlopsOptionsInput, type ResolvedFlopsOptions } from './options.js';
export { flopsJson, formatFlops, formatFlopsTable, formatStages } from './format.js';
export { FLOPS_PRESETS } from './presets.js';
