// The decoder's attention as a weightless graph, fed by the runtime: new queries, keys and values,
// and (in the `withPast` variant) the layer's cached keys and values. Scores against the cache and
// against the new keys are computed separately and joined only as scores, so a decode step never
// copies the cache: its cost grows with the cache through the two attention MatMuls alone. Without
// past (every prefill) the causal mask is built in the graph, and onnxruntime's GroupQueryAttention
// kernel computes the context by default (README, "Attention kernels": 2x the MatMul path at 2900 tokens).
// Legend: T new tokens, C cache slots (length plus spare capacity, masked), S = C + T keys,
// H heads, Hk kv heads, G = H/Hk, Hd head dim, R attention rows.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';

export interface AttentionShape {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/**
 * How a prefill without past computes its context. `gqa`: com.microsoft GroupQueryAttention, causal
 * built in, each head's scores, softmax and weighted sum in one pass over [T, T]; `matmul`: MatMul,
 * mask, Softmax and MatMul over all heads' [H, T, T] at once (kept to measure against, and the only
 * kernel with past).
 */
export type PrefillKernel = 'gqa' | 'matmul';

export interface AttentionVariant {
  /** Whether cached keys/values precede the new ones (decode, or prefill after a cached prefix). */
  readonly withPast: boolean;
  /**
   * Also output `attentions` [H, R, S]: the probabilities of the query rows fed as `attention_rows`
   * (int64 [R]) over all S keys, past slots first. Off unless a reduction strategy asks.
   */
  readonly attentionRows: boolean;
  /** Without past only; default `gqa`. */
  readonly kernel?: PrefillKernel;
}

/**
 * Inputs: query [Hk, G*T, Hd] (pre-scaled), key_t [Hk, Hd, T], value [Hk, T, Hd]; with past also
 * mask [T, S] (additive: 0 or -Infinity), past_key_t [Hk, Hd, C], past_value [Hk, C, Hd].
 * Output: context [T, H*Hd].
 */
export function buildAttentionGraph(shape: AttentionShape, variant: AttentionVariant): GraphBuilder {
  const kernel = variant.withPast ? 'matmul' : (variant.kernel ?? 'gqa');
  const name = `attention${variant.withPast ? '_past' : kernel === 'gqa' ? '_gqa' : ''}${variant.attentionRows ? '_rows' : ''}`;
  const g = new GraphBuilder(name);
  const query = g.input('query', 'float32', [shape.numKvHeads, 'GT', shape.headDim]);
  const keyT = g.input('key_t', 'float32', [shape.numKvHeads, shape.headDim, 'T']);
  const value = g.input('value', 'float32', [shape.numKvHeads, 'T', shape.headDim]);
  const io = { g, shape, query, keyT, value };
  if (variant.withPast) matMulWithPast(io, variant.attentionRows);
  else if (kernel === 'gqa') groupQueryAttention(io, variant.attentionRows);
  else matMulPrefill(io, variant.attentionRows);
  return g;
}

interface AttentionIo {
  readonly g: GraphBuilder;
  readonly shape: AttentionShape;
  readonly query: Value;
  readonly keyT: Value;
  readonly value: Value;
}

/** [T, H, Hd]-ordered rows [Hk, G*T, Hd] or [H, T, Hd] back to the layer's context [T, H*Hd]. */
function outputContext({ g, shape }: AttentionIo, op: Ops, context: Value): void {
  const { numHeads: H, headDim: Hd } = shape;
  const perToken = op.transpose(op.reshape(context, [H, -1, Hd]), [1, 0, 2]); // [T, H, Hd]
  g.output(op.reshape(perToken, [-1, H * Hd]), 'context', 'float32', ['T', H * Hd]);
}

/** Additive causal mask [R, T] for query rows `rows` (int64 [R]) of a prefill without past. */
function causalRows(op: Ops, rows: Value, keyCount: Value): Value {
  const g = op.g;
  const keys = g.node('Range', [g.constInt64(0), g.node('Squeeze', [keyCount, g.constInt64([0])]), g.constInt64(1)]); // [T]
  const future = g.node('Greater', [keys, op.unsqueeze(rows, [1])]); // [R, T]
  return g.node('Where', [future, g.constFloat(-Infinity), g.constFloat(0)]);
}

/**
 * Probabilities [H, R, T] of query rows `rows` over the T new keys, causally: the rows' scores alone,
 * so asking for a few rows costs a few rows.
 */
function probabilitiesOfRows({ g, shape, query, keyT }: AttentionIo, op: Ops, rows: Value): Value {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const keyCount = op.shape(keyT, 2, 3); // [1] = T
  const queryRows = op.gather(op.reshape(query, [Hk, G, -1, Hd]), rows, 2); // [Hk, G, R, Hd]
  const scores = op.matMul(queryRows, op.unsqueeze(keyT, [1])); // [Hk, G, R, T]
  const probs = op.softmax(op.add(scores, causalRows(op, rows, keyCount)), -1);
  return op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), keyCount], 0)); // [H, R, T]
}

/** The default prefill: GroupQueryAttention over [1, T, heads * Hd] rows, scale 1 (query pre-scaled). */
function groupQueryAttention(io: AttentionIo, attentionRows: boolean): void {
  const { g, shape, query, keyT, value } = io;
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const op = new Ops(g);
  // Query head h = kv * G + j reads kv head floor(h / G), as GroupQueryAttention pairs them.
  const q = op.reshape(op.transpose(op.reshape(query, [H, -1, Hd]), [1, 0, 2]), [1, -1, H * Hd]);
  const k = op.reshape(op.transpose(keyT, [2, 0, 1]), [1, -1, Hk * Hd]);
  const v = op.reshape(op.transpose(value, [1, 0, 2]), [1, -1, Hk * Hd]);
  const keyCount = op.shape(keyT, 2, 3); // [1] = T
  const int32 = (x: Value) => g.node('Cast', [x], { to: 6 });
  const seqlensK = int32(op.sub(keyCount, g.constInt64([1]))); // [1]: total length - 1
  const totalLength = int32(g.node('Squeeze', [keyCount, g.constInt64([0])])); // scalar
  const [context] = g.nodeMulti(
    'GroupQueryAttention',
    [q, k, v, null, null, seqlensK, totalLength],
    1,
    { num_heads: H, kv_num_heads: Hk, scale: { float: 1 } },
    undefined,
    'com.microsoft',
  ); // [1, T, H*Hd]
  g.output(op.reshape(context!, [-1, H * Hd]), 'context', 'float32', ['T', H * Hd]);
  if (attentionRows) {
    const rows = g.input('attention_rows', 'int64', ['R']);
    g.output(probabilitiesOfRows(io, op, rows), 'attentions', 'float32', [H, 'R', 'T']);
  }
}

/** The MatMul path without past: scores [Hk, G, T, T] for every head at once, masked in the graph. */
function matMulPrefill(io: AttentionIo, attentionRows: boolean): void {
  const { g, shape, query, keyT, value } = io;
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const op = new Ops(g);
  const keyCount = op.shape(keyT, 2, 3); // [1] = T
  const everyRow = g.node('Range', [g.constInt64(0), g.node('Squeeze', [keyCount, g.constInt64([0])]), g.constInt64(1)]);
  const scores = op.matMul(op.reshape(query, [Hk, G, -1, Hd]), op.unsqueeze(keyT, [1])); // [Hk, G, T, T]
  const probs = op.softmax(op.add(scores, causalRows(op, everyRow, keyCount)), -1);
  if (attentionRows) {
    const rows = g.input('attention_rows', 'int64', ['R']);
    const perHead = op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), keyCount], 0)); // [H, T, T]
    g.output(op.gather(perHead, rows, 1), 'attentions', 'float32', [H, 'R', 'T']);
  }
  outputContext(io, op, op.matMul(probs, op.unsqueeze(value, [1]))); // [Hk, G, T, Hd]
}

/** Cached keys first: scores against the cache and the new keys joined, masked by the fed mask. */
function matMulWithPast(io: AttentionIo, attentionRows: boolean): void {
  const { g, shape, query, keyT, value } = io;
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const op = new Ops(g);
  const mask = g.input('mask', 'float32', ['T', 'S']);
  const past = { keyT: g.input('past_key_t', 'float32', [Hk, Hd, 'C']), value: g.input('past_value', 'float32', [Hk, 'C', Hd]) };
  const rows = attentionRows ? g.input('attention_rows', 'int64', ['R']) : null;

  const scores = op.concat([op.matMul(query, past.keyT), op.matMul(query, keyT)], -1); // [Hk, G*T, S]
  const keyCount = op.shape(mask, 1, 2); // [1] = S
  // [Hk, G*T, S] -> [Hk, G, T, S] so the [T, S] mask broadcasts over heads.
  const grouped = op.reshapeTo(scores, op.concat([g.constInt64([Hk, G, -1]), keyCount], 0));
  const probs = op.softmax(op.add(grouped, mask), -1); // [Hk, G, T, S]
  if (rows) {
    const perHead = op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), keyCount], 0)); // [H, T, S]
    g.output(op.gather(perHead, rows, 1), 'attentions', 'float32', [H, 'R', 'S']);
  }
  const flat = op.reshapeTo(probs, op.concat([g.constInt64([Hk, -1]), keyCount], 0)); // [Hk, G*T, S]
  const sizes = op.concat([op.shape(past.keyT, 2, 3), op.shape(keyT, 2, 3)], 0); // [C, T]
  const [pastProbs, newProbs] = g.nodeMulti('Split', [flat, sizes], 2, { axis: -1 }) as [Value, Value];
  outputContext(io, op, op.add(op.matMul(pastProbs, past.value), op.matMul(newProbs, value))); // [Hk, G*T, Hd]
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
