// One safetensors file, read lazily: opening it parses and validates the whole header (so a
// truncated or malformed file fails at once, naming the file and tensor), and a tensor's bytes are
// read from disk only when asked for, so multi-GB files never sit in memory whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CheckpointError, describe } from '../errors.js';
import { DTYPE_BYTES, LITTLE_ENDIAN_HOST, decodeFloat32, isDtype, isFloatDtype, type Dtype } from './dtype.js';

export interface TensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

interface TensorEntry extends TensorInfo {
  /** Byte range within the data section, which starts right after the header. */
  readonly begin: number;
  readonly end: number;
}

interface ParsedFile {
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

// The reference implementation's cap: a larger header means a corrupt or foreign file.
const MAX_HEADER_BYTES = 100_000_000;
// readSync refuses more than 2 GiB - 1 bytes per call, so big tensors are read in pieces.
const MAX_READ_BYTES = 1 << 30;
const DTYPE_LIST = Object.keys(DTYPE_BYTES).join(', ');

export class SafetensorsFile {
  readonly path: string;
  /** The header's `__metadata__` (e.g. `{format: 'pt'}`); empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly dataStart: number;
  private readonly tensors: ReadonlyMap<string, TensorEntry>;
  private fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    const fd = openRegularFile(path);
    let parsed: ParsedFile;
    try {
      parsed = parseHeader(path, fd);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.fd = fd;
    this.dataStart = parsed.dataStart;
    this.metadata = parsed.metadata;
    this.tensors = parsed.tensors;
  }

  /** Tensor names in the order their data lies in the file. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const { dtype, shape } = this.entry(name);
    return { dtype, shape };
  }

  /** Where the tensor's bytes lie in the file: the absolute offset of the first and their count. */
  location(name: string): { readonly offset: number; readonly byteLength: number } {
    const entry = this.entry(name);
    return { offset: this.dataStart + entry.begin, byteLength: entry.end - entry.begin };
  }

  /** The tensor's bytes as stored (little-endian), in a fresh buffer of its own. */
  readRaw(name: string): Uint8Array {
    const entry = this.entry(name);
    const bytes = new Uint8Array(entry.end - entry.begin);
    this.readInto(name, bytes, this.dataStart + entry.begin);
    return bytes;
  }

  /** The tensor's values as float32; F32, F16, BF16 and F64 tensors only. */
  readFloat32(name: string): Float32Array {
    const { dtype } = this.entry(name);
    if (!isFloatDtype(dtype)) {
      throw new CheckpointError({ subject: `${this.path}: ${name}`, expected: 'F32, F16 or BF16', found: dtype });
    }
    const raw = this.readRaw(name);
    // `raw` is fresh and starts at offset 0, so F32 bytes can become the result without a copy.
    return dtype === 'F32' && LITTLE_ENDIAN_HOST ? new Float32Array(raw.buffer) : decodeFloat32(dtype, raw);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private entry(name: string): TensorEntry {
    const entry = this.tensors.get(name);
    if (entry === undefined) {
      throw new CheckpointError({
        subject: `${this.path}: ${name}`,
        expected: 'a tensor of that name',
        found: `no such tensor among the file's ${this.tensors.size}`,
      });
    }
    return entry;
  }

  private readInto(name: string, bytes: Uint8Array, position: number): void {
    if (this.fd === undefined) {
      throw new CheckpointError({ subject: this.path, expected: 'an open file', found: 'it closed' });
    }
    let done = 0;
    while (done < bytes.byteLength) {
      const length = Math.min(MAX_READ_BYTES, bytes.byteLength - done);
      const read = readSync(this.fd, bytes, done, length, position + done);
      if (read === 0) {
        // The header was checked against the size at open, so the file has shrunk since.
        throw new CheckpointError({
          subject: `${this.path}: ${name}`,
          expected: `${bytes.byteLength} bytes of tensor data`,
          found: `${done} bytes before the end of the file`,
          hint: 'the file was truncated after it was opened',
        });
      }
      done += read;
    }
  }
}

function openRegularFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'a file it may not read' : String(cause);
    throw new CheckpointError({ subject: path, expected: 'a safetensors file', found, cause });
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new CheckpointError({
      subject: path,
      expected: 'a safetensors file',
      found: stats.isDirectory() ? 'a directory' : 'not a regular file',
    });
  }
  return fd;
}

/** Reads exactly `length` bytes at `position`; the caller has checked they lie within the file. */
function readExactly(fd: number, length: number, position: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, bytes, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return bytes.subarray(0, done);
}

// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section.
function parseHeader(path: string, fd: number): ParsedFile {
  const fileBytes = fstatSync(fd).size;
  if (fileBytes < 8) {
    throw new CheckpointError({
      subject: path,
      expected: 'at least 8 bytes (the header length)',
      found: `${fileBytes} bytes`,
    });
  }
  const lengthBytes = readExactly(fd, 8, 0);
  const declared = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (declared > BigInt(fileBytes - 8)) {
    throw new CheckpointError({
      subject: path,
      expected: `a header length of at most ${fileBytes - 8} bytes (the file has ${fileBytes})`,
      found: `${declared} bytes`,
      hint: 'the file is truncated or not a safetensors file',
    });
  }
  const headerBytes = Number(declared);
  if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES) {
    throw new CheckpointError({
      subject: path,
      expected: `a header length between 2 and ${MAX_HEADER_BYTES} bytes`,
      found: `${headerBytes} bytes`,
    });
  }
  const header = parseJson(path, readExactly(fd, headerBytes, 8));
  const dataStart = 8 + headerBytes;
  const dataBytes = fileBytes - dataStart;

  let metadata: Readonly<Record<string, string>> = {};
  const entries: Array<[string, TensorEntry]> = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(path, value);
    } else {
      entries.push([name, parseEntry(path, name, value, dataStart, dataBytes, fileBytes)]);
    }
  }
  entries.sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  checkNoOverlap(path, entries);
  return { dataStart, metadata, tensors: new Map(entries) };
}

function parseJson(path: string, bytes: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new CheckpointError({
      subject: path,
      expected: 'a JSON header',
      found: `${(cause as Error).message} in ${bytes.byteLength} header bytes`,
      cause,
    });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError({ subject: path, expected: 'a JSON object as header', found: describe(header) });
  }
  return header as Record<string, unknown>;
}

function parseMetadata(path: string, value: unknown): Readonly<Record<string, string>> {
  const valid =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string');
  if (!valid) {
    throw new CheckpointError({
      subject: `${path}: __metadata__`,
      expected: 'an object of string values',
      found: describe(value),
    });
  }
  return value as Record<string, string>;
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isOffsetPair(value: unknown): value is [number, number] {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [begin, end] = value as unknown[];
  return isNonNegativeInt(begin) && isNonNegativeInt(end) && begin <= end;
}

function parseEntry(
  path: string,
  name: string,
  value: unknown,
  dataStart: number,
  dataBytes: number,
  fileBytes: number,
): TensorEntry {
  const subject = `${path}: ${name}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError({ subject, expected: 'an object with dtype, shape and data_offsets', found: describe(value) });
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new CheckpointError({ subject, expected: `a dtype among ${DTYPE_LIST}`, found: describe(dtype) });
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    throw new CheckpointError({ subject, expected: 'a shape of non-negative integers', found: describe(shape) });
  }
  if (!isOffsetPair(offsets)) {
    throw new CheckpointError({
      subject,
      expected: 'data_offsets [begin, end] with 0 <= begin <= end',
      found: describe(offsets),
    });
  }
  const [begin, end] = offsets;
  const expectedBytes = shape.reduce((product: number, dim: number) => product * dim, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== expectedBytes) {
    throw new CheckpointError({
      subject,
      expected: `${expectedBytes} bytes for ${dtype} of shape [${shape.join(', ')}]`,
      found: `data_offsets [${begin}, ${end}], ${end - begin} bytes`,
    });
  }
  if (end > dataBytes) {
    throw new CheckpointError({
      subject,
      expected: `a file of at least ${dataStart + end} bytes (where the tensor's data ends)`,
      found: `${fileBytes} bytes`,
      hint: 'the file is truncated; download or convert it again',
    });
  }
  return { dtype, shape: Object.freeze([...shape]), begin, end };
}

// `entries` is sorted by begin. Empty tensors occupy no bytes, so they cannot overlap anything.
function checkNoOverlap(path: string, entries: ReadonlyArray<readonly [string, TensorEntry]>): void {
  let previous: readonly [string, TensorEntry] | undefined;
  for (const current of entries) {
    const [name, entry] = current;
    if (entry.begin === entry.end) continue;
    if (previous !== undefined && entry.begin < previous[1].end) {
      throw new CheckpointError({
        subject: `${path}: ${name}`,
        expected: `data starting at or after byte ${previous[1].end}, where ${previous[0]} ends`,
        found: `data_offsets [${entry.begin}, ${entry.end}]`,
      });
    }
    previous = current;
  }
}
