// Load-time conversion on two cores: the upper half of a large weight's rows is sent (where they
// lie in the checkpoint file, or a copy of their bytes) to a helper thread, which quantises them
// while this thread does the lower half; the helper's result comes back transferred and is joined
// in. The caller stays synchronous (graph builders ask for one weight at a time): it waits for the
// reply with Atomics.wait and takes it with receiveMessageOnPort. Every buffer is an ordinary
// ArrayBuffer owned by one thread at a time, so memory is freed as before (SharedArrayBuffers
// posted per weight stayed resident: 8.08 GB peak for the 8-layer cut's load, 3.09 GB without).
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Int4Linear } from './int4.js';
import type { Int8Linear } from './int8.js';
import type { Int8BlockLinear } from './int8-blocks.js';
import { allocateOutput, joinOutput, runRows, type RowTask, type RowTaskOutput } from './row-tasks.js';
import { POSTED, READY, type HelperSetup, type RowJob, type RowReply } from './row-worker.js';
import { moduleWorker } from '../util/module-worker.js';
import { originSlice, rowsOrigin, type WeightRows } from './weight-rows.js';

/** Below this many weights a job stays on the calling thread: the round trip would cost more than it saves. */
const MIN_HELPED_WEIGHTS = 1 << 20;

interface Helper {
  readonly worker: Worker;
  readonly replies: MessagePort;
  readonly flags: Int32Array;
  /** Replies taken so far (flags[POSTED] counts replies posted). */
  taken: number;
  nextId: number;
}

/** The helper, started on first use on a machine of more than one core; null on one core. */
let helper: Helper | null | undefined;

function helperThread(): Helper | null {
  if (helper === undefined) {
    if (availableParallelism() < 2) return (helper = null);
    const worker = moduleWorker(import.meta.url, 'row-worker');
    // The helper never keeps the process alive, and one that cannot start leaves its rows to the caller.
    worker.unref();
    worker.on('error', () => undefined);
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    const flags = new Int32Array(new SharedArrayBuffer(8));
    worker.postMessage({ replies: port2, flags } satisfies HelperSetup, [port2]);
    helper = { worker, replies: port1, flags, taken: 0, nextId: 0 };
  }
  return helper;
}

/**
 * Starts the helper (if the machine has a second core) and resolves once it takes jobs: true, or
 * false when there is none or it did not start within `timeoutMs`. Loads start it lazily, on their
 * first large weight (a cached load needs none); a caller that must have it (a test) waits here.
 */
export async function startRowHelper(timeoutMs = 10_000): Promise<boolean> {
  const h = helperThread();
  if (h === null) return false;
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(h.flags, READY) !== 1) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** The helper's reply to job `id`; null when it does not come within `timeoutMs` (the helper died or never started). */
function awaitReply(h: Helper, id: number, timeoutMs: number): RowReply | null {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const received = receiveMessageOnPort(h.replies);
    if (received) {
      h.taken++;
      const reply = received.message as RowReply;
      if (reply.id === id) return reply;
      continue; // a late reply to a job given up on
    }
    const left = deadline - performance.now();
    if (left <= 0) return null;
    Atomics.wait(h.flags, POSTED, h.taken, Math.min(left, 1000));
  }
}

function runRowTask(task: RowTask, weight: WeightRows): RowTaskOutput {
  const { rows, cols } = weight;
  const output = allocateOutput(task, rows, cols);
  const origin = rowsOrigin(weight);
  const h = origin !== null && rows * cols >= MIN_HELPED_WEIGHTS ? helperThread() : null;
  // Until the helper has started (its modules load while the first weights are read), work alone.
  if (h === null || origin === null || Atomics.load(h.flags, READY) !== 1) {
    runRows(task, weight, output, 0, rows);
    return output;
  }
  const split = Math.ceil(rows / 2);
  const id = h.nextId++;
  const job: RowJob = { id, task, origin: originSlice(origin, split, rows) };
  const { source } = job.origin;
  h.worker.postMessage(job, source.kind === 'memory' ? [source.bytes.buffer as ArrayBuffer] : []);
  runRows(task, weight, output, 0, split);
  // The helper's half takes as long as ours; minutes without a reply means it is gone.
  const reply = awaitReply(h, id, 120_000);
  if (reply !== null && 'output' in reply) joinOutput(task, output, reply.output, split, rows, cols);
  else runRows(task, weight, output, split, rows);
  return output;
}

/** Symmetric int8 per output channel, [in, out] (int8.ts), on two cores. */
export function quantizeInt8(weight: WeightRows): Int8Linear {
  return runRowTask({ kind: 'int8' }, weight) as Int8Linear;
}

/** 4-bit blocks in MatMulNBits' layout (int4.ts), on two cores. */
export function quantizeInt4(weight: WeightRows, blockSize: number): Int4Linear {
  return runRowTask({ kind: 'int4', blockSize }, weight) as Int4Linear;
}

/** 8-bit blocks in MatMulNBits' layout (int8-blocks.ts), on two cores. */
export function quantizeInt8Blocks(weight: WeightRows, blockSize: number): Int8BlockLinear {
  return runRowTask({ kind: 'int8-blocks', blockSize }, weight) as Int8BlockLinear;
}

/** Raises `into[j]` to the largest |w| of input column j over every row of `weight`, on two cores. */
export function accumulateColumnAbsMax(weight: WeightRows, into: Float32Array): void {
  const max = runRowTask({ kind: 'column-abs-max' }, weight) as Float32Array;
  for (let j = 0; j < weight.cols; j++) if (max[j]! > into[j]!) into[j] = max[j]!;
}
