// What the server reports that only the layers under the CLI compute, handed to it as functions
// (serve/ sits above flops/ and show/): the FLOPs ratio of a request's prefill in the full
// accounting (flops/count.ts, with the counts the run kept), and show's kept-patch picture.
import { countFlops } from '../flops/index.js';
import type { ReductionReporting } from '../serve/index.js';
import { keptPatchesPicture } from '../show/kept-patches-picture.js';

export const serveReporting: ReductionReporting = {
  flopsRatio(model, prefill, reducer) {
    const range = prefill.imageTokenRange;
    if (!range) return null;
    const reduction = prefill.reduction;
    const decoderImageTokens = range[1] - range[0];
    // After a vision-stage merge the baseline is the image's tokens before it: every patch token.
    const imageTokens = reduction?.vision ? reduction.vision.imageTokenOrder.reduce((n, patches) => n + patches.length, 0) : decoderImageTokens;
    try {
      return countFlops({
        text: model.arch.text,
        vision: model.arch,
        imageTokens,
        imageTokensPerLayer: reduction?.imageTokensPerLayer ?? Array<number>(model.arch.text.numLayers).fill(decoderImageTokens),
        textTokens: prefill.promptTokens - decoderImageTokens,
        accounting: 'full',
        reducer,
      }).ratio;
    } catch {
      // A strategy whose scoring work the full accounting does not know yet: no ratio rather than a wrong one.
      return null;
    }
  },
  async picture(model, pixels, reduction) {
    return (await keptPatchesPicture(model, pixels, reduction)).png;
  },
};
