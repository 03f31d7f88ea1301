// LLaVA's multimodal projector (HF LlavaMultiModalProjector): Linear, GELU, Linear, mapping CLIP
// features to the decoder's width.
// Legend: B images, P image tokens, Dv vision hidden, Dt decoder hidden.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';
import type { LlavaArch } from '../../config/llava.js';
import { gelu } from '../clip/vision.js';
import { linearWeight, vectorWeight, type WeightSource } from '../weights.js';

export const PROJECTOR_PREFIX = 'multi_modal_projector';

/** features [B,P,Dv] -> image embeddings [B,P,Dt]. */
export function buildProjectorGraph(arch: LlavaArch, w: WeightSource): GraphBuilder {
  const g = new GraphBuilder('projector');
  const op = new Ops(g);
  const Dv = arch.vision.hiddenSize;
  const Dt = arch.text.hiddenSize;
  const linear = (x: Value, module: string, outFeatures: number, inFeatures: number) => {
    const y = op.matMul(x, linearWeight(g, w, `${PROJECTOR_PREFIX}.${module}.weight`, outFeatures, inFeatures));
    return arch.projectorBias ? op.add(y, vectorWeight(g, w, `${PROJECTOR_PREFIX}.${module}.bias`, outFeatures)) : y;
  };
  const features = g.input('features', 'float32', ['B', 'P', Dv]);
  const projected = linear(gelu(op, g, linear(features, 'linear_1', Dt, Dv)), 'linear_2', Dt, Dt);
  g.output(projected, 'embeddings', 'float32', ['B', 'P', Dt]);
  return g;
}
