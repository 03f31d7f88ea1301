// The full accounting of DART and DivPrune: the kept counts each layer runs (DART's 132 of 576 after
// layer 2, 324 on LLaVA-NeXT; DivPrune's 56 from the first layer on) and each method's own scoring
// work, worked out by hand for LLaVA-1.5-7B (d 4096, 32 heads x 128).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeLlavaConfig } from '../config/llava.js';
import { dart } from '../reduce/dart.js';
import { divPrune } from '../reduce/divprune.js';
import { countFlops } from './count.js';
import { FLOPS_PRESETS } from './presets.js';

const text = normalizeLlavaConfig(FLOPS_PRESETS['llava-1.5-7b']!).text;
const withoutScoring = (perLayer: readonly number[]) => countFlops({ text, imageTokens: 576, imageTokensPerLayer: perLayer, textTokens: 40, accounting: 'full' }).flops;

describe('flops of dart and divprune (full accounting)', () => {
  it('dart: 2 layers on 576, 30 on 132, plus key norms, the final norm weight and 8 pivots x shrinking pools of cosines', () => {
    const result = countFlops({ text, imageTokens: 576, textTokens: 40, accounting: 'full', reducer: dart() });
    const perLayer = [576, 576, ...Array<number>(30).fill(132)];
    assert.deepEqual(result.imageTokensPerLayer, perLayer);
    // 616 x 4096 key values; (576 + 4) x 4096 norm weights; 4 x 4096 x (572 + 556 + ... + 460 = 4128).
    assert.equal(result.flops - withoutScoring(perLayer), 616 * 4096 + 580 * 4096 + 4 * 4096 * 4128);
  });

  it('dart on LLaVA-NeXT budgets floor(min(320, N - 4) / 8) per pivot', () => {
    const next = normalizeLlavaConfig(FLOPS_PRESETS['llava-next-7b']!).text;
    const result = countFlops({ text: next, imageTokens: 2928, textTokens: 40, accounting: 'full', reducer: dart(), anyres: true });
    assert.equal(result.imageTokensPerLayer.at(-1), 324);
  });

  it('divprune: every layer on 56, plus the 576 x 576 cosine matrix and the greedy minima', () => {
    const result = countFlops({ text, imageTokens: 576, textTokens: 40, accounting: 'full', reducer: divPrune() });
    const perLayer = Array<number>(32).fill(56);
    assert.deepEqual(result.imageTokensPerLayer, perLayer);
    assert.equal(result.flops - withoutScoring(perLayer), 3 * 576 * 4096 + 2 * 576 * 576 * 4096 + 576 * 576 + 56 * 576);
  });
});
