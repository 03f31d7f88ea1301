// A load progress bar with ETA on stderr, shown only when stderr is a terminal and output is not
// JSON, so piped and scripted runs stay quiet.
import cliProgress from 'cli-progress';
import type { LoadProgress } from '../index.js';

export function loadProgressBar(enabled: boolean): { onProgress?: (p: LoadProgress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'loading [{bar}] {value}/{total} graphs | ETA {eta_formatted} | {label}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      if (!started) {
        bar.start(p.total, 0, { label: p.label });
        started = true;
      }
      bar.update(p.done, { label: p.label });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
