// The accuracy-versus-FLOPs plot of a sweep, drawn as SVG in code: FLOPs ratio on x (0 to 1), the
// task's score on y, one line per method through its budgets, the no-reduction point marked apart.
// The PNG is the same SVG rasterised by sharp.
import sharp from 'sharp';
import type { SweepRow } from './report.js';

const WIDTH = 640;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 150, top: 36, bottom: 52 };
const COLOURS: Readonly<Record<string, string>> = { fastv: '#1f77b4', pdrop: '#d62728', mustdrop: '#2ca02c' };

const escapeXml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

export function sweepSvg(rows: readonly SweepRow[], title: string, scoreName: string): string {
  const plotted = rows.filter((r) => r.flopsRatio !== null);
  const scores = plotted.map((r) => r.score);
  let yLo = Math.min(...scores);
  let yHi = Math.max(...scores);
  const pad = Math.max((yHi - yLo) * 0.1, 1);
  yLo = Math.max(0, yLo - pad);
  yHi = yHi + pad;
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (ratio: number) => MARGIN.left + (ratio / 1.05) * w;
  const y = (score: number) => MARGIN.top + h - ((score - yLo) / (yHi - yLo)) * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left + w / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (const t of ticks(0, 1, 5)) {
    parts.push(`<line x1="${x(t)}" y1="${MARGIN.top}" x2="${x(t)}" y2="${MARGIN.top + h}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${MARGIN.top + h + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(yLo, yHi, 5)) {
    parts.push(`<line x1="${MARGIN.left}" y1="${y(t)}" x2="${MARGIN.left + w}" y2="${y(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + w / 2}" y="${HEIGHT - 12}" text-anchor="middle">prefill FLOPs ratio (full accounting)</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(scoreName)}</text>`);
  const methods = [...new Set(plotted.map((r) => r.setting.method).filter((m) => m !== 'none'))];
  methods.forEach((method, i) => {
    const colour = COLOURS[method] ?? '#555';
    const points = plotted.filter((r) => r.setting.method === method).sort((a, b) => a.flopsRatio! - b.flopsRatio!);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map((p) => `${x(p.flopsRatio!).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ')}"/>`);
    for (const p of points) {
      parts.push(`<circle cx="${x(p.flopsRatio!).toFixed(1)}" cy="${y(p.score).toFixed(1)}" r="4" fill="${colour}"><title>${escapeXml(`${p.setting.label}: ${p.score.toFixed(2)}`)}</title></circle>`);
    }
    const ly = MARGIN.top + 14 + i * 20;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 14}" y1="${ly}" x2="${WIDTH - MARGIN.right + 38}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 44}" y="${ly + 4}">${escapeXml(method)}</text>`);
  });
  const none = plotted.find((r) => r.setting.method === 'none');
  if (none) {
    const cx = x(none.flopsRatio!);
    const cy = y(none.score);
    parts.push(`<path d="M ${cx} ${cy - 7} L ${cx + 7} ${cy} L ${cx} ${cy + 7} L ${cx - 7} ${cy} Z" fill="black"/>`);
    const ly = MARGIN.top + 14 + methods.length * 20;
    parts.push(`<path d="M ${WIDTH - MARGIN.right + 26} ${ly - 6} l 6 6 l -6 6 l -6 -6 Z" fill="black"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 44}" y="${ly + 4}">no reduction</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

export async function writeSweepPng(svg: string, file: string): Promise<void> {
  await sharp(Buffer.from(svg), { density: 144 }).png().toFile(file);
}
