// The token embedding table, kept in the dtype the checkpoint stores it in and decoded a row at a
// time: a prompt reads a few hundred of its rows and a decode step one, so converting all of a 7B's
// 32000 x 4096 F16 values to float32 at load (0.5 GB, over a second of JS) bought nothing.
import { decodeFloat32, DTYPE_BYTES } from '../checkpoint/dtype.js';
import { GraphError } from '../errors.js';
import type { StoredTensor, WeightSource } from '../models/weights.js';

export class EmbeddingTable {
  private constructor(
    private readonly table: StoredTensor | Float32Array,
    readonly vocabSize: number,
    readonly width: number,
  ) {}

  /** `name` [vocabSize, width] from `weights`, in its stored dtype where the source keeps one. */
  static read(weights: WeightSource, name: string, vocabSize: number, width: number): EmbeddingTable {
    const shape = [vocabSize, width];
    return new EmbeddingTable(weights.stored ? weights.stored(name, shape) : weights.float32(name, shape), vocabSize, width);
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.table instanceof Float32Array ? this.table.byteLength : this.table.bytes.byteLength;
  }

  /** Rows of `ids`: [ids.length, width]. */
  rows(ids: readonly number[]): Float32Array {
    const D = this.width;
    const out = new Float32Array(ids.length * D);
    ids.forEach((id, row) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new GraphError({ subject: 'token id', expected: `an integer in [0, ${this.vocabSize})`, found: String(id) });
      }
      if (this.table instanceof Float32Array) {
        out.set(this.table.subarray(id * D, (id + 1) * D), row * D);
      } else {
        const rowBytes = D * DTYPE_BYTES[this.table.dtype];
        out.set(decodeFloat32(this.table.dtype, this.table.bytes.subarray(id * rowBytes, (id + 1) * rowBytes)), row * D);
      }
    });
    return out;
  }
}
