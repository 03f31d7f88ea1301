// How the reference reads llava-hf tensors: a name → Float32Array lookup (PyTorch layout,
// Linear weights [out, in] row-major), checked against the element count the config implies.
import { CheckpointError } from '../../errors.js';

export type WeightLookup = (name: string) => Float32Array;

/** Looks up `name` and checks it holds exactly the product of `shape` values. */
export function tensor(w: WeightLookup, name: string, shape: readonly number[]): Float32Array {
  const data = w(name);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new CheckpointError({
      subject: `tensor ${name}`,
      expected: `[${shape.join(', ')}] = ${expected} values`,
      found: `${data.length} values`,
    });
  }
  return data;
}
