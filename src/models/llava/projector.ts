// LLaVA's multimodal projector (HF LlavaMultiModalProjector): Linear, GELU, Linear, mapping CLIP
// features to the decoder's width.
// Legend: B images, P image tokens, Dv vision hidden, Dt decoder hidden.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';
import type { LlavaArch } from '../../config/llava.js';
import { gelu } from '../clip/vision.js';
import type { LinearEncoding } from '../../quant/format.js';
import { linear } from '../linear.js';
import { vectorWeight, type WeightSource } from '../weights.js';

export const PROJECTOR_PREFIX = 'multi_modal_projector';

/** features [B,P,Dv] -> image embeddings [B,P,Dt]. */
export function buildProjectorGraph(arch: LlavaArch, w: WeightSource, encoding: LinearEncoding): GraphBuilder {
  const g = new GraphBuilder('projector');
  const op = new Ops(g);
  const Dv = arch.vision.hiddenSize;
  const Dt = arch.text.hiddenSize;
  const project = (x: Value, module: string, outFeatures: number, inFeatures: number) => {
    const y = linear(g, op, w, `${PROJECTOR_PREFIX}.${module}.weight`, x, outFeatures, inFeatures, encoding);
    return arch.projectorBias ? op.add(y, vectorWeight(g, w, `${PROJECTOR_PREFIX}.${module}.bias`, outFeatures)) : y;
  };
  const features = g.input('features', 'float32', ['B', 'P', Dv]);
  const projected = project(gelu(op, g, project(features, 'linear_1', Dt, Dv)), 'linear_2', Dt, Dt);
  g.output(projected, 'embeddings', 'float32', ['B', 'P', Dt]);
  return g;
}
