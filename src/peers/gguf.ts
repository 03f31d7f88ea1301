// GGUF version 3, the file format llama.cpp loads (ggml's docs/gguf.md): little-endian
//   "GGUF" | version u32 | tensor count u64 | metadata count u64
//   metadata: key (string) | value type u32 | value   (string = u64 byte length + UTF-8 bytes;
//             array = element type u32 + count u64 + elements)
//   tensor infos: name (string) | dims u32 | ne[dims] u64 (ne[0] = the contiguous row length) |
//             ggml type u32 | offset u64 from the data section's start, a multiple of the alignment
//   padding to the alignment (general.alignment, 32 by default), then each tensor's bytes, each padded.
// The writer streams: the header is computed from the shapes, then every tensor's bytes are asked for
// and written one at a time, so a 7B converts in the memory of its largest tensor.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { GGML_BLOCK, Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES } from './ggml-quant.js';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** ggml_type values (ggml.h) of the tensor types written here. */
export const GGML_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlType = keyof typeof GGML_TYPES;

/** gguf_type values of metadata. */
const VALUE_TYPES = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarType = 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64';

export type GgufValue =
  | { readonly type: 'u32' | 'i32' | 'f32' | 'u64'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly of: 'string'; readonly value: readonly string[] }
  | { readonly type: 'array'; readonly of: 'f32' | 'i32'; readonly value: ArrayLike<number> };

export interface GgufTensor {
  readonly name: string;
  /** ggml order: ne[0] is the row length (a PyTorch [out, in] weight is [in, out] here). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** The tensor's bytes in `type`, asked for when the writer reaches it. */
  readonly data: () => Uint8Array;
}

/** Bytes of a tensor of `dims` in `type`; block types need rows that are whole blocks. */
export function ggmlTensorBytes(type: GgmlType, dims: readonly number[]): number {
  const count = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'F32':
      return 4 * count;
    case 'F16':
      return 2 * count;
    case 'Q8_0':
    case 'Q4_0':
      if (dims[0]! % GGML_BLOCK !== 0) throw new RangeError(`${type} rows must be a multiple of ${GGML_BLOCK} values, got ${dims[0]}`);
      return (count / GGML_BLOCK) * (type === 'Q8_0' ? Q8_0_BLOCK_BYTES : Q4_0_BLOCK_BYTES);
  }
}

const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** A growable little-endian byte buffer for the header. */
class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  /** One little-endian scalar of `bytes` bytes, written by `write`. */
  private scalar(bytes: number, write: (b: Buffer) => void): void {
    const b = Buffer.alloc(bytes);
    write(b);
    this.push(b);
  }
  u32(n: number): void {
    this.scalar(4, (b) => b.writeUInt32LE(n));
  }
  i32(n: number): void {
    this.scalar(4, (b) => b.writeInt32LE(n));
  }
  u64(n: number): void {
    this.scalar(8, (b) => b.writeBigUInt64LE(BigInt(n)));
  }
  f32(x: number): void {
    this.scalar(4, (b) => b.writeFloatLE(x));
  }
  u8(n: number): void {
    this.push(Buffer.from([n]));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  zeros(n: number): void {
    this.push(Buffer.alloc(n));
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeScalar(sink: ByteSink, type: ScalarType, value: number | boolean | string): void {
  switch (type) {
    case 'u32':
      return sink.u32(value as number);
    case 'i32':
      return sink.i32(value as number);
    case 'f32':
      return sink.f32(value as number);
    case 'u64':
      return sink.u64(value as number);
    case 'bool':
      return sink.u8(value ? 1 : 0);
    case 'string':
      return sink.string(value as string);
  }
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  sink.u32(VALUE_TYPES[value.type]);
  if (value.type !== 'array') return writeScalar(sink, value.type, value.value);
  sink.u32(VALUE_TYPES[value.of]);
  sink.u64(value.value.length);
  for (let i = 0; i < value.value.length; i++) writeScalar(sink, value.of, value.value[i]!);
}

/** Writes `path`; returns its size in bytes. */
export function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): number {
  const sink = new ByteSink();
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(metadata.size);
  for (const [key, value] of metadata) {
    sink.string(key);
    writeValue(sink, value);
  }
  let offset = 0;
  const sizes = tensors.map((t) => ggmlTensorBytes(t.type, t.dims));
  tensors.forEach((t, i) => {
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GGML_TYPES[t.type]);
    sink.u64(offset);
    offset = alignUp(offset + sizes[i]!, GGUF_ALIGNMENT);
  });
  // The magic is four bare bytes, not a GGUF string.
  const magic = Buffer.from(GGUF_MAGIC, 'latin1');
  const headerBytes = magic.length + sink.length;
  sink.zeros(alignUp(headerBytes, GGUF_ALIGNMENT) - headerBytes);
  const fd = openSync(path, 'w');
  try {
    let at = 0;
    const put = (bytes: Uint8Array) => {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, at + done);
      at += bytes.length;
    };
    put(magic);
    put(sink.bytes());
    tensors.forEach((t, i) => {
      const data = t.data();
      if (data.length !== sizes[i]) throw new RangeError(`${t.name}: expected ${sizes[i]} bytes of ${t.type} [${t.dims.join(', ')}], got ${data.length}`);
      put(data);
      const pad = alignUp(data.length, GGUF_ALIGNMENT) - data.length;
      if (pad > 0) put(new Uint8Array(pad));
    });
    return at;
  } finally {
    closeSync(fd);
  }
}

export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: number[];
  readonly type: number;
  /** Absolute offset of the tensor's bytes in the file. */
  readonly fileOffset: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: Map<string, unknown>;
  readonly tensors: GgufTensorInfo[];
}

/** Reads a GGUF's header (metadata and tensor infos), to check what was written. */
export function readGgufHeader(path: string, maxHeaderBytes = 64 * 2 ** 20): GgufHeader {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(maxHeaderBytes);
  const length = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  let at = 0;
  const need = (n: number) => {
    if (at + n > length) throw new RangeError(`${path}: the header runs past ${length} bytes`);
  };
  const u32 = () => (need(4), (at += 4), buf.readUInt32LE(at - 4));
  const u64 = () => (need(8), (at += 8), Number(buf.readBigUInt64LE(at - 8)));
  const str = () => {
    const n = u64();
    need(n);
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  const scalar = (type: number): unknown => {
    switch (type) {
      case VALUE_TYPES.u32:
        return u32();
      case VALUE_TYPES.i32:
        return (need(4), (at += 4), buf.readInt32LE(at - 4));
      case VALUE_TYPES.f32:
        return (need(4), (at += 4), buf.readFloatLE(at - 4));
      case VALUE_TYPES.u64:
        return u64();
      case VALUE_TYPES.bool:
        return (need(1), (at += 1), buf[at - 1] !== 0);
      case VALUE_TYPES.string:
        return str();
      default:
        throw new RangeError(`${path}: metadata type ${type} not read here`);
    }
  };
  need(4);
  const magic = buf.toString('latin1', 0, 4);
  if (magic !== GGUF_MAGIC) throw new RangeError(`${path}: not a GGUF file (magic ${JSON.stringify(magic)})`);
  at = 4;
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === VALUE_TYPES.array) {
      const of = u32();
      const n = u64();
      metadata.set(key, Array.from({ length: n }, () => scalar(of)));
    } else metadata.set(key, scalar(type));
  }
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const n = u32();
    const dims = Array.from({ length: n }, () => u64());
    infos.push({ name, dims, type: u32(), offset: u64() });
  }
  const alignment = (metadata.get('general.alignment') as number | undefined) ?? GGUF_ALIGNMENT;
  const dataStart = alignUp(at, alignment);
  return { version, metadata, tensors: infos.map(({ offset, ...t }) => ({ ...t, fileOffset: dataStart + offset })) };
}
