// The helper thread of the row pool (row-pool.ts): runs a task on the rows it is sent (their place
// in a file, or a copy of their bytes) and sends the result back (transferred, not copied), then
// raises the shared flag the sending thread waits on.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { allocateOutput, outputBuffers, runRows, type RowTask, type RowTaskOutput } from './row-tasks.js';
import { rowsFromOrigin, type RowsOrigin } from './weight-rows.js';

/** Sent once, at start: where replies go and the flag to raise after each. */
export interface HelperSetup {
  readonly replies: MessagePort;
  /** [replies posted, ready]: the sender waits on the first with Atomics.wait, and sends jobs once the second is 1. */
  readonly flags: Int32Array;
}

export interface RowJob {
  readonly id: number;
  readonly task: RowTask;
  readonly origin: RowsOrigin;
}

export type RowReply = { readonly id: number; readonly output: RowTaskOutput } | { readonly id: number; readonly error: string };

export const POSTED = 0;
export const READY = 1;

let setup: HelperSetup | undefined;

parentPort?.on('message', (message: HelperSetup | RowJob) => {
  if ('replies' in message) {
    setup = message;
    Atomics.store(message.flags, READY, 1);
    return;
  }
  const { replies, flags } = setup!;
  try {
    const weight = rowsFromOrigin(message.origin);
    const output = allocateOutput(message.task, weight.rows, weight.cols);
    runRows(message.task, weight, output, 0, weight.rows);
    replies.postMessage({ id: message.id, output } satisfies RowReply, outputBuffers(output));
  } catch (error) {
    replies.postMessage({ id: message.id, error: String((error as Error)?.message ?? error) } satisfies RowReply);
  }
  Atomics.add(flags, POSTED, 1);
  Atomics.notify(flags, POSTED);
});
