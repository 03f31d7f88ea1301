// Outlier smoothing for int8 activations (SmoothQuant's migration, without calibration data): the
// Linears right after an RMSNorm see activations x̂_j * γ_j, so input channels with a large norm
// weight γ_j carry outliers that coarsen every token's int8 grid. Dividing γ_j by s_j and multiplying
// input column j of the following weights by s_j changes nothing in exact arithmetic and moves the
// spread into the weights, whose scales are per output channel. s_j = sqrt(|γ_j| / max_rows |W_rj|)
// (SmoothQuant's α = 0.5, with |γ_j| standing in for the activation range it would calibrate).
import type { TextArch } from '../config/llava.js';
import { DECODER_PREFIX } from '../models/llama/decoder.js';
import type { WeightSource } from '../models/weights.js';
import { GraphError } from '../errors.js';

interface NormGroup {
  readonly norm: string;
  readonly linears: readonly { readonly name: string; readonly outFeatures: number }[];
}

function normGroups(t: TextArch): NormGroup[] {
  return Array.from({ length: t.numLayers }, (_, layer) => {
    const prefix = `${DECODER_PREFIX}.layers.${layer}`;
    return [
      {
        norm: `${prefix}.input_layernorm.weight`,
        linears: [
          { name: `${prefix}.self_attn.q_proj.weight`, outFeatures: t.numHeads * t.headDim },
          { name: `${prefix}.self_attn.k_proj.weight`, outFeatures: t.numKvHeads * t.headDim },
          { name: `${prefix}.self_attn.v_proj.weight`, outFeatures: t.numKvHeads * t.headDim },
        ],
      },
      {
        norm: `${prefix}.post_attention_layernorm.weight`,
        linears: [
          { name: `${prefix}.mlp.gate_proj.weight`, outFeatures: t.intermediateSize },
          { name: `${prefix}.mlp.up_proj.weight`, outFeatures: t.intermediateSize },
        ],
      },
    ];
  }).flat();
}

/** Smooths one norm weight [D] and the Linears ([out, D] each) it feeds; weights come back in order. */
export function smoothGroup(gamma: Float32Array, weights: readonly Float32Array[]): { gamma: Float32Array; weights: Float32Array[] } {
  const D = gamma.length;
  const columnMax = new Float32Array(D);
  for (const weight of weights) {
    for (let r = 0; r < weight.length; r += D) {
      for (let j = 0; j < D; j++) {
        const w = Math.abs(weight[r + j]!);
        if (w > columnMax[j]!) columnMax[j] = w;
      }
    }
  }
  const s = Float32Array.from(gamma, (g, j) => (g !== 0 && columnMax[j]! > 0 ? Math.sqrt(Math.abs(g) / columnMax[j]!) : 1));
  const scaleColumns = (weight: Float32Array) => {
    const out = new Float32Array(weight.length);
    for (let r = 0; r < weight.length; r += D) for (let j = 0; j < D; j++) out[r + j] = weight[r + j]! * s[j]!;
    return out;
  };
  return { gamma: Float32Array.from(gamma, (g, j) => g / s[j]!), weights: weights.map(scaleColumns) };
}

/**
 * `source` with every decoder layer's two norm groups smoothed. A group is computed when one of its
 * tensors is first asked for, and each smoothed tensor is handed out once and then dropped, so at
 * most one layer's group is held beyond what the graph builder holds anyway.
 */
export function smoothedDecoderWeights(t: TextArch, source: WeightSource): WeightSource {
  const groupOf = new Map<string, NormGroup>();
  for (const group of normGroups(t)) {
    groupOf.set(group.norm, group);
    for (const { name } of group.linears) groupOf.set(name, group);
  }
  const D = t.hiddenSize;
  const pending = new Map<string, { data: Float32Array; shape: readonly number[] }>();
  return {
    has: (name) => source.has(name),
    float32: (name, shape) => {
      const group = groupOf.get(name);
      if (!group) return source.float32(name, shape);
      if (!pending.has(name)) {
        const smoothed = smoothGroup(
          source.float32(group.norm, [D]),
          group.linears.map(({ name: linear, outFeatures }) => source.float32(linear, [outFeatures, D])),
        );
        pending.set(group.norm, { data: smoothed.gamma, shape: [D] });
        group.linears.forEach(({ name: linear, outFeatures }, i) => pending.set(linear, { data: smoothed.weights[i]!, shape: [outFeatures, D] }));
      }
      const tensor = pending.get(name)!;
      pending.delete(name);
      if (tensor.shape.join(',') !== shape.join(',')) {
        throw new GraphError({ subject: `tensor ${name}`, expected: `shape [${shape.join(', ')}]`, found: `[${tensor.shape.join(', ')}]` });
      }
      return tensor.data;
    },
  };
}
