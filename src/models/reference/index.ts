// The float64 reference forward pass of LLaVA-1.5 (tiny models only): an independent, slow,
// plainly written check for the ONNX graphs, matching Hugging Face transformers' math.
export type { WeightLookup } from './weights.js';
export { referenceVision } from './clip.js';
export { referenceProjector } from './projector.js';
export { referenceDecoder, referenceEmbed } from './llama.js';
export { referenceGreedy, referenceImageFeatures, referenceLlava, referenceMergeEmbeddings } from './llava.js';
