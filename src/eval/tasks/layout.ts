// The two layouts a task's --data can have: LLaVA's benchmark folder (a question file in LLaVA's
// JSONL plus the benchmark's own files) or Hugging Face parquet files with embedded images. Which
// one is read is decided by what the folder holds; a folder with neither is one DataError.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJsonl } from '../data/files.js';
import { imageBytes, parquetFiles, readParquet, type ParquetTable } from '../data/parquet.js';
import type { ImageRef } from './types.js';

export type Layout = { readonly kind: 'llava'; readonly dir: string } | { readonly kind: 'parquet'; readonly files: readonly string[] };

/** LLaVA's layout when `marker` (its question file) is in the folder, else parquet files under it. */
export function detectLayout(path: string, task: string, marker: string): Layout {
  if (!existsSync(path)) throw new DataError({ subject: path, expected: `the ${task} data folder`, found: 'no such file or folder' });
  if (statSync(path).isDirectory() && existsSync(join(path, marker))) return { kind: 'llava', dir: path };
  const files = parquetFiles(path);
  if (files.length === 0) {
    throw new DataError({
      subject: path,
      expected: `${task} data: LLaVA's layout (${marker} and the benchmark's files) or Hugging Face parquet files`,
      found: 'neither',
    });
  }
  return { kind: 'parquet', files };
}

export interface LlavaQuestionRecord {
  readonly questionId: string | number;
  readonly text: string;
  readonly image: string;
  readonly record: Record<string, unknown>;
  readonly where: string;
}

/** LLaVA's question JSONL (`question_id, image, text`, maybe `category`), fields checked. */
export function readLlavaQuestions(file: string): LlavaQuestionRecord[] {
  return readJsonl(file, "LLaVA's question JSONL").map((record, i) => {
    const where = `${file}:${i + 1}`;
    return {
      questionId: field(record, 'question_id', 'id', where),
      text: field(record, 'text', 'string', where),
      image: field(record, 'image', 'string', where),
      record,
      where,
    };
  });
}

export interface ParquetRow {
  readonly row: Record<string, unknown>;
  readonly index: number;
  readonly where: string;
}

/** Rows of every parquet file, each file checked to have `columns`. */
export async function readParquetRows(files: readonly string[], columns: readonly string[], task: string): Promise<ParquetRow[]> {
  const rows: ParquetRow[] = [];
  for (const file of files) {
    const table: ParquetTable = await readParquet(file);
    const missing = columns.filter((c) => !table.columns.includes(c));
    if (missing.length > 0) {
      throw new DataError({ subject: file, expected: `${task} columns ${columns.join(', ')}`, found: `columns ${table.columns.join(', ')} (no ${missing.join(', ')})` });
    }
    table.rows.forEach((row, i) => rows.push({ row, index: rows.length, where: `${file} row ${i}` }));
  }
  return rows;
}

export function embeddedImage(row: ParquetRow, column = 'image'): ImageRef {
  return { bytes: imageBytes(row.row[column], row.where), name: row.where };
}
