// A Linear weight [out, in] (PyTorch's layout) read one output row at a time as float32, so that
// quantising it never holds the whole tensor in float32: rows come from float32 values, or are
// decoded from the checkpoint's stored bytes (F16 through a lookup table), optionally times a
// factor per input column (outlier smoothing). A 7B's decoder is 6.5 G weights: converting them
// row by row from F16 reads 2 bytes a weight where a float32 copy wrote and read 4 more.
import { DTYPE_BYTES, LITTLE_ENDIAN_HOST, decodeFloat32, float16Table, type FloatDtype } from '../checkpoint/dtype.js';

export interface WeightRows {
  /** Output features: the number of rows. */
  readonly rows: number;
  /** Input features: the length of a row. */
  readonly cols: number;
  /** Writes row `row`'s `cols` values into `into` (at least `cols` long). */
  read(row: number, into: Float32Array): void;
}

/** Writes row `row` into `into`, times `scale[j]` per column when a scale is given. */
type RowDecoder = (row: number, into: Float32Array, scale: Float32Array | null) => void;

/** What another thread needs to read the same rows: the bytes they decode from, and the column scale. */
export interface RowsOrigin {
  readonly dtype: FloatDtype;
  readonly bytes: Uint8Array;
  readonly rows: number;
  readonly cols: number;
  readonly scale: Float32Array | null;
}

/** Rows made by a decoder, with an optional column scale it applies as it decodes. */
class DecodedRows implements WeightRows {
  constructor(
    readonly origin: RowsOrigin,
    private readonly decode: RowDecoder,
  ) {}

  get rows(): number {
    return this.origin.rows;
  }

  get cols(): number {
    return this.origin.cols;
  }

  read(row: number, into: Float32Array): void {
    this.decode(row, into, this.origin.scale);
  }

  withScale(scale: Float32Array): DecodedRows {
    return new DecodedRows({ ...this.origin, scale }, this.decode);
  }
}

/** Where `weight`'s rows come from (so another thread can decode a copy of them), or null for rows made elsewhere. */
export function rowsOrigin(weight: WeightRows): RowsOrigin | null {
  return weight instanceof DecodedRows ? weight.origin : null;
}

/** Rows [start, end) of `origin`, their bytes copied into a buffer of their own (to hand to another thread). */
export function originSlice(origin: RowsOrigin, start: number, end: number): RowsOrigin {
  const rowBytes = origin.cols * DTYPE_BYTES[origin.dtype];
  return { ...origin, bytes: origin.bytes.slice(start * rowBytes, end * rowBytes), rows: end - start };
}

/** The rows `origin` describes. */
export function rowsFromOrigin(origin: RowsOrigin): WeightRows {
  const rows = storedRows(origin.dtype, origin.bytes, origin.rows, origin.cols);
  return origin.scale ? columnScaled(rows, origin.scale) : rows;
}

/** Rows of a float32 weight [rows, cols]. */
export function float32Rows(data: Float32Array, rows: number, cols: number): WeightRows {
  checkLength(data.length, rows, cols, 'float32 values');
  const origin = { dtype: 'F32', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), rows, cols, scale: null } as const;
  return new DecodedRows(origin, (row, into, scale) => {
    into.set(data.subarray(row * cols, (row + 1) * cols));
    if (scale) for (let j = 0; j < cols; j++) into[j] = into[j]! * scale[j]!;
  });
}

/** Rows decoded from a tensor's little-endian bytes in its stored float dtype. */
export function storedRows(dtype: FloatDtype, bytes: Uint8Array, rows: number, cols: number): WeightRows {
  const size = DTYPE_BYTES[dtype];
  checkLength(bytes.byteLength / size, rows, cols, `${dtype} values`);
  const origin: RowsOrigin = { dtype, bytes, rows, cols, scale: null };
  const aligned = LITTLE_ENDIAN_HOST && bytes.byteOffset % size === 0;
  if (aligned && dtype === 'F16') {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols);
    const table = float16Table();
    return new DecodedRows(origin, (row, into, scale) => {
      const start = row * cols;
      if (scale) for (let j = 0; j < cols; j++) into[j] = table[halves[start + j]!]! * scale[j]!;
      else for (let j = 0; j < cols; j++) into[j] = table[halves[start + j]!]!;
    });
  }
  if (aligned && dtype === 'BF16') {
    // A bfloat16 is the upper half of a float32's bit pattern.
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols);
    return new DecodedRows(origin, (row, into, scale) => {
      const bits = new Uint32Array(into.buffer, into.byteOffset, cols);
      const start = row * cols;
      for (let j = 0; j < cols; j++) bits[j] = halves[start + j]! << 16;
      if (scale) for (let j = 0; j < cols; j++) into[j] = into[j]! * scale[j]!;
    });
  }
  if (aligned && dtype === 'F32') return float32Rows(new Float32Array(bytes.buffer, bytes.byteOffset, rows * cols), rows, cols);
  // Unaligned bytes (or F64, or a big-endian host): the general decoder, a row at a time.
  const rowBytes = cols * size;
  return new DecodedRows(origin, (row, into, scale) => {
    into.set(decodeFloat32(dtype, bytes.subarray(row * rowBytes, (row + 1) * rowBytes)));
    if (scale) for (let j = 0; j < cols; j++) into[j] = into[j]! * scale[j]!;
  });
}

/**
 * `source` with input column j of every row multiplied by `scale[j]` (rounded to float32 as
 * stored), applied while a row is decoded rather than in a second pass over it.
 */
export function columnScaled(source: WeightRows, scale: Float32Array): WeightRows {
  if (scale.length !== source.cols) {
    throw new RangeError(`a column scale of ${scale.length} values for rows of ${source.cols}`);
  }
  if (source instanceof DecodedRows && source.origin.scale === null) return source.withScale(scale);
  // Rows from elsewhere, or scaled already: scale each row after reading it.
  return {
    rows: source.rows,
    cols: source.cols,
    read(row, into) {
      source.read(row, into);
      for (let j = 0; j < source.cols; j++) into[j] = into[j]! * scale[j]!;
    },
  };
}

/** Raises `max[j]` to the largest |w| of input column j over rows [start, end) of `source`. */
export function columnAbsMax(source: WeightRows, max: Float32Array, start: number, end: number): void {
  const cols = source.cols;
  const row = new Float32Array(cols);
  for (let r = start; r < end; r++) {
    source.read(r, row);
    for (let j = 0; j < cols; j++) {
      const w = Math.abs(row[j]!);
      if (w > max[j]!) max[j] = w;
    }
  }
}

/** Every row into one float32 array [rows, cols]. */
export function readAllRows(source: WeightRows): Float32Array {
  const out = new Float32Array(source.rows * source.cols);
  for (let r = 0; r < source.rows; r++) source.read(r, out.subarray(r * source.cols, (r + 1) * source.cols));
  return out;
}

/**
 * Math.round(x) for the quantisers' hot loops: Math.floor(x + 0.5) compiles to one rounding
 * instruction where V8's Math.round branches on the value, and quantising random-signed weights
 * mispredicts that branch half the time (6x slower on a 7B's MLP weights). The two differ only
 * where x + 0.5 is inexact and rounds up to an integer (x = 0.49999999999999994), which gives a
 * code within half a step all the same.
 */
export function roundHalfUp(x: number): number {
  return Math.floor(x + 0.5);
}

function checkLength(values: number, rows: number, cols: number, what: string): void {
  if (values !== rows * cols) throw new RangeError(`${values} ${what} for a [${rows}, ${cols}] weight`);
}
