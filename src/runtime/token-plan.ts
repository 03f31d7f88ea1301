// One plan shape for every reduction, inside the vision tower and between decoder layers: the span
// of tokens after the plan, in order, each either a current token kept as it is or a token the
// method built as a weighted sum of current tokens (MustDrop's window means, VisionZip's
// target-plus-mean contextual tokens, SparseVLM's recycled cluster sums). Tokens named by no entry
// are dropped. This file alone turns plans into rows.
// Legend: T rows, W row width, N tokens in the span.
import { GraphError } from '../errors.js';

/** A token built from current tokens: sum over i of weights[i] x row(members[i]). */
export interface CreatedToken {
  readonly members: readonly number[];
  readonly weights: readonly number[];
}

/** A current token's index (kept as it is) or a built token. */
export type PlannedToken = number | CreatedToken;

/** The span after the plan, in order. Kept indices ascend among themselves; each current token is used at most once. */
export interface TokenPlan {
  readonly tokens: readonly PlannedToken[];
}

/** A token built as the plain mean of `members`. */
export function meanToken(members: readonly number[]): CreatedToken {
  return { members, weights: members.map(() => 1 / members.length) };
}

export function isCreated(token: PlannedToken): token is CreatedToken {
  return typeof token !== 'number';
}

/** Throws GraphError unless `plan` is a valid plan over a span of `count` tokens. */
export function checkTokenPlan(plan: TokenPlan, count: number, who: string): void {
  const used = new Uint8Array(count);
  let lastKept = -1;
  const fail = (expected: string, found: string): never => {
    throw new GraphError({ subject: `reduction plan of ${who}`, expected, found });
  };
  const use = (index: number, place: number) => {
    if (!Number.isInteger(index) || index < 0 || index >= count) fail(`token indices in [0, ${count})`, `${index} at place ${place}`);
    if (used[index]) fail('each current token used at most once', `${index} twice`);
    used[index] = 1;
  };
  plan.tokens.forEach((token, place) => {
    if (!isCreated(token)) {
      use(token, place);
      if (token <= lastKept) fail('kept tokens in ascending order', `${token} at place ${place} after ${lastKept}`);
      lastKept = token;
      return;
    }
    if (token.members.length === 0 || token.members.length !== token.weights.length) {
      fail('a built token with members and one weight each', `${token.members.length} members, ${token.weights.length} weights at place ${place}`);
    }
    for (const member of token.members) use(member, place);
  });
}

/**
 * rows [T, W] with the span [start, start + count) replaced by the plan's tokens: rows before and
 * after the span stay. Built tokens are summed in float64 in member order, then rounded once.
 */
export function applyTokenPlan(rows: Float32Array, width: number, start: number, count: number, plan: TokenPlan): Float32Array {
  const T = rows.length / width;
  if (start < 0 || start + count > T) throw new RangeError(`span [${start}, ${start + count}) beyond ${T} rows`);
  const out = new Float32Array((T - count + plan.tokens.length) * width);
  out.set(rows.subarray(0, start * width));
  const sum = new Float64Array(width);
  plan.tokens.forEach((token, i) => {
    const to = (start + i) * width;
    if (!isCreated(token)) {
      out.set(rows.subarray((start + token) * width, (start + token + 1) * width), to);
      return;
    }
    sum.fill(0);
    token.members.forEach((member, m) => {
      const w = token.weights[m]!;
      const from = (start + member) * width;
      for (let d = 0; d < width; d++) sum[d] = sum[d]! + w * rows[from + d]!;
    });
    out.set(sum, to);
  });
  out.set(rows.subarray((start + count) * width, T * width), (start + plan.tokens.length) * width);
  return out;
}
