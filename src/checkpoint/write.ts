// Writes safetensors files the way Hugging Face does (header padded with spaces to 8 bytes) and
// sharded checkpoints like save_pretrained. Tensors are streamed to disk in chunks and each file
// appears atomically: it is written under a temporary name, synced, then renamed into place. A
// tensor's data may be a function that produces it when its turn comes, so a checkpoint larger
// than memory (a full-size 7B one) is written holding one tensor at a time.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, OptionError } from '../errors.js';
import { INDEX_FILE, SINGLE_FILE } from './checkpoint.js';
import { DTYPE_BYTES, encodeFloat32, type WritableDtype } from './dtype.js';

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: WritableDtype;
  readonly shape: readonly number[];
  /** The values, or a function called once, when the tensor is written, that returns them. */
  readonly data: Float32Array | (() => Float32Array);
}

// Elements encoded per write: bounds the extra memory for F16/BF16 to 2 MiB whatever the tensor.
const CHUNK_ELEMENTS = 1 << 20;
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

export function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): void {
  checkTensors(path, tensors);
  const header = encodeHeader(tensors, metadata);
  const lengthBytes = new Uint8Array(8);
  new DataView(lengthBytes.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  writeAtomically(path, (fd) => {
    writeAll(fd, lengthBytes);
    writeAll(fd, header);
    for (const tensor of tensors) {
      const data = tensorData(path, tensor);
      for (let start = 0; start < data.length; start += CHUNK_ELEMENTS) {
        writeAll(fd, encodeFloat32(tensor.dtype, data.subarray(start, start + CHUNK_ELEMENTS)));
      }
    }
  });
}

/**
 * Writes `tensors` into `dir` as `model.safetensors` when their data fits in `maxShardBytes`,
 * otherwise as `model-0000i-of-0000N.safetensors` shards (in order, a new shard starting when the
 * next tensor would overflow the current one; a larger tensor gets a shard to itself) plus
 * `model.safetensors.index.json`. Files of the other layout or stale shards left in `dir` by an
 * earlier save are removed, so that `openCheckpoint(dir)` reads exactly these tensors.
 * Returns the names of the files written.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: readonly TensorToWrite[],
  maxShardBytes: number,
  metadata?: Readonly<Record<string, string>>,
): string[] {
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
    throw new OptionError({ subject: 'maxShardBytes', expected: 'a positive integer', found: String(maxShardBytes) });
  }
  checkTensors(dir, tensors);
  const shards: TensorToWrite[][] = [];
  let shardBytes = 0;
  for (const tensor of tensors) {
    const bytes = tensorBytes(tensor);
    const last = shards.at(-1);
    if (last === undefined || shardBytes + bytes > maxShardBytes) {
      shards.push([tensor]);
      shardBytes = bytes;
    } else {
      last.push(tensor);
      shardBytes += bytes;
    }
  }
  mkdirSync(dir, { recursive: true });

  let written: string[];
  if (shards.length <= 1) {
    writeSafetensors(join(dir, SINGLE_FILE), tensors, metadata);
    written = [SINGLE_FILE];
  } else {
    const count = String(shards.length).padStart(5, '0');
    const weightMap: Record<string, string> = {};
    written = shards.map((shard, i) => {
      const fileName = `model-${String(i + 1).padStart(5, '0')}-of-${count}.safetensors`;
      writeSafetensors(join(dir, fileName), shard, metadata);
      for (const { name } of shard) weightMap[name] = fileName;
      return fileName;
    });
    const totalSize = tensors.reduce((sum, tensor) => sum + tensorBytes(tensor), 0);
    // save_pretrained's form: sorted keys, two-space indent, trailing newline.
    const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const index = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sortedMap }, null, 2)}\n`;
    writeAtomically(join(dir, INDEX_FILE), (fd) => writeAll(fd, new TextEncoder().encode(index)));
    written.push(INDEX_FILE);
  }
  for (const entry of readdirSync(dir)) {
    const stale = entry === SINGLE_FILE || entry === INDEX_FILE || SHARD_NAME.test(entry);
    if (stale && !written.includes(entry)) rmSync(join(dir, entry), { force: true });
  }
  return written;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function tensorBytes(tensor: TensorToWrite): number {
  return elementCount(tensor.shape) * DTYPE_BYTES[tensor.dtype];
}

/** The tensor's values, produced now if they are lazy, checked against its shape. */
function tensorData(where: string, { name, shape, data }: TensorToWrite): Float32Array {
  const values = typeof data === 'function' ? data() : data;
  checkLength(`${where}: ${name}`, shape, values.length);
  return values;
}

function checkLength(subject: string, shape: readonly number[], length: number): void {
  const count = elementCount(shape);
  if (length !== count) {
    throw new CheckpointError({ subject, expected: `${count} values for shape [${shape.join(', ')}]`, found: `${length} values` });
  }
}

/**
 * Rejects reserved or repeated names, bad shapes and data whose length does not match its shape
 * (lazy data is checked when it is produced).
 */
function checkTensors(where: string, tensors: readonly TensorToWrite[]): void {
  const seen = new Set<string>();
  for (const { name, dtype, shape, data } of tensors) {
    const subject = `${where}: ${name}`;
    if (name === '__metadata__' || seen.has(name)) {
      throw new CheckpointError({
        subject,
        expected: 'a tensor name used once and not __metadata__',
        found: name === '__metadata__' ? 'the reserved name' : 'a second tensor of that name',
      });
    }
    seen.add(name);
    // The type admits only these, but callers from plain JavaScript are not checked by it.
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw new CheckpointError({ subject, expected: 'dtype F32, F16 or BF16', found: String(dtype) });
    }
    if (!shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
      throw new CheckpointError({ subject, expected: 'a shape of non-negative integers', found: `[${shape.join(', ')}]` });
    }
    if (typeof data !== 'function') checkLength(subject, shape, data.length);
  }
}

/** The JSON header, with offsets relative to the data section, padded with spaces to 8 bytes. */
function encodeHeader(tensors: readonly TensorToWrite[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  let offset = 0;
  for (const tensor of tensors) {
    const end = offset + tensorBytes(tensor);
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

function writeAtomically(path: string, write: (fd: number) => void): void {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(temporary, 'w');
    try {
      write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (cause) {
    rmSync(temporary, { force: true });
    if (cause instanceof CheckpointError) throw cause; // a tensor's lazy data was wrong, not the file
    throw new CheckpointError({ subject: path, expected: 'a file it can write', found: (cause as Error).message, cause });
  }
}
