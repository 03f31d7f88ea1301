// The Hugging Face layout of a benchmark: parquet files with the images embedded (as lmms-eval's
// copies ship them), read with hyparquet. Binary columns stay bytes (utf8: false keeps only
// UTF8-annotated columns as text); 64-bit integers arrive as BigInt and are made numbers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from '../../errors.js';

/** Every *.parquet file at or under `path`, sorted (shards in order). */
export function parquetFiles(path: string): string[] {
  if (statSync(path).isFile()) return path.endsWith('.parquet') ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? parquetFiles(join(path, entry.name)) : entry.name.endsWith('.parquet') ? [join(path, entry.name)] : []))
    .sort();
}

function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

export interface ParquetTable {
  readonly file: string;
  readonly columns: readonly string[];
  readonly rows: Record<string, unknown>[];
}

/** One file's rows; a corrupt or truncated file is one DataError naming it. */
export async function readParquet(file: string): Promise<ParquetTable> {
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  try {
    const metadata = parquetMetadata(buffer);
    const columns = parquetSchema(metadata).children.map((child) => child.element.name);
    const rows = await parquetReadObjects({ file: buffer, metadata, compressors, utf8: false });
    return { file, columns, rows: rows.map((row) => plain(row) as Record<string, unknown>) };
  } catch (error) {
    throw new DataError({ subject: file, expected: 'a readable parquet file', found: `a corrupt one (${(error as Error).message})`, cause: error });
  }
}

/** The bytes of an embedded image cell: datasets' {bytes, path} struct, or raw bytes. */
export function imageBytes(cell: unknown, where: string): Uint8Array {
  const bytes = cell instanceof Uint8Array ? cell : typeof cell === 'object' && cell !== null ? (cell as { bytes?: unknown }).bytes : undefined;
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new DataError({ subject: `${where}: "image"`, expected: 'embedded image bytes ({bytes, path} or binary)', found: bytes === undefined || bytes === null ? 'none' : typeof bytes });
  }
  return bytes;
}
