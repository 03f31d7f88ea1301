// What a run's answers cost on average: the full-accounting FLOPs ratio, the image tokens entering
// a decoder layer (sum over layers / L, PyramidDrop's "average tokens"), and the measured prefill.
import type { AnswerLine } from './answers-file.js';

export interface CostSummary {
  readonly flopsRatio: number | null;
  readonly averageImageTokens: number | null;
  readonly prefillMs: number | null;
}

const meanOf = (values: readonly number[]) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);

export function costSummary(answers: readonly AnswerLine[]): CostSummary {
  const extras = answers.flatMap((a) => (a.visdrop ? [a.visdrop] : []));
  return {
    flopsRatio: meanOf(extras.flatMap((e) => (e.flopsRatio === null ? [] : [e.flopsRatio]))),
    averageImageTokens: meanOf(extras.map((e) => meanOf(e.imageTokensPerLayer) ?? 0)),
    prefillMs: meanOf(extras.map((e) => e.timings.prefillMs)),
  };
}
