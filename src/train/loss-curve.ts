// The loss curve of a run as a PNG: an SVG drawn here (axes, ticks, the per-step loss and its
// moving average) rendered by sharp.
import sharp from 'sharp';
import type { StepRecord } from './checkpoint-store.js';

export const LOSS_CURVE_FILE = 'loss-curve.png';

const WIDTH = 800;
const HEIGHT = 480;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };

/** Round, readable tick values covering [low, high]. */
export function ticks(low: number, high: number, count = 5): number[] {
  const span = high - low || Math.abs(high) || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const values: number[] = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

function movingAverage(values: readonly number[], window: number): number[] {
  return values.map((_, i) => {
    const from = Math.max(0, i - window + 1);
    const slice = values.slice(from, i + 1);
    return slice.reduce((a, b) => a + b, 0) / slice.length;
  });
}

export function lossCurveSvg(history: readonly StepRecord[]): string {
  const points = history.filter((r) => Number.isFinite(r.loss));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const steps = points.map((r) => r.step);
  const losses = points.map((r) => r.loss);
  const minStep = Math.min(...steps, 0);
  const maxStep = Math.max(...steps, 1);
  const yTicks = ticks(Math.min(...losses, 0), Math.max(...losses, 1e-6));
  const low = yTicks[0]!;
  const high = Math.max(yTicks.at(-1)!, ...losses);
  const x = (step: number) => MARGIN.left + ((step - minStep) / Math.max(1, maxStep - minStep)) * plotW;
  const y = (loss: number) => MARGIN.top + (1 - (loss - low) / Math.max(1e-12, high - low)) * plotH;
  const line = (values: readonly number[]) => values.map((v, i) => `${x(steps[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const smooth = movingAverage(losses, Math.max(1, Math.round(points.length / 20)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16">training loss</text>`,
    ...yTicks.map(
      (t) =>
        `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e4e4e4"/>` +
        `<text x="${MARGIN.left - 8}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`,
    ),
    ...ticks(minStep, maxStep).map(
      (t) => `<text x="${x(t).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 20}" text-anchor="middle">${t}</text>`,
    ),
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">optimizer step</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    points.length > 0 ? `<polyline fill="none" stroke="#9ec5e8" stroke-width="1" points="${line(losses)}"/>` : '',
    points.length > 0 ? `<polyline fill="none" stroke="#1f5fa0" stroke-width="2" points="${line(smooth)}"/>` : '',
    '</svg>',
  ];
  return parts.join('\n');
}

export async function writeLossCurve(path: string, history: readonly StepRecord[]): Promise<void> {
  await sharp(Buffer.from(lossCurveSvg(history))).png().toFile(path);
}
