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

/** The training bar: steps with loss, tokens/s and ETA; on a pipe, a plain line every twentieth of the run. */
export function trainProgressBar(enabled: boolean): { update: (step: number, total: number, loss: number, tokensPerSecond: number) => void; stop: () => void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    return {
      update: (step, total, loss, tokensPerSecond) => {
        if (step === total || step % Math.max(1, Math.round(total / 20)) === 0) {
          process.stderr.write(`step ${step}/${total} loss ${loss.toFixed(4)} ${tokensPerSecond.toFixed(0)} tok/s\n`);
        }
      },
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'training [{bar}] {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (step, total, loss, tokensPerSecond) => {
      const payload = { loss: loss.toFixed(4), tps: tokensPerSecond.toFixed(0) };
      if (!started) {
        bar.start(total, step - 1, payload);
        started = true;
      }
      bar.update(step, payload);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
