// A Hugging Face checkpoint directory: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json`. Opening validates the index and every shard's header up front;
// tensor data is read lazily, and checked for dtype and shape when it is asked for.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointError, describe } from '../errors.js';
import { isFloatDtype, type FloatDtype } from './dtype.js';
import { SafetensorsFile, type TensorInfo } from './safetensors.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export function openCheckpoint(dir: string): Checkpoint {
  return Checkpoint.open(dir);
}

/** A float tensor's place in a checkpoint file. */
export interface TensorLocation {
  readonly path: string;
  readonly dtype: FloatDtype;
  /** Byte offset of its first value in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export class Checkpoint {
  readonly dir: string;
  /** Where tensor names come from, for messages: the single file or the index's weight_map. */
  private readonly source: string;
  private readonly files: readonly SafetensorsFile[];
  private readonly fileOf: ReadonlyMap<string, SafetensorsFile>;

  private constructor(dir: string, source: string, fileOf: ReadonlyMap<string, SafetensorsFile>) {
    this.dir = dir;
    this.source = source;
    this.fileOf = fileOf;
    this.files = [...new Set(fileOf.values())];
  }

  static open(dir: string): Checkpoint {
    const singlePath = join(dir, SINGLE_FILE);
    const indexPath = join(dir, INDEX_FILE);
    // Like transformers' from_pretrained, a single file wins over an index.
    if (existsSync(singlePath)) {
      const file = new SafetensorsFile(singlePath);
      return new Checkpoint(dir, SINGLE_FILE, new Map(file.names().map((name) => [name, file])));
    }
    if (existsSync(indexPath)) {
      return new Checkpoint(dir, `the weight_map of ${INDEX_FILE}`, openShards(dir, indexPath));
    }
    throw new CheckpointError({
      subject: dir,
      expected: `${SINGLE_FILE} or ${INDEX_FILE}`,
      found: existsSync(dir) ? 'neither file' : 'no such directory',
    });
  }

  has(name: string): boolean {
    return this.fileOf.has(name);
  }

  /** The weight files' names in the directory (the index too when sharded), e.g. to tell versions apart. */
  fileNames(): string[] {
    const names = this.files.map((file) => basename(file.path));
    return this.source === SINGLE_FILE ? names : [INDEX_FILE, ...names];
  }

  /** Tensor names: in file order for a single file, in weight_map order for shards. */
  names(): string[] {
    return [...this.fileOf.keys()];
  }

  info(name: string): TensorInfo {
    return this.file(name).info(name);
  }

  /**
   * Checks that `name` exists, holds floats and has exactly `expectedShape`, without reading it, so
   * a whole checkpoint can be checked before any heavy work starts.
   */
  checkFloatTensor(name: string, expectedShape: readonly number[]): void {
    const file = this.file(name);
    const { dtype, shape } = file.info(name);
    if (!isFloatDtype(dtype)) {
      throw new CheckpointError({ subject: `${file.path}: ${name}`, expected: 'F32, F16 or BF16', found: dtype });
    }
    if (shape.length !== expectedShape.length || shape.some((dim, i) => dim !== expectedShape[i])) {
      throw new CheckpointError({
        subject: `${file.path}: ${name}`,
        expected: `shape [${expectedShape.join(', ')}]`,
        found: `shape [${shape.join(', ')}]`,
      });
    }
  }

  /** The tensor as float32, after checking its shape against `expectedShape` when given. */
  float32(name: string, expectedShape?: readonly number[]): Float32Array {
    if (expectedShape !== undefined) this.checkFloatTensor(name, expectedShape);
    return this.file(name).readFloat32(name);
  }

  /**
   * Where the tensor lies on disk, after checking its shape against `expectedShape`: for readers
   * that take it a few rows at a time (quantising at load), possibly on another thread.
   */
  location(name: string, expectedShape: readonly number[]): TensorLocation {
    this.checkFloatTensor(name, expectedShape);
    const file = this.file(name);
    return { path: file.path, dtype: file.info(name).dtype as FloatDtype, ...file.location(name) };
  }

  close(): void {
    for (const file of this.files) file.close();
  }

  private file(name: string): SafetensorsFile {
    const file = this.fileOf.get(name);
    if (file === undefined) {
      throw new CheckpointError({
        subject: `${this.dir}: ${name}`,
        expected: `a tensor of that name in ${this.source}`,
        found: 'no such tensor',
      });
    }
    return file;
  }
}

/** Opens every shard named by the index and checks each holds the tensors the index puts there. */
function openShards(dir: string, indexPath: string): Map<string, SafetensorsFile> {
  const weightMap = readWeightMap(indexPath);
  const namesByShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    const names = namesByShard.get(shard);
    if (names === undefined) namesByShard.set(shard, [name]);
    else names.push(name);
  }
  const fileByShard = new Map<string, SafetensorsFile>();
  try {
    for (const [shard, names] of namesByShard) {
      const shardPath = join(dir, shard);
      if (!existsSync(shardPath)) {
        throw new CheckpointError({
          subject: shardPath,
          expected: `the shard listed in ${indexPath}`,
          found: 'no such file',
        });
      }
      const file = new SafetensorsFile(shardPath);
      fileByShard.set(shard, file);
      for (const name of names) {
        if (!file.has(name)) {
          throw new CheckpointError({
            subject: `${shardPath}: ${name}`,
            expected: `the tensor, as ${indexPath} lists it in this shard`,
            found: 'no such tensor in the shard',
          });
        }
      }
    }
  } catch (error) {
    for (const file of fileByShard.values()) file.close();
    throw error;
  }
  // Every shard of the weight_map was opened above.
  return new Map(Object.entries(weightMap).map(([name, shard]) => [name, fileByShard.get(shard)!]));
}

function readWeightMap(indexPath: string): Record<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (cause) {
    throw new CheckpointError({ subject: indexPath, expected: 'a JSON index', found: (cause as Error).message, cause });
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  const valid =
    typeof weightMap === 'object' &&
    weightMap !== null &&
    !Array.isArray(weightMap) &&
    Object.values(weightMap).every((shard) => typeof shard === 'string' && shard !== '');
  if (!valid) {
    throw new CheckpointError({
      subject: `${indexPath}: weight_map`,
      expected: 'an object mapping tensor names to shard file names',
      found: describe(weightMap),
    });
  }
  return weightMap as Record<string, string>;
}
