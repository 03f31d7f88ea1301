// The token-reduction flags that generate, bench, flops and show share: --reduce
// none|fastv|pdrop|mustdrop|mustdrop-vision+fastv|mustdrop-vision+pdrop|visionzip|sparsevlm|dart|divprune,
// --fastv-k/--fastv-r, --pdrop-layers with --pdrop-ratios or --pdrop-lambda, --mustdrop-*,
// --visionzip-*, --sparsevlm-*, --dart-*, --divprune-*. The strategies they build
// come from reduce/registry.ts.
import type { Command } from 'commander';
import { OptionError } from '../errors.js';
import { STRATEGY_NAMES } from '../reduce/registry.js';
import { parseNumber, parseWholeNumber } from './options.js';

function numberList(flag: string, parseItem: (text: string) => number): (text: string) => number[] {
  return (text) => text.split(',').map((item) => parseItem(item.trim()));
}

/** Adds the strategy flags to `command`; `list` lets --reduce name several strategies (bench). */
export function addReduceFlags(command: Command, list = false): Command {
  return command
    .option(
      '--reduce <name>',
      list ? `strategies to compare, comma-separated: ${STRATEGY_NAMES.join(', ')}` : `token reduction: ${STRATEGY_NAMES.join(', ')}`,
    )
    .option('--fastv-k <K>', 'FastV: decoder layers run before the drop (default 2)', parseWholeNumber('--fastv-k', 0))
    .option('--fastv-r <R>', 'FastV: share of image tokens dropped (default 0.5)', parseNumber('--fastv-r', () => true, 'a number'))
    .option('--pdrop-layers <list>', 'PyramidDrop: layer counts after which to drop (default 8,16,24)', numberList('--pdrop-layers', parseWholeNumber('--pdrop-layers', 0)))
    .option('--pdrop-ratios <list>', 'PyramidDrop: kept share of the original image tokens per stage', numberList('--pdrop-ratios', parseNumber('--pdrop-ratios', () => true, 'numbers')))
    .option('--pdrop-lambda <L>', 'PyramidDrop: ratios L, L^2, L^3, ... (default 0.5)', parseNumber('--pdrop-lambda', () => true, 'a number'))
    .option('--mustdrop-budget <n>', 'MustDrop: the shipped thresholds for a 192, 128 or 64 token budget (default 192)', parseWholeNumber('--mustdrop-budget', 1))
    .option('--mustdrop-global-thr <G>', 'MustDrop: drop when the share of text attention is below G ...', parseNumber('--mustdrop-global-thr', () => true, 'a number'))
    .option('--mustdrop-individual-thr <I>', '... and the largest single text attention is below I', parseNumber('--mustdrop-individual-thr', () => true, 'a number'))
    .option('--mustdrop-layers <list>', 'MustDrop: decoder layers after which to filter (default 2,6,10,14)', numberList('--mustdrop-layers', parseWholeNumber('--mustdrop-layers', 0)))
    .option('--mustdrop-stages <list>', 'MustDrop: stages to run, any of vision,prefill,decode (default all)', (text: string) => text.split(',').map((s) => s.trim()))
    .option('--mustdrop-corrected-positions', "MustDrop: decode positions consistent with the cached keys (the code's are not, see README)")
    .option('--dart-layer <K>', 'DART: decoder layers run before the drop; layer K-1 gives keys and states (default 2)', parseWholeNumber('--dart-layer', 0))
    .option('--dart-pivot-image <n>', 'DART: image pivots, by the L1 norm of their keys (default 4)', parseWholeNumber('--dart-pivot-image', 0))
    .option('--dart-pivot-text <n>', 'DART: text pivots after the image (default 4)', parseWholeNumber('--dart-pivot-text', 0))
    .option('--dart-max-tokens <M|none>', 'DART: M, each pivot picks floor(M / pivots) tokens; none: use --dart-ratio (default 128)', (text: string) => {
      if (text.trim() === 'none') return null;
      const value = Number(text);
      if (text.trim() === '' || !Number.isInteger(value) || value < 1) {
        throw new OptionError({ subject: '--dart-max-tokens', expected: 'a whole number >= 1, or none', found: JSON.stringify(text) });
      }
      return value;
    })
    .option('--dart-ratio <r>', 'DART: without M, each pivot picks floor(N(1-r) / pivots) tokens (default 0.778)', parseNumber('--dart-ratio', () => true, 'a number'))
    .option('--dart-next-budget <B>', 'DART on LLaVA-NeXT: each pivot picks floor(min(B, N - pivots) / pivots) (default 320)', parseWholeNumber('--dart-next-budget', 1))
    .option('--divprune-ratio <r>', 'DivPrune: keep round(r N) image tokens (default 0.098)', parseNumber('--divprune-ratio', () => true, 'a number'))
    .option('--divprune-keep <K>', 'DivPrune: keep exactly K image tokens instead of a ratio', parseWholeNumber('--divprune-keep', 1))
    .option('--visionzip-dominant <D>', 'VisionZip: tokens kept by class-token attention, the class token included (default 54)', parseWholeNumber('--visionzip-dominant', 1))
    .option('--visionzip-contextual <C>', 'VisionZip: contextual tokens merged by key similarity (default 10)', parseWholeNumber('--visionzip-contextual', 1))
    .option('--sparsevlm-layers <list>', 'SparseVLM: layer counts after which to prune (default 3,7,16,20, the code\'s pruning_loc + 1)', numberList('--sparsevlm-layers', parseWholeNumber('--sparsevlm-layers', 1)))
    .option('--sparsevlm-scale <s>', 'SparseVLM: kept k = min(int(rank x s + bias), N - 1) (default 13.5)', parseNumber('--sparsevlm-scale', () => true, 'a number'))
    .option('--sparsevlm-bias <b>', 'SparseVLM: the bias of k (default 0)', parseNumber('--sparsevlm-bias', () => true, 'a number'))
    .option('--sparsevlm-preset <n>', "SparseVLM: the README's (scale, bias) for 192, 128 or 64: (13.5, 0), (9, 6), (0.8, 0)", parseWholeNumber('--sparsevlm-preset', 1))
    .option('--sparsevlm-recycle-ratio <r>', 'SparseVLM: recycled candidates int(r x dropped) + 1 (default 0.3)', parseNumber('--sparsevlm-recycle-ratio', () => true, 'a number'))
    .option('--sparsevlm-no-recycle', 'SparseVLM: drop without recycling (as its v2.0)')
    .option('--sparsevlm-seed <n>', "SparseVLM: seed of the clustering's tie-breaking noise, torch.manual_seed's stream (default 0)", parseWholeNumber('--sparsevlm-seed', 0));
}

