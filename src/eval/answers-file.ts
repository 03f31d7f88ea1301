// LLaVA's answer JSONL (`question_id, prompt, text, answer_id, model_id, metadata`, one answer a
// line) with visdrop's extras under `visdrop`. Answers are appended and flushed to disk one by one,
// so a killed run loses at most the answer it was writing; a torn last line (no newline, not JSON)
// is that answer, dropped on reading and cut before the next append.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { DataError, describe } from '../errors.js';

/** What makes two runs the same: an answers file is resumed only by a run with an equal identity. */
export interface RunIdentity {
  readonly task: string;
  readonly model: string;
  readonly weights: string;
  readonly strategy: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly maxNewTokens: number;
  readonly conversation: string;
  readonly padToSquare: boolean;
}

export interface VisdropExtras {
  readonly run: RunIdentity;
  /** Image tokens the decoder first saw, then after each stage of the strategy. */
  readonly keptImageTokens: readonly number[];
  /** Image tokens entering each decoder layer. */
  readonly imageTokensPerLayer: readonly number[];
  /** Full-accounting prefill FLOPs over the same prompt without reduction (src/flops), or null when not counted. */
  readonly flopsRatio: number | null;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly timings: { readonly visionMs: number; readonly prefillMs: number; readonly decodeMsPerToken: number; readonly totalMs: number };
}

export interface AnswerLine {
  readonly question_id: string | number;
  readonly prompt: string;
  readonly text: string;
  readonly answer_id?: string;
  readonly model_id?: string;
  readonly metadata?: Record<string, unknown>;
  readonly visdrop?: VisdropExtras;
}

export interface AnswersFile {
  readonly answers: AnswerLine[];
  /** Bytes up to the end of the last whole answer; a torn line after them is cut before appending. */
  readonly validBytes: number;
  /** The last whole answer lacks its newline (the run stopped between the two writes' bytes). */
  readonly needsNewline: boolean;
}

/** The answers in `path` (none when it does not exist). */
export function readAnswers(path: string): AnswersFile {
  if (!existsSync(path)) return { answers: [], validBytes: 0, needsNewline: false };
  const content = readFileSync(path);
  const text = content.toString('utf8');
  const answers: AnswerLine[] = [];
  let offset = 0;
  let lineNumber = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
    lineNumber++;
    let value: unknown;
    try {
      value = line.trim() === '' ? null : JSON.parse(line);
    } catch {
      // A last line without its newline was being written when the run stopped.
      if (end === -1) break;
      throw new DataError({ subject: `${path}:${lineNumber}`, expected: "an answer in LLaVA's answer JSONL", found: describe(line) });
    }
    if (value !== null) answers.push(checkAnswer(value, `${path}:${lineNumber}`));
    offset = end === -1 ? text.length : end + 1;
  }
  return { answers, validBytes: Buffer.byteLength(text.slice(0, offset)), needsNewline: offset > 0 && !text.slice(0, offset).endsWith('\n') };
}

function checkAnswer(value: unknown, where: string): AnswerLine {
  const record = value as Record<string, unknown>;
  const ok =
    typeof value === 'object' && value !== null &&
    (typeof record.question_id === 'string' || typeof record.question_id === 'number') &&
    typeof record.prompt === 'string' && typeof record.text === 'string';
  if (!ok) {
    throw new DataError({ subject: where, expected: 'an answer with question_id (string or number), prompt and text (strings)', found: describe(value) });
  }
  return value as AnswerLine;
}

/** Appends answers one line at a time, each flushed to disk before the next question starts. */
export class AnswerWriter {
  private readonly fd: number;

  /** Opens `path` for appending, first cutting a torn last line (or ending a complete one). */
  constructor(path: string, existing: AnswersFile) {
    if (existsSync(path)) truncateSync(path, existing.validBytes);
    this.fd = openSync(path, 'a');
    if (existing.needsNewline) writeSync(this.fd, '\n');
  }

  append(answer: AnswerLine): void {
    writeSync(this.fd, `${JSON.stringify(answer)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Stable JSON of an identity (keys sorted), for comparing runs. */
export function identityKey(identity: RunIdentity): string {
  const sort = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(sort)
    : typeof value === 'object' && value !== null ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sort((value as Record<string, unknown>)[k])]))
    : value;
  return JSON.stringify(sort(identity));
}
