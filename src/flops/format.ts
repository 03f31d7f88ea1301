// `visdrop flops` output: the --json object (exactly flops, ratio, averageImageTokens and
// imageTokensPerLayer, then imageTokens when an image size gave the count) and a small readable
// table, FLOPs in the unit the accounting's paper prints (PyramidDrop: TFLOPs in total; FastV:
// GFLOPs, "B", per layer).
import type { Accounting, FlopsResult } from './count.js';
import type { ResolvedFlopsOptions } from './options.js';

export interface FlopsJson extends FlopsResult {
  /** The image tokens counted from --image-size; absent when --image-tokens gave them. */
  readonly imageTokens?: number;
}

export function flopsJson(result: FlopsResult, resolved?: ResolvedFlopsOptions): FlopsJson {
  const { flops, ratio, averageImageTokens, imageTokensPerLayer } = result;
  return { flops, ratio, averageImageTokens, imageTokensPerLayer, ...(resolved?.image ? { imageTokens: resolved.input.imageTokens } : {}) };
}

const ACCOUNTING_TITLES: Readonly<Record<Accounting, string>> = {
  pdrop: 'PyramidDrop paper: image tokens only, FFN x3, total',
  fastv: 'FastV paper: all prompt tokens, FFN x2, average per layer',
  full: 'this engine: every token and MatMul, strategy scoring included',
};

/** FLOPs as the accounting's paper prints them; `full` picks the unit by size (tiny checkpoints). */
export function formatFlops(flops: number, accounting: Accounting): string {
  if (accounting === 'pdrop') return `${(flops / 1e12).toFixed(4)} TFLOPs`;
  if (accounting === 'fastv') return `${(flops / 1e9).toFixed(2)} GFLOPs per layer`;
  const [scale, prefix, digits] = ([[1e12, 'T', 4], [1e9, 'G', 2], [1e6, 'M', 2]] as const).find(([s]) => flops >= s) ?? [1, '', 0];
  return `${(flops / scale).toFixed(digits)} ${prefix}FLOPs`;
}

/** Per-layer counts as stages: [576, 576, 288] -> "2×576 → 1×288". */
export function formatStages(perLayer: readonly number[]): string {
  const stages: { layers: number; tokens: number }[] = [];
  for (const tokens of perLayer) {
    const last = stages.at(-1);
    if (last?.tokens === tokens) last.layers++;
    else stages.push({ layers: 1, tokens });
  }
  return stages.map((s) => `${s.layers}×${s.tokens}`).join(' → ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatFlopsTable(resolved: ResolvedFlopsOptions, result: FlopsResult): string {
  const { input, model, image } = resolved;
  const t = input.text;
  const reducer = input.reducer;
  // Ratios such as 0.19^3 print as 0.006859, not 0.0068590000000000005.
  const show = (value: unknown) => (typeof value === 'number' ? String(Number(value.toPrecision(10))) : String(value));
  const strategy = reducer
    ? `${reducer.name} ${Object.entries(reducer.options).map(([key, value]) => `${key}=${Array.isArray(value) ? value.map(show).join(',') : show(value)}`).join(' ')}`
    : 'none';
  const text = input.accounting === 'pdrop' ? 'text not counted' : `${input.textTokens} text`;
  const from = image ? ` (from a ${image.width}x${image.height} image: ${plural(image.tileRows, 'row')} x ${plural(image.tileCols, 'column')} of tiles)` : '';
  const rows: [string, string][] = [
    ['accounting', `${input.accounting} (${ACCOUNTING_TITLES[input.accounting]})`],
    ['model', `${model} (d ${t.hiddenSize}, MLP ${t.intermediateSize}, ${t.numLayers} layers)`],
    ['strategy', strategy],
    ['tokens', `${input.imageTokens} image${from}, ${text}${input.vision ? ', vision tower and projector counted' : ''}`],
    ['FLOPs', formatFlops(result.flops, input.accounting)],
    ['ratio', `${(100 * result.ratio).toFixed(2)} % of no reduction (${formatFlops(result.flops / result.ratio, input.accounting)})`],
    ['avg image tokens', String(Number(result.averageImageTokens.toFixed(2)))],
    ['image tokens', formatStages(result.imageTokensPerLayer)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}\n`).join('');
}
