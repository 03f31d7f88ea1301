// Pairwise cosine distances between token vectors, as DivPrune's code computes them
// (`pairwise_cosine_similarity`): rows divided by their L2 norm (no epsilon), one MatMul against
// the transpose, 1 - similarity. Weightless; float32 like the authors' torch.mm.
// Legend: R rows, D width.
import { GraphBuilder } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';

/** vectors [R, D] -> distances [R, R]. */
export function buildCosineDistanceGraph(): GraphBuilder {
  const g = new GraphBuilder('cosine_distances');
  const op = new Ops(g);
  const vectors = g.input('vectors', 'float32', ['R', 'D']);
  const norms = g.node('ReduceL2', [vectors], { axes: [1], keepdims: 1 }); // [R, 1]
  const unit = op.div(vectors, norms);
  const similarity = op.matMul(unit, op.transpose(unit, [1, 0]));
  g.output(op.sub(g.constFloat(1), similarity), 'distances', 'float32', ['R', 'R']);
  return g;
}
