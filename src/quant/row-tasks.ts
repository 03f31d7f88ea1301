// The row-wise jobs of a load (quantising a Linear, or finding its columns' largest magnitudes for
// smoothing) on a range of output channels, and how the results of two ranges join: a helper
// thread does the upper rows of a weight into an output of its own, joined into the caller's.
import { allocateInt4, quantizeInt4Channels, type Int4Linear } from './int4.js';
import { allocateInt8, quantizeInt8Channels, type Int8Linear } from './int8.js';
import { allocateInt8Blocks, quantizeInt8BlockChannels, type Int8BlockLinear } from './int8-blocks.js';
import { columnAbsMax, type WeightRows } from './weight-rows.js';

export type RowTask =
  | { readonly kind: 'int8' }
  | { readonly kind: 'int4'; readonly blockSize: number }
  | { readonly kind: 'int8-blocks'; readonly blockSize: number }
  /** max |w| of each input column, [cols]. */
  | { readonly kind: 'column-abs-max' };

export type RowTaskOutput = Int8Linear | Int4Linear | Int8BlockLinear | Float32Array;

/** A fresh output for `task` on a [rows, cols] weight. */
export function allocateOutput(task: RowTask, rows: number, cols: number): RowTaskOutput {
  switch (task.kind) {
    case 'int8':
      return allocateInt8(rows, cols);
    case 'int4':
      return allocateInt4(rows, cols, task.blockSize);
    case 'int8-blocks':
      return allocateInt8Blocks(rows, cols, task.blockSize);
    case 'column-abs-max':
      return new Float32Array(cols);
  }
}

/** Runs `task` on output channels [start, end) of `weight` into `output`. */
export function runRows(task: RowTask, weight: WeightRows, output: RowTaskOutput, start: number, end: number): void {
  switch (task.kind) {
    case 'int8':
      return quantizeInt8Channels(weight, output as Int8Linear, start, end);
    case 'int4':
      return quantizeInt4Channels(weight, output as Int4Linear, start, end);
    case 'int8-blocks':
      return quantizeInt8BlockChannels(weight, output as Int8BlockLinear, start, end);
    case 'column-abs-max':
      return columnAbsMax(weight, output as Float32Array, start, end);
  }
}

/** Joins `part`, the result for rows [split, rows) computed on its own, into `output` (rows x cols). */
export function joinOutput(task: RowTask, output: RowTaskOutput, part: RowTaskOutput, split: number, rows: number, cols: number): void {
  switch (task.kind) {
    case 'int8': {
      // [in, out] layout: the part's channels are a column range of every input feature's run.
      const whole = output as Int8Linear;
      const upper = part as Int8Linear;
      const width = rows - split;
      for (let i = 0; i < cols; i++) whole.codes.set(upper.codes.subarray(i * width, (i + 1) * width), i * rows + split);
      whole.scales.set(upper.scales, split);
      return;
    }
    case 'int4': {
      const whole = output as Int4Linear;
      const upper = part as Int4Linear;
      whole.packed.set(upper.packed, split * whole.kBlocks * (whole.blockSize / 2));
      whole.scales.set(upper.scales, split * whole.kBlocks);
      return;
    }
    case 'int8-blocks': {
      const whole = output as Int8BlockLinear;
      const upper = part as Int8BlockLinear;
      whole.codes.set(upper.codes, split * whole.kBlocks * whole.blockSize);
      whole.scales.set(upper.scales, split * whole.kBlocks);
      return;
    }
    case 'column-abs-max': {
      const whole = output as Float32Array;
      const upper = part as Float32Array;
      for (let j = 0; j < cols; j++) if (upper[j]! > whole[j]!) whole[j] = upper[j]!;
      return;
    }
  }
}

/** The buffers of an output, to transfer it between threads without a copy. */
export function outputBuffers(output: RowTaskOutput): ArrayBuffer[] {
  const arrays = output instanceof Float32Array ? [output] : 'codes' in output ? [output.codes, output.scales] : [output.packed, output.scales];
  return arrays.map((array) => array.buffer as ArrayBuffer);
}
