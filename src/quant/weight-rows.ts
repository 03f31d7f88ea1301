// A Linear weight [out, in] (PyTorch's layout) read one output row at a time as float32, so that
// quantising it never holds the whole tensor in float32: rows come from float32 values, or are
// decoded from the checkpoint's stored bytes (F16 through a lookup table), in memory or read from
// the checkpoint file a chunk at a time, optionally times a factor per input column (outlier
// smoothing). A 7B's decoder is 6.5 G weights: converting them row by row from F16 reads 2 bytes a
// weight where a float32 copy wrote and read 4 more.
import { closeSync, openSync, readSync } from 'node:fs';
import type { TensorLocation } from '../checkpoint/checkpoint.js';
import { DTYPE_BYTES, LITTLE_ENDIAN_HOST, decodeFloat32, float16Table, type FloatDtype } from '../checkpoint/dtype.js';
import { CheckpointError } from '../errors.js';

export interface WeightRows {
  /** Output features: the number of rows. */
  readonly rows: number;
  /** Input features: the length of a row. */
  readonly cols: number;
  /** Writes row `row`'s `cols` values into `into` (at least `cols` long). */
  read(row: number, into: Float32Array): void;
}

/** Where rows' bytes are: in memory, or in a file from a byte offset on (read a chunk of rows at a time). */
export type RowsSource =
  | { readonly kind: 'memory'; readonly bytes: Uint8Array }
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly chunkRows?: number };

/** What another thread needs to read the same rows: where their bytes are, and the column scale. */
export interface RowsOrigin {
  readonly source: RowsSource;
  readonly dtype: FloatDtype;
  readonly rows: number;
  readonly cols: number;
  readonly scale: Float32Array | null;
}

/** The bytes holding row `row`, and the offset of its first value in them. */
type RowLocator = (row: number) => { readonly bytes: Uint8Array; readonly offset: number };

/** Rows decoded from their stored bytes, times a column scale when there is one. */
class DecodedRows implements WeightRows {
  constructor(
    readonly origin: RowsOrigin,
    private readonly locate: RowLocator,
  ) {}

  get rows(): number {
    return this.origin.rows;
  }

  get cols(): number {
    return this.origin.cols;
  }

  read(row: number, into: Float32Array): void {
    const { bytes, offset } = this.locate(row);
    decodeRow(this.origin.dtype, bytes, offset, this.origin.cols, into, this.origin.scale);
  }

  withScale(scale: Float32Array): DecodedRows {
    return new DecodedRows({ ...this.origin, scale }, this.locate);
  }
}

/** Decodes `cols` values of `dtype` at `bytes[offset]` into `into`, times `scale[j]` when given. */
function decodeRow(dtype: FloatDtype, bytes: Uint8Array, offset: number, cols: number, into: Float32Array, scale: Float32Array | null): void {
  const start = bytes.byteOffset + offset;
  const aligned = LITTLE_ENDIAN_HOST && start % DTYPE_BYTES[dtype] === 0;
  if (aligned && dtype === 'F16') {
    const halves = new Uint16Array(bytes.buffer, start, cols);
    const table = float16Table();
    if (scale) for (let j = 0; j < cols; j++) into[j] = table[halves[j]!]! * scale[j]!;
    else for (let j = 0; j < cols; j++) into[j] = table[halves[j]!]!;
    return;
  }
  if (aligned && dtype === 'BF16') {
    // A bfloat16 is the upper half of a float32's bit pattern.
    const halves = new Uint16Array(bytes.buffer, start, cols);
    const bits = new Uint32Array(into.buffer, into.byteOffset, cols);
    for (let j = 0; j < cols; j++) bits[j] = halves[j]! << 16;
  } else if (aligned && dtype === 'F32') {
    into.set(new Float32Array(bytes.buffer, start, cols));
  } else {
    // Unaligned bytes (or F64, or a big-endian host): the general decoder.
    into.set(decodeFloat32(dtype, bytes.subarray(offset, offset + cols * DTYPE_BYTES[dtype])));
  }
  if (scale) for (let j = 0; j < cols; j++) into[j] = into[j]! * scale[j]!;
}

/** Where `weight`'s rows come from (so another thread can read them too), or null for rows made elsewhere. */
export function rowsOrigin(weight: WeightRows): RowsOrigin | null {
  return weight instanceof DecodedRows ? weight.origin : null;
}

/** Rows [start, end) of `origin`: for a file, a later offset; in memory, their bytes copied (to hand to another thread). */
export function originSlice(origin: RowsOrigin, start: number, end: number): RowsOrigin {
  const rowBytes = origin.cols * DTYPE_BYTES[origin.dtype];
  const source: RowsSource =
    origin.source.kind === 'file'
      ? { ...origin.source, offset: origin.source.offset + start * rowBytes }
      : { kind: 'memory', bytes: origin.source.bytes.slice(start * rowBytes, end * rowBytes) };
  return { ...origin, source, rows: end - start };
}

/** The rows `origin` describes. */
export function rowsFromOrigin(origin: RowsOrigin): WeightRows {
  const rowBytes = origin.cols * DTYPE_BYTES[origin.dtype];
  const { source } = origin;
  const locate =
    source.kind === 'memory'
      ? memoryLocator(source.bytes, rowBytes)
      : fileLocator(source.path, source.offset, rowBytes, origin.rows, source.chunkRows ?? Math.max(1, Math.floor(FILE_CHUNK_BYTES / rowBytes)));
  return new DecodedRows(origin, locate);
}

function memoryLocator(bytes: Uint8Array, rowBytes: number): RowLocator {
  return (row) => ({ bytes, offset: row * rowBytes });
}

/** Bytes read from a file per chunk of rows: 4 MiB (512 rows of a 7B's 4096 F16 inputs). */
const FILE_CHUNK_BYTES = 4 << 20;

/**
 * Rows read from `path` a chunk at a time into one buffer, reused: a load then never holds a
 * whole tensor, nor faults in fresh memory for one (on the VM measured, a page fault cost ~24 us;
 * reading a 7B's 13.5 GB of F16 into fresh buffers was a quarter of its first load).
 */
function fileLocator(path: string, offset: number, rowBytes: number, rows: number, chunkRows: number): RowLocator {
  let buffer: Uint8Array | undefined;
  let first = 0;
  let count = 0;
  return (row) => {
    if (buffer === undefined || row < first || row >= first + count) {
      buffer ??= new Uint8Array(Math.min(chunkRows, rows) * rowBytes);
      first = row;
      count = Math.min(chunkRows, rows - row);
      readExactly(path, buffer.subarray(0, count * rowBytes), offset + row * rowBytes);
    }
    return { bytes: buffer, offset: (row - first) * rowBytes };
  };
}

function readExactly(path: string, into: Uint8Array, position: number): void {
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < into.byteLength) {
      const read = readSync(fd, into, done, into.byteLength - done, position + done);
      if (read === 0) {
        throw new CheckpointError({ subject: path, expected: `${into.byteLength} bytes of tensor data at offset ${position}`, found: `the file ending after ${done}` });
      }
      done += read;
    }
  } finally {
    closeSync(fd);
  }
}

/** Rows of a float32 weight [rows, cols]. */
export function float32Rows(data: Float32Array, rows: number, cols: number): WeightRows {
  checkLength(data.length, rows, cols, 'float32 values');
  return storedRows('F32', new Uint8Array(data.buffer, data.byteOffset, data.byteLength), rows, cols);
}

/** Rows decoded from a tensor's little-endian bytes in its stored float dtype. */
export function storedRows(dtype: FloatDtype, bytes: Uint8Array, rows: number, cols: number): WeightRows {
  checkLength(bytes.byteLength / DTYPE_BYTES[dtype], rows, cols, `${dtype} values`);
  return rowsFromOrigin({ source: { kind: 'memory', bytes }, dtype, rows, cols, scale: null });
}

/**
 * Rows read from a checkpoint file where `location` says, `chunkRows` at a time (default: 4 MiB's
 * worth, for reading every row in order; 1 for a few rows anywhere, as token embeddings are).
 */
export function fileRows(location: TensorLocation, rows: number, cols: number, chunkRows?: number): WeightRows {
  checkLength(location.byteLength / DTYPE_BYTES[location.dtype], rows, cols, `${location.dtype} values`);
  return rowsFromOrigin({ source: { kind: 'file', path: location.path, offset: location.offset, ...(chunkRows ? { chunkRows } : {}) }, dtype: location.dtype, rows, cols, scale: null });
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
