// Applies a vision-stage merge plan inside the CLIP tower: the class token stays first, then each
// group of patch tokens becomes one token, the plain mean of its members, in the plan's order.
// Legend: S tokens (class + patches), P patch tokens, Dv hidden.
import { GraphError } from '../errors.js';

/** Groups of current patch tokens (0-based, class token excluded), each becoming one token in this order. */
export interface VisionMergePlan {
  readonly groups: readonly (readonly number[])[];
}

/** hidden [S, Dv] (one image, class token first) -> [1 + groups, Dv]. */
export function mergeVisionTokens(hidden: Float32Array, hiddenSize: number, plan: VisionMergePlan): Float32Array {
  const patches = hidden.length / hiddenSize - 1;
  const seen = new Uint8Array(patches);
  for (const group of plan.groups) {
    for (const index of group) {
      if (!Number.isInteger(index) || index < 0 || index >= patches || seen[index]) {
        throw new GraphError({
          subject: 'vision merge plan',
          expected: `every patch token of [0, ${patches}) in exactly one group`,
          found: `${index} ${seen[index] ? 'twice' : 'out of range'}`,
        });
      }
      seen[index] = 1;
    }
  }
  if (seen.includes(0)) {
    throw new GraphError({ subject: 'vision merge plan', expected: `all ${patches} patch tokens grouped`, found: `patch ${seen.indexOf(0)} left out` });
  }
  const out = new Float32Array((1 + plan.groups.length) * hiddenSize);
  out.set(hidden.subarray(0, hiddenSize));
  plan.groups.forEach((group, g) => {
    const row = out.subarray((1 + g) * hiddenSize, (2 + g) * hiddenSize);
    for (const index of group) {
      const from = (1 + index) * hiddenSize;
      for (let d = 0; d < hiddenSize; d++) row[d] = row[d]! + hidden[from + d]!;
    }
    for (let d = 0; d < hiddenSize; d++) row[d] = row[d]! / group.length;
  });
  return out;
}
