// How much of the machine others took while something was timed: other processes' busy time and the
// hypervisor's steal time (Linux /proc/stat) over the cores' wall time. Either slows a run down (a
// GEMM split over all cores waits for its slowest thread), so this says which timings to distrust.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuMark {
  /** Busy time of all cores, in ms, from /proc/stat when readable (with steal), else from os.cpus(). */
  readonly busyMs: number;
  /** Time the hypervisor ran something else on our cores, in ms (0 without /proc/stat). */
  readonly stealMs: number;
  /** This process's user and system time, in ms. */
  readonly ownMs: number;
  readonly wallMs: number;
}

/** /proc/stat counts in USER_HZ ticks, 100 per second on every Linux platform Node runs on. */
const MS_PER_TICK = 10;

export function markCpu(): CpuMark {
  const own = process.cpuUsage();
  return { ...coreTimes(), ownMs: (own.user + own.system) / 1000, wallMs: performance.now() };
}

/** Share in [0, 1] of all cores' time that other processes and the hypervisor took between two marks. */
export function othersShare(since: CpuMark, until: CpuMark = markCpu()): number {
  const wall = (until.wallMs - since.wallMs) * cpus().length;
  const others = until.busyMs - since.busyMs - (until.ownMs - since.ownMs) + (until.stealMs - since.stealMs);
  // The counters tick in 10 ms steps, so a short span can read slightly out of [0, 1].
  return wall > 0 ? Math.min(1, Math.max(0, others / wall)) : 0;
}

function coreTimes(): { busyMs: number; stealMs: number } {
  try {
    // "cpu  user nice system idle iowait irq softirq steal ...", summed over cores.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'latin1')
      .slice(0, 200)
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { busyMs: (user + nice + system + irq + softirq) * MS_PER_TICK, stealMs: steal * MS_PER_TICK };
  } catch {
    const busyMs = cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0);
    return { busyMs, stealMs: 0 };
  }
}
