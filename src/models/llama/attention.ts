// The decoder's attention as a weightless graph, fed by the runtime: new queries, keys and values,
// and (in the `withPast` variant) the layer's cached keys and values. Scores against the cache and
// against the new keys are computed separately and joined only as scores, so a decode step never
// copies the cache: its cost grows with the cache through the two attention MatMuls alone.
// Legend: T new tokens, C cache slots (length plus spare capacity, masked), S = C + T keys,
// H heads, Hk kv heads, G = H/Hk, Hd head dim.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';

export interface AttentionShape {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

export interface AttentionVariant {
  /** Whether cached keys/values precede the new ones (decode, or prefill after a cached prefix). */
  readonly withPast: boolean;
  /**
   * Also output `attentions` [H, R, S]: the probabilities of the query rows fed as `attention_rows`
   * (int64 [R]) over all S keys, past slots first. Off unless a reduction strategy asks.
   */
  readonly attentionRows: boolean;
}

/**
 * Inputs: query [Hk, G*T, Hd] (pre-scaled), key_t [Hk, Hd, T], value [Hk, T, Hd], mask [T, S]
 * (additive: 0 or -Infinity), and with past: past_key_t [Hk, Hd, C], past_value [Hk, C, Hd].
 * Output: context [T, H*Hd].
 */
export function buildAttentionGraph(shape: AttentionShape, variant: AttentionVariant): GraphBuilder {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const g = new GraphBuilder(`attention${variant.withPast ? '_past' : ''}${variant.attentionRows ? '_rows' : ''}`);
  const op = new Ops(g);
  const query = g.input('query', 'float32', [Hk, 'GT', Hd]);
  const keyT = g.input('key_t', 'float32', [Hk, Hd, 'T']);
  const value = g.input('value', 'float32', [Hk, 'T', Hd]);
  const mask = g.input('mask', 'float32', ['T', 'S']);
  const past = variant.withPast
    ? { keyT: g.input('past_key_t', 'float32', [Hk, Hd, 'C']), value: g.input('past_value', 'float32', [Hk, 'C', Hd]) }
    : null;
  const rows = variant.attentionRows ? g.input('attention_rows', 'int64', ['R']) : null;

  const newScores = op.matMul(query, keyT); // [Hk, G*T, T]
  const scores = past ? op.concat([op.matMul(query, past.keyT), newScores], -1) : newScores; // [Hk, G*T, S]
  const keyCount = op.shape(mask, 1, 2); // [1] = S
  // [Hk, G*T, S] -> [Hk, G, T, S] so the [T, S] mask broadcasts over heads.
  const grouped = op.reshapeTo(scores, op.concat([g.constInt64([Hk, G, -1]), keyCount], 0));
  const probs = op.softmax(op.add(grouped, mask), -1); // [Hk, G, T, S]
  if (rows) {
    const perHead = op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), keyCount], 0)); // [H, T, S]
    g.output(op.gather(perHead, rows, 1), 'attentions', 'float32', [H, 'R', 'S']);
  }
  const flat = op.reshapeTo(probs, op.concat([g.constInt64([Hk, -1]), keyCount], 0)); // [Hk, G*T, S]
  let context: Value;
  if (past) {
    const sizes = op.concat([op.shape(past.keyT, 2, 3), op.shape(keyT, 2, 3)], 0); // [C, T]
    const [pastProbs, newProbs] = g.nodeMulti('Split', [flat, sizes], 2, { axis: -1 }) as [Value, Value];
    context = op.add(op.matMul(pastProbs, past.value), op.matMul(newProbs, value)); // [Hk, G*T, Hd]
  } else {
    context = op.matMul(flat, value); // [Hk, G*T, Hd]
  }
  const perToken = op.transpose(op.reshape(context, [H, -1, Hd]), [1, 0, 2]); // [T, H, Hd]
  g.output(op.reshape(perToken, [-1, H * Hd]), 'context', 'float32', ['T', H * Hd]);
  return g;
}

/**
 * Attention probabilities of chosen query rows only, for ranking tokens without running a layer:
 * query_rows [Hk, G*R, Hd] (pre-scaled), key_t [Hk, Hd, S], mask [R, S] -> attentions [H, R, S].
 */
export function buildAttentionScoresGraph(shape: AttentionShape): GraphBuilder {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const g = new GraphBuilder('attention_scores');
  const op = new Ops(g);
  const queryRows = g.input('query_rows', 'float32', [Hk, 'GR', Hd]);
  const keyT = g.input('key_t', 'float32', [Hk, Hd, 'S']);
  const mask = g.input('mask', 'float32', ['R', 'S']);
  const maskShape = op.shape(mask); // [R, S]
  const grouped = op.reshapeTo(op.matMul(queryRows, keyT), op.concat([g.constInt64([Hk, G]), maskShape], 0)); // [Hk, G, R, S]
  const probs = op.softmax(op.add(grouped, mask), -1);
  g.output(op.reshapeTo(probs, op.concat([g.constInt64([H]), maskShape], 0)), 'attentions', 'float32', [H, 'R', 'S']);
  return g;
}
