// The projector's training graph (weights as inputs): Linear, exact GELU, Linear, as projector.ts.
// Legend: B images, P image tokens, Dv vision hidden, Dt decoder hidden.
import type { LlavaArch } from '../../config/llava.js';
import type { GraphBuilder } from '../../onnx/builder.js';
import type { Ops } from '../../onnx/ops.js';
import { gelu } from '../clip/vision.js';
import { linearInput, type TrainingBody } from '../training-graph.js';

/** Weight suffixes under `multi_modal_projector.` (biases only when the config has them). */
export function projectorWeightNames(arch: LlavaArch): string[] {
  return arch.projectorBias ? ['linear_1.weight', 'linear_1.bias', 'linear_2.weight', 'linear_2.bias'] : ['linear_1.weight', 'linear_2.weight'];
}

/** features [B,P,Dv] -> embeddings [B,P,Dt]. */
export function projectorBody(arch: LlavaArch): (g: GraphBuilder, op: Ops) => TrainingBody {
  return (g, op) => {
    const Dv = arch.vision.hiddenSize;
    const Dt = arch.text.hiddenSize;
    const features = g.input('features', 'float32', ['B', 'P', Dv]);
    const w1 = g.input('linear_1.weight', 'float32', [Dt, Dv]);
    const b1 = arch.projectorBias ? g.input('linear_1.bias', 'float32', [Dt]) : undefined;
    const w2 = g.input('linear_2.weight', 'float32', [Dt, Dt]);
    const b2 = arch.projectorBias ? g.input('linear_2.bias', 'float32', [Dt]) : undefined;
    const out = linearInput(g, op, gelu(op, g, linearInput(g, op, features, w1, b1)), w2, b2);
    const weights = [w1, ...(b1 ? [b1] : []), w2, ...(b2 ? [b2] : [])];
    return { activations: [features], weights, outputs: [{ name: 'embeddings', value: out, shape: ['B', 'P', Dt] }] };
  };
}
