// The picture `visdrop show` draws, from a model, the pixel values it saw and one prefill's
// reduction record: the patch geometry of LLaVA-1.5's crop or LLaVA-NeXT's base image and tiles,
// one panel per stage, as PNG bytes. Shared by the show command and the server's page.
import type { LlavaModel } from '../generate/model.js';
import type { ReductionRecord } from '../generate/prefill.js';
import type { AnyresPixelValues, PixelValues } from '../generate/vision.js';
import { drawStages, type PanelImage } from './draw-stages.js';
import { NEXT_PADDING_LABEL, nextPicture } from './next-picture.js';
import { nextImageTokens, nextTokenLayout } from './next-tokens.js';
import { pixelValuesToRgb } from './preprocessed-rgb.js';
import { stagePanels, strategyTitle, type TokenGrid } from './stage-panels.js';

/** How the decoder's image tokens map to patches, and the picture the panels show. */
interface Geometry {
  readonly grid: TokenGrid;
  readonly picture: PanelImage;
}

/** LLaVA-1.5: the one crop under a square patch grid. */
function clipGeometry(model: LlavaModel, pixels: PixelValues): Geometry {
  // With the `full` feature selection CLIP's class token is the first image token; it is no patch.
  return {
    grid: { imageTokens: model.arch.imageTokensPerImage, classTokens: model.arch.selectStrategy === 'full' ? 1 : 0 },
    picture: { image: pixelValuesToRgb(pixels, model.preprocessing), gridSize: model.arch.vision.gridSize },
  };
}

/**
 * LLaVA-NeXT: the base image and the tiled canvas, its padding hatched; under a vision stage
 * (MustDrop's flat mode: every crop's patches have tokens, nothing unpadded) no hatching.
 */
function nextGeometry(model: LlavaModel, pixels: AnyresPixelValues, reduction: ReductionRecord): Geometry {
  const { vision, anyres } = model.arch;
  const layout = nextTokenLayout(pixels.imageSize, anyres!.pinpoints, vision.imageSize, vision.gridSize);
  const { image, patchRects, cropPatchRects, padding } = nextPicture(pixels, layout, model.anyresPreprocessing!);
  // A vision-side stage (MustDrop's merge, VisionZip's selection) runs the crops flat, as their code does.
  if (reduction.vision || reduction.stages.some((stage) => stage.where === 'vision')) {
    const crops = pixels.shape[1];
    return { grid: { imageTokens: crops * vision.numPatches, classTokens: 0, flatCrops: crops }, picture: { image, patchRects: cropPatchRects } };
  }
  return {
    grid: { imageTokens: nextImageTokens(layout), classTokens: 0, next: layout },
    picture: { image, patchRects, hatched: { rects: padding, label: NEXT_PADDING_LABEL } },
  };
}

/** The stages' picture as PNG, and the token grid it was drawn over. */
export async function keptPatchesPicture(
  model: LlavaModel,
  pixels: PixelValues | AnyresPixelValues,
  reduction: ReductionRecord,
): Promise<{ grid: TokenGrid; png: Buffer }> {
  const { grid, picture } = 'imageSize' in pixels ? nextGeometry(model, pixels, reduction) : clipGeometry(model, pixels);
  const { panels, legend } = stagePanels(reduction, grid);
  return { grid, png: await drawStages({ ...picture, title: strategyTitle(reduction), panels, legend }) };
}
