// glibc's malloc serves a large block from mmap (returned to the system when freed, and faulted in
// page by page, zeroed, when next allocated) above a threshold it raises at run time, up to 32 MiB,
// each time such a block is freed. onnxruntime runs here without its per-session arenas (session.ts),
// so every operator's output is a fresh malloc: under mmap, a prefill pays a page fault for every
// 4 KiB of every activation, every run. The CLI fixes the threshold at glibc's ceiling, 32 MiB:
// a 616-token prefill's activations (10-27 MB at a 7B's widths) come from the heap and are reused,
// while the largest blocks (weights being converted) still go back to the system when freed.
// Measured on the 7B cut to 8 decoder layers, q8, AMD EPYC VM (README, "Memory"): against a 64 KiB
// threshold (every activation in mmap), prefill 14.6 -> 7.0 s, decode 135 -> 101 ms/token, peak
// RSS 2.94 -> 3.33 GiB. Where the kernel hands out transparent huge pages on request (Linux's
// default, `madvise`), glibc's `glibc.malloc.hugetlb=1` tunable asks for them on every block it
// maps, so a fresh 27 MB activation can fault in 2 MiB pages (14) instead of 4 KiB ones (6600).
// Measured on the same machine: one q8 Linear at 616 rows 273 -> 127 ms (ORT's profiler), a cached
// load 8.4 -> 5.7 s (README, "Memory"). `glibc.malloc.arena_max=1` keeps every thread's blocks in
// that one heap: a thread of its own otherwise gets an arena of mmap'd 64 MiB heaps, and the
// load's helper thread (quant/row-pool.ts) spent 3.8 s of its ~17 s busy allocating its fresh
// outputs on the 8-layer cut (node's CPU profile), 0.2 s with one arena; that those heaps fault in
// 4 KiB pages where the main heap gets huge ones is our reading of it, not measured. glibc reads these
// settings once, at process start, so the CLI relaunches itself with them set.
import { spawn } from 'node:child_process';

const MMAP_THRESHOLD = 'MALLOC_MMAP_THRESHOLD_';
/** glibc's largest accepted value on 64-bit (HEAP_MAX_SIZE / 2); above it the setting is ignored. */
const MMAP_THRESHOLD_BYTES = String(32 * 1024 * 1024);
const TUNABLES = 'GLIBC_TUNABLES';
const MALLOC_TUNABLES = ['glibc.malloc.hugetlb=1', 'glibc.malloc.arena_max=1'];

/** `GLIBC_TUNABLES` with huge pages and one arena asked for, keeping the user's tunables (theirs win where they set the same). */
export function tunablesWithMallocSettings(current: string | undefined): string {
  const theirs = current === undefined || current === '' ? [] : current.split(':');
  const ours = MALLOC_TUNABLES.filter((tunable) => !theirs.some((entry) => entry.startsWith(tunable.slice(0, tunable.indexOf('=') + 1))));
  return [...ours, ...theirs].join(':');
}

/**
 * On Linux without the setting, runs this same command again as a child with it and resolves to
 * the child's exit code (or re-raises its signal); otherwise resolves to null and the caller goes
 * on. SIGTERM and SIGHUP sent to the parent are passed to the child, so a server stopped by its
 * PID shuts down gracefully; SIGINT is left to the terminal, which sends it to both.
 */
export async function relaunchWithMallocSettings(): Promise<number | null> {
  if (process.platform !== 'linux' || process.env[MMAP_THRESHOLD] !== undefined) return null;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MMAP_THRESHOLD]: MMAP_THRESHOLD_BYTES, [TUNABLES]: tunablesWithMallocSettings(process.env[TUNABLES]) },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = new Map<NodeJS.Signals, () => void>([
    ['SIGTERM', forward('SIGTERM')],
    ['SIGHUP', forward('SIGHUP')],
    ['SIGINT', () => {}],
  ]);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  for (const [name, handler] of handlers) process.off(name, handler);
  if (signal) process.kill(process.pid, signal);
  return code ?? 1;
}
