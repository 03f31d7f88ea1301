// The decoder's attention as weightless graphs, fed by the runtime. A prefill (no cache yet) runs
// onnxruntime's GroupQueryAttention over blocks of query rows, the causal mask built in the graph;
// the attention rows strategies rank with come from a graph of their own. After cached tokens (decode)
// scores against the cache and against the new keys are joined only as scores, so a step never copies
// the cache: its cost grows with the cache through the two attention MatMuls alone.
// Legend: T new tokens, B rows in a query block, C cache slots (length plus spare capacity, masked),
// S = C + T keys, H heads, Hk kv heads, G = H/Hk, Hd head dim, R attention rows.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';

export interface AttentionShape {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/**
 * How a prefill computes its context. `gqa`: com.microsoft GroupQueryAttention, each head's scores,
 * causal softmax and weighted sum in one pass; `matmul`: MatMul, mask, Softmax and MatMul over all
 * heads at once (kept to measure against). Both take query rows in blocks (PREFILL_QUERY_BLOCK).
 */
export type PrefillKernel = 'gqa' | 'matmul';

/**
 * Query rows per prefill attention call. A block attends to the keys up to its last row only, so the
 * masked upper triangle is skipped block by block, and its scores ([H, 1024, <= T]) stay a fraction of
 * the [H, T, T] square: at 2968 tokens (7B heads, 2 threads) 934 ms a layer against 1936 for one
 * call, 1128 with blocks of 512; below 1024 tokens one call, as before.
 */
export const PREFILL_QUERY_BLOCK = 1024;

/** [start, end) of each query block of a T-token prefill, in order. */
export function queryBlocks(T: number, size = PREFILL_QUERY_BLOCK): [start: number, end: number][] {
  return Array.from({ length: Math.ceil(T / size) }, (_, i) => [i * size, Math.min(T, (i + 1) * size)]);
}

/**
 * A prefill's attention (no cache yet) for query rows [start, end) fed as `block` int64 [2], over
 * keys [0, end). Inputs: query [Hk, G*T, Hd] (pre-scaled), key_t [Hk, Hd, T], value [Hk, T, Hd], all
 * of the prompt. Output: context [end - start, H*Hd]. The causal mask is built in the graph.
 */
export function buildPrefillAttentionGraph(shape: AttentionShape, kernel: PrefillKernel = 'gqa'): GraphBuilder {
  const g = new GraphBuilder(`prefill_attention_${kernel}`);
  const op = new Ops(g);
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const query = g.input('query', 'float32', [Hk, 'GT', Hd]);
  const keyT = g.input('key_t', 'float32', [Hk, Hd, 'T']);
  const value = g.input('value', 'float32', [Hk, 'T', Hd]);
  const block = g.input('block', 'int64', [2]);
  const start = op.slice(block, 0, 1, 0); // [1]
  const end = op.slice(block, 1, 2, 0); // [1]
  const sliced = (x: Value, from: Value, to: Value, axis: number) => sliceAlong(g, x, from, to, axis);
  const zero = g.constInt64([0]);
  const queryRows = sliced(op.reshape(query, [H, -1, Hd]), start, end, 1); // [H, B, Hd]
  const context =
    kernel === 'gqa'
      ? groupQueryAttention(g, op, shape, queryRows, { keyT, value, start, end })
      : maskedSoftmax(g, op, shape, queryRows, sliced(keyT, zero, end, 2), sliced(value, zero, end, 1), { start, end });
  g.output(op.reshape(context, [-1, H * Hd]), 'context', 'float32', ['B', H * Hd]);
  return g;
}

/** x[..., from:to] along `axis`, the bounds computed in the graph (int64 [1]). */
function sliceAlong(g: GraphBuilder, x: Value, from: Value, to: Value, axis: number): Value {
  return g.node('Slice', [x, from, to, g.constInt64([axis])]);
}

/**
 * GroupQueryAttention over [1, B, heads * Hd] rows, scale 1 (the query is pre-scaled): the block's own
 * keys as new, keys [0, start) as its past (BNSH), so it masks causally from position `start` on.
 * Query head h = kv * G + j reads kv head floor(h / G), as GroupQueryAttention pairs them.
 */
function groupQueryAttention(
  g: GraphBuilder,
  op: Ops,
  shape: AttentionShape,
  queryRows: Value,
  keys: { keyT: Value; value: Value; start: Value; end: Value },
): Value {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const { keyT, value, start, end } = keys;
  const sliced = (x: Value, from: Value, to: Value, axis: number) => sliceAlong(g, x, from, to, axis);
  const zero = g.constInt64([0]);
  const q = op.reshape(op.transpose(queryRows, [1, 0, 2]), [1, -1, H * Hd]);
  const k = op.reshape(op.transpose(sliced(keyT, start, end, 2), [2, 0, 1]), [1, -1, Hk * Hd]);
  const v = op.reshape(op.transpose(sliced(value, start, end, 1), [1, 0, 2]), [1, -1, Hk * Hd]);
  const pastKey = op.unsqueeze(op.transpose(sliced(keyT, zero, start, 2), [0, 2, 1]), [0]); // [1, Hk, start, Hd]
  const pastValue = op.unsqueeze(sliced(value, zero, start, 1), [0]);
  const int32 = (x: Value) => g.node('Cast', [x], { to: 6 });
  const seqlensK = int32(op.sub(end, g.constInt64([1]))); // [1]: total length - 1
  const totalLength = int32(g.node('Squeeze', [end, zero])); // scalar
  const [context] = g.nodeMulti(
    'GroupQueryAttention',
    [q, k, v, pastKey, pastValue, seqlensK, totalLength],
    3, // output, present key, present value (required with past)
    { num_heads: H, kv_num_heads: Hk, scale: { float: 1 } },
    undefined,
    'com.microsoft',
  );
  return context!; // [1, B, H*Hd]
}

/** Scores [Hk, G, B, end] of the block's rows, causally masked, softmax, weighted sum; -> [B, H, Hd]. */
function maskedSoftmax(
  g: GraphBuilder,
  op: Ops,
  shape: AttentionShape,
  queryRows: Value,
  keyT: Value,
  value: Value,
  block: { start: Value; end: Value },
): Value {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const rows = g.node('Range', [g.node('Squeeze', [block.start, g.constInt64([0])]), g.node('Squeeze', [block.end, g.constInt64([0])]), g.constInt64(1)]);
  const scores = op.matMul(op.reshape(queryRows, [Hk, H / Hk, -1, Hd]), op.unsqueeze(keyT, [1])); // [Hk, G, B, end]
  const probs = op.softmax(op.add(scores, causalRows(op, rows, block.end)), -1);
  const context = op.matMul(probs, op.unsqueeze(value, [1])); // [Hk, G, B, Hd]
  return op.transpose(op.reshape(context, [H, -1, Hd]), [1, 0, 2]);
}

/** Additive causal mask [R, S] for query rows `rows` (int64 [R], positions among the keys) over `keyCount` ([1]) keys. */
function causalRows(op: Ops, rows: Value, keyCount: Value): Value {
  const g = op.g;
  const keys = g.node('Range', [g.constInt64(0), g.node('Squeeze', [keyCount, g.constInt64([0])]), g.constInt64(1)]); // [S]
  const future = g.node('Greater', [keys, op.unsqueeze(rows, [1])]); // [R, S]
  return g.node('Where', [future, g.constFloat(-Infinity), g.constFloat(0)]);
}

/**
 * A prefill's attention probabilities [H, R, T] for query rows `attention_rows` (int64 [R]) over all
 * T keys, causally: what FastV and MustDrop rank with, computed for the asked rows alone.
 * Inputs: query [Hk, G*T, Hd] (pre-scaled), key_t [Hk, Hd, T], attention_rows.
 */
export function buildPrefillAttentionRowsGraph(shape: AttentionShape): GraphBuilder {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const g = new GraphBuilder('prefill_attention_rows');
  const op = new Ops(g);
  const query = g.input('query', 'float32', [Hk, 'GT', Hd]);
  const keyT = g.input('key_t', 'float32', [Hk, Hd, 'T']);
  const rows = g.input('attention_rows', 'int64', ['R']);
  const keyCount = op.shape(keyT, 2, 3); // [1] = T
  const queryRows = op.gather(op.reshape(query, [Hk, H / Hk, -1, Hd]), rows, 2); // [Hk, G, R, Hd]
  const scores = op.matMul(queryRows, op.unsqueeze(keyT, [1])); // [Hk, G, R, T]
  const probs = op.softmax(op.add(scores, causalRows(op, rows, keyCount)), -1);
  g.output(op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), keyCount], 0)), 'attentions', 'float32', [H, 'R', 'T']);
  return g;
}

/**
 * Attention of new tokens after cached ones (decode steps): inputs query [Hk, G*T, Hd] (pre-scaled),
 * key_t [Hk, Hd, T], value [Hk, T, Hd], mask [T, S] (additive: 0 or -Infinity), past_key_t
 * [Hk, Hd, C], past_value [Hk, C, Hd]. Output: context [T, H*Hd]; with `attentionRows` also
 * `attentions` [H, R, S], the probabilities of the query rows fed as `attention_rows` (int64 [R]) over
 * all S keys, past slots first.
 */
export function buildCachedAttentionGraph(shape: AttentionShape, attentionRows: boolean): GraphBuilder {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const G = H / Hk;
  const g = new GraphBuilder(`attention_past${attentionRows ? '_rows' : ''}`);
  const op = new Ops(g);
  const query = g.input('query', 'float32', [Hk, 'GT', Hd]);
  const keyT = g.input('key_t', 'float32', [Hk, Hd, 'T']);
  const value = g.input('value', 'float32', [Hk, 'T', Hd]);
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
  const context = op.add(op.matMul(pastProbs, past.value), op.matMul(newProbs, value)); // [Hk, G*T, Hd]
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
