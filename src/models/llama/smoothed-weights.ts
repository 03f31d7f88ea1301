// The decoder's weights with outlier smoothing applied (quant/smooth.ts), for int8 activations:
// every layer's two norm groups (input norm -> q/k/v, post-attention norm -> gate/up).
import type { TextArch } from '../../config/llava.js';
import { GraphError } from '../../errors.js';
import { smoothGroup } from '../../quant/smooth.js';
import { readAllRows, type WeightRows } from '../../quant/weight-rows.js';
import { weightRows, type WeightSource } from '../weights.js';
import { DECODER_PREFIX } from './decoder.js';

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

/**
 * `source` with every decoder layer's two norm groups smoothed. A group is computed when one of its
 * tensors is first asked for; each smoothed tensor is handed out once and then dropped, so at most
 * one group's stored weights are held beyond what the graph builder holds anyway. Linears come out
 * as rows (decoded and scaled as they are quantised), norms as float32.
 */
export function smoothedDecoderWeights(t: TextArch, source: WeightSource): WeightSource {
  const groupOf = new Map<string, NormGroup>();
  for (const group of normGroups(t)) {
    groupOf.set(group.norm, group);
    for (const { name } of group.linears) groupOf.set(name, group);
  }
  const D = t.hiddenSize;
  const pending = new Map<string, Float32Array | WeightRows>();
  /** The smoothed tensor `name` of `group`, computing the group on first use. */
  const take = (group: NormGroup, name: string): Float32Array | WeightRows => {
    if (!pending.has(name)) {
      const smoothed = smoothGroup(
        source.float32(group.norm, [D]),
        group.linears.map(({ name: linear, outFeatures }) => weightRows(source, linear, outFeatures, D)),
      );
      pending.set(group.norm, smoothed.gamma);
      group.linears.forEach(({ name: linear }, i) => pending.set(linear, smoothed.weights[i]!));
    }
    const tensor = pending.get(name)!;
    pending.delete(name);
    return tensor;
  };
  const mismatch = (name: string, expected: readonly number[], found: readonly number[]) =>
    new GraphError({ subject: `tensor ${name}`, expected: `shape [${expected.join(', ')}]`, found: `[${found.join(', ')}]` });
  return {
    has: (name) => source.has(name),
    float32: (name, shape) => {
      const group = groupOf.get(name);
      if (!group) return source.float32(name, shape);
      const tensor = take(group, name);
      if (tensor instanceof Float32Array) {
        if (shape.length !== 1 || shape[0] !== tensor.length) throw mismatch(name, shape, [tensor.length]);
        return tensor;
      }
      if (shape.length !== 2 || shape[0] !== tensor.rows || shape[1] !== tensor.cols) throw mismatch(name, shape, [tensor.rows, tensor.cols]);
      return readAllRows(tensor);
    },
    linearRows: (name, outFeatures, inFeatures) => {
      const group = groupOf.get(name);
      if (!group || group.norm === name) return weightRows(source, name, outFeatures, inFeatures);
      const rows = take(group, name) as WeightRows;
      if (rows.rows !== outFeatures || rows.cols !== inFeatures) throw mismatch(name, [outFeatures, inFeatures], [rows.rows, rows.cols]);
      return rows;
    },
  };
}
