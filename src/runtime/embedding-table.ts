// The token embedding table, read a row at a time: a prompt reads a few hundred of its rows and a
// decode step one. From a checkpoint on disk each row is read from the file when asked for (8 KB
// of a 7B's 262 MB F16 table; reading all of it at load took ~0.5 s of a cached load and held the
// bytes for good); from other sources (random weights), their float32 table.
import { GraphError } from '../errors.js';
import type { WeightSource } from '../models/weights.js';
import { fileRows, float32Rows, type WeightRows } from '../quant/weight-rows.js';

export class EmbeddingTable {
  private constructor(
    private readonly table: WeightRows,
    /** Bytes held in memory (0 when rows are read from the file). */
    readonly byteLength: number,
  ) {}

  /** `name` [vocabSize, width] from `weights`: from its file where it has one, else as float32. */
  static read(weights: WeightSource, name: string, vocabSize: number, width: number): EmbeddingTable {
    const shape = [vocabSize, width];
    if (weights.location) return new EmbeddingTable(fileRows(weights.location(name, shape), vocabSize, width, 1), 0);
    const values = weights.float32(name, shape);
    return new EmbeddingTable(float32Rows(values, vocabSize, width), values.byteLength);
  }

  get vocabSize(): number {
    return this.table.rows;
  }

  get width(): number {
    return this.table.cols;
  }

  /** Rows of `ids`: [ids.length, width]. */
  rows(ids: readonly number[]): Float32Array {
    const D = this.width;
    const out = new Float32Array(ids.length * D);
    ids.forEach((id, row) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new GraphError({ subject: 'token id', expected: `an integer in [0, ${this.vocabSize})`, found: String(id) });
      }
      this.table.read(id, out.subarray(row * D, (row + 1) * D));
    });
    return out;
  }
}
