// LlavaMultiModalProjector in float64: linear_1 → exact GELU → linear_2, applied to each
// selected vision feature row independently. Biases only when the config says so.
import type { LlavaArch } from '../../config/llava.js';
import { gelu, linear } from './math.js';
import { tensor, type WeightLookup } from './weights.js';

/** features [rows, Dv] → [rows, Dt]. */
export function referenceProjector(
  arch: LlavaArch,
  w: WeightLookup,
  features: Float64Array,
  rows: number,
): Float64Array {
  const dv = arch.vision.hiddenSize;
  const dt = arch.text.hiddenSize;
  const bias = (name: string) =>
    arch.projectorBias ? tensor(w, `multi_modal_projector.${name}.bias`, [dt]) : undefined;
  const hidden = linear(
    features,
    rows,
    dv,
    dt,
    tensor(w, 'multi_modal_projector.linear_1.weight', [dt, dv]),
    bias('linear_1'),
  ).map(gelu);
  return linear(hidden, rows, dt, dt, tensor(w, 'multi_modal_projector.linear_2.weight', [dt, dt]), bias('linear_2'));
}
