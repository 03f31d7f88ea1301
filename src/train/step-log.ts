// The JSONL log of a run: one line of metrics per optimizer step, appended as each step ends, so a
// run that dies leaves every finished step on disk. A resumed run first rewrites the log from the
// checkpoint's history, dropping lines of steps after the checkpoint (they will be run again).
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import type { StepRecord } from './checkpoint-store.js';

export const LOG_FILE = 'train-log.jsonl';

export class StepLog {
  constructor(
    readonly path: string,
    history: readonly StepRecord[],
  ) {
    const temporary = `${path}.tmp-${process.pid}`;
    writeFileSync(temporary, history.map((record) => `${JSON.stringify(record)}\n`).join(''));
    renameSync(temporary, path);
  }

  append(record: StepRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
