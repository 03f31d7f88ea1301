// An AdamW update worker: between phases it waits for a BeginMessage on its port; in a phase it
// processes its ring of slots in order (waiting on each with Atomics.wait) until an END job, then
// returns to its event loop, so an idle worker blocks nothing and is ended with the process.
// The sum of squares is carried from one slot to the next and restarted on a tensor's first
// chunk: the main thread gives a tensor's chunks to one worker in order, as adamw-protocol says.
import { workerData } from 'node:worker_threads';
import { addSquares, COEFFICIENT_KEYS, updateRange, type UpdateCoefficients } from './adamw-kernel.js';
import {
  COUNT,
  DONE,
  END,
  EXITED,
  FAILED,
  FIRST,
  JOB_FIELDS,
  KIND,
  NUMBER_FIELDS,
  OFFSET,
  READY,
  SQUARES,
  STARTED,
  TENSOR,
  UPDATE,
  type BeginMessage,
  type FailureMessage,
  type WorkerSetup,
} from './adamw-protocol.js';

const setup = workerData as WorkerSetup;
const { state, jobs, numbers, slots, chunk, control, events } = setup;
const moments = new Map<number, { expAvg: Float32Array; expAvgSq: Float32Array }>();

function signal(index: number): void {
  Atomics.store(control, index, 1);
  Atomics.add(events, 0, 1);
  Atomics.notify(events, 0);
}

function coefficients(slot: number): UpdateCoefficients {
  const base = slot * NUMBER_FIELDS;
  return Object.fromEntries(COEFFICIENT_KEYS.map((key, k) => [key, numbers[base + k]!])) as unknown as UpdateCoefficients;
}

function runPhase(): void {
  let sum = 0;
  for (let k = 0; ; k++) {
    const slot = k % slots;
    for (let s = Atomics.load(state, slot); s !== READY; s = Atomics.load(state, slot)) Atomics.wait(state, slot, s);
    const job = slot * JOB_FIELDS;
    const kind = jobs[job + KIND]!;
    try {
      if (kind === SQUARES) {
        if (jobs[job + FIRST] === 1) sum = 0;
        sum = addSquares(setup.grad.subarray(slot * chunk, slot * chunk + jobs[job + COUNT]!), sum);
        numbers[slot * NUMBER_FIELDS] = sum;
      } else if (kind === UPDATE) {
        const tensor = moments.get(jobs[job + TENSOR]!);
        if (!tensor) throw new Error(`no moments registered for tensor ${jobs[job + TENSOR]}`);
        const offset = jobs[job + OFFSET]!;
        const count = jobs[job + COUNT]!;
        updateRange(
          setup.param.subarray(slot * chunk, slot * chunk + count),
          setup.grad.subarray(slot * chunk, slot * chunk + count),
          tensor.expAvg.subarray(offset, offset + count),
          tensor.expAvgSq.subarray(offset, offset + count),
          coefficients(slot),
        );
      } else if (kind !== END) {
        throw new Error(`unknown job ${kind}`);
      }
    } catch (error) {
      setup.port.postMessage({ error: (error as Error).stack ?? String(error) } satisfies FailureMessage);
      Atomics.store(state, slot, FAILED);
      Atomics.add(events, 0, 1);
      Atomics.notify(events, 0);
      return;
    }
    Atomics.store(state, slot, DONE);
    Atomics.add(events, 0, 1);
    Atomics.notify(events, 0);
    if (kind === END) return;
  }
}

setup.port.on('message', (message: BeginMessage) => {
  for (const [id, expAvg, expAvgSq] of message.moments) moments.set(id, { expAvg, expAvgSq });
  runPhase();
});
// However the worker stops (terminate, an uncaught error), a main thread waiting on it hears so.
process.on('exit', () => signal(EXITED));
signal(STARTED);
