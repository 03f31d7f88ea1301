// FLOPs of LLaVA prefills with and without visual-token reduction: the engine's own counts (the
// bench's), the papers' accountings to check their tables, and the `visdrop flops` options and output.
export { decoderLayerFlops, decoderPrefillFlops, decoderWeightBytes, lastRowLogitsFlops, modelWeightBytes, nextLayerScoresFlops, visionFlops } from './engine.js';
export { ACCOUNTINGS, countFlops, type Accounting, type FlopsInput, type FlopsResult } from './count.js';
export { DEFAULT_TEXT_TOKENS, nextImage, parseImageSize, resolveFlopsOptions, type FlopsOptionsInput, type NextImage, type ResolvedFlopsOptions } from './options.js';
export { flopsJson, formatFlops, formatFlopsTable, formatStages, type FlopsJson } from './format.js';
export { FLOPS_PRESETS, NEXT_PINPOINTS } from './presets.js';
