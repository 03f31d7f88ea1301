// How much of the machine other processes took while the bench timed something: every core's busy
// time less this process's own CPU time, over the cores' wall time. Other work slows a timed run
// down (a GEMM split over all cores waits for its slowest thread), so this says which timings to distrust.
import { cpus } from 'node:os';

export interface CpuMark {
  /** Busy time of all cores (user, nice, sys, irq), in ms. */
  readonly busyMs: number;
  /** This process's user and system time, in ms. */
  readonly ownMs: number;
  readonly wallMs: number;
}

export function markCpu(): CpuMark {
  const busyMs = cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0);
  const own = process.cpuUsage();
  return { busyMs, ownMs: (own.user + own.system) / 1000, wallMs: performance.now() };
}

/** Share in [0, 1] of all cores' time that other processes used between two marks. */
export function othersShare(since: CpuMark, until: CpuMark = markCpu()): number {
  const wall = (until.wallMs - since.wallMs) * cpus().length;
  // The cores' counters tick in coarse steps (10 ms), so a short span can read slightly negative.
  const others = until.busyMs - since.busyMs - (until.ownMs - since.ownMs);
  return wall > 0 ? Math.min(1, Math.max(0, others / wall)) : 0;
}
