// Small benchmark folders for the tests, in each layout the tasks read, made on the fly: LLaVA's
// playground/data/eval/<name>/ files, the official annotation files, Hugging Face parquet files with
// embedded images, and the synth set. Images are tiny solid-colour PNGs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { parquetWriteFile } from 'hyparquet-writer';

export async function pngBytes(seed: number, size = 16): Promise<Uint8Array> {
  const colour = { r: (seed * 67) % 256, g: (seed * 131) % 256, b: (seed * 29) % 256 };
  return new Uint8Array(await sharp({ create: { width: size, height: size, channels: 3, background: colour } }).png().toBuffer());
}

export async function writePng(path: string, seed: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await pngBytes(seed));
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function writeJsonl(path: string, records: readonly unknown[]): void {
  writeText(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export function writeJson(path: string, value: unknown): void {
  writeText(path, JSON.stringify(value));
}

/** An answers file in LLaVA's answer JSONL, as LLaVA's scripts write it. */
export function writeLlavaAnswers(path: string, answers: readonly { question_id: string | number; prompt: string; text: string }[]): void {
  writeJsonl(
    path,
    answers.map((a, i) => ({ ...a, answer_id: `id${i}`, model_id: 'llava-v1.5-7b', metadata: {} })),
  );
}

type Cell = string | number | null | string[] | Record<string, unknown>[] | Uint8Array;

/** A parquet file with an `image` struct column {bytes, path} as the datasets library writes it, plus scalar and list columns. */
export function writeParquet(path: string, rows: readonly Record<string, Cell>[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const names = Object.keys(rows[0]!);
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: names.length }];
  const columnData = names.map((name) => {
    const sample = rows.find((r) => r[name] !== null)?.[name];
    if (sample instanceof Uint8Array) {
      schema.push({ name, repetition_type: 'OPTIONAL', num_children: 2 });
      schema.push({ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' });
      schema.push({ name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
      return { name, data: rows.map((r) => (r[name] === null ? null : { bytes: r[name], path: null })) };
    }
    if (Array.isArray(sample) && typeof sample[0] === 'object') {
      // A list of {answer} structs (VQAv2's answers).
      schema.push({ name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', repetition_type: 'OPTIONAL', num_children: 1 });
      schema.push({ name: 'answer', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
      return { name, data: rows.map((r) => r[name]) };
    }
    if (Array.isArray(sample)) {
      schema.push({ name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
      return { name, data: rows.map((r) => r[name]) };
    }
    if (typeof sample === 'number') {
      schema.push({ name, type: 'INT64', repetition_type: 'OPTIONAL' });
      return { name, data: rows.map((r) => (r[name] === null ? null : BigInt(r[name] as number))) };
    }
    schema.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
    return { name, data: rows.map((r) => r[name]) };
  });
  parquetWriteFile({ filename: path, columnData: columnData as never, schema: schema as never });
}
