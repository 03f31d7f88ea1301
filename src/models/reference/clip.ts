// CLIPVisionModel's forward pass in float64: patch embedding, class token, position embeddings,
// pre_layrnorm, then pre-norm transformer layers. Returns every hidden state, as HF's hidden_states.
import type { LlavaArch } from '../../config/llava.js';
import { ImageError } from '../../errors.js';
import { attention } from './attention.js';
import { add, gelu, layerNorm, linear, quickGelu } from './math.js';
import { tensor, type WeightLookup } from './weights.js';

const PREFIX = 'vision_tower.vision_model';

/**
 * Runs all vision layers on pixel values [1, 3, S, S]. hiddenStates[0] is the embeddings after
 * pre_layrnorm, hiddenStates[i+1] the output of layer i; each [numPatches+1, Dv].
 */
export function referenceVision(
  arch: LlavaArch,
  w: WeightLookup,
  pixelValues: Float32Array,
): { hiddenStates: Float64Array[] } {
  const v = arch.vision;
  const tokens = v.numPatches + 1;
  const dim = v.hiddenSize;
  let h = layerNorm(
    embeddings(arch, w, pixelValues),
    tokens,
    dim,
    tensor(w, `${PREFIX}.pre_layrnorm.weight`, [dim]),
    tensor(w, `${PREFIX}.pre_layrnorm.bias`, [dim]),
    v.layerNormEps,
  );
  const hiddenStates = [h];
  for (let i = 0; i < v.numLayers; i++) {
    h = encoderLayer(arch, w, `${PREFIX}.encoder.layers.${i}`, h);
    hiddenStates.push(h);
  }
  return { hiddenStates };
}

// [class_embedding; conv patches in raster order] + position_embedding: [numPatches+1, Dv].
export function embeddings(arch: LlavaArch, w: WeightLookup, pixelValues: Float32Array): Float64Array {
  const { hiddenSize: dim, imageSize: size, patchSize: p, gridSize, numPatches } = arch.vision;
  if (pixelValues.length !== 3 * size * size) {
    throw new ImageError({
      subject: 'pixel values',
      expected: `[1, 3, ${size}, ${size}] = ${3 * size * size} values`,
      found: `${pixelValues.length} values`,
    });
  }
  const conv = tensor(w, `${PREFIX}.embeddings.patch_embedding.weight`, [dim, 3, p, p]);
  const classEmbedding = tensor(w, `${PREFIX}.embeddings.class_embedding`, [dim]);
  const positions = tensor(w, `${PREFIX}.embeddings.position_embedding.weight`, [numPatches + 1, dim]);
  const out = new Float64Array((numPatches + 1) * dim);
  for (let d = 0; d < dim; d++) out[d] = classEmbedding[d]!;
  for (let py = 0; py < gridSize; py++) {
    for (let px = 0; px < gridSize; px++) {
      const row = 1 + py * gridSize + px;
      for (let d = 0; d < dim; d++) {
        let sum = 0;
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              const pixel = pixelValues[(c * size + py * p + ky) * size + px * p + kx]!;
              sum += pixel * conv[((d * 3 + c) * p + ky) * p + kx]!;
            }
          }
        }
        out[row * dim + d] = sum;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + positions[i]!;
  return out;
}

// h + out_proj(attn(ln1(h))), then h + fc2(act(fc1(ln2(h)))).
export function encoderLayer(arch: LlavaArch, w: WeightLookup, prefix: string, h: Float64Array): Float64Array {
  const v = arch.vision;
  const tokens = v.numPatches + 1;
  const dim = v.hiddenSize;
  const dense = (x: Float64Array, name: string, inDim: number, outDim: number) =>
    linear(
      x,
      tokens,
      inDim,
      outDim,
      tensor(w, `${prefix}.${name}.weight`, [outDim, inDim]),
      tensor(w, `${prefix}.${name}.bias`, [outDim]),
    );
  const norm = (x: Float64Array, name: string) =>
    layerNorm(
      x,
      tokens,
      dim,
      tensor(w, `${prefix}.${name}.weight`, [dim]),
      tensor(w, `${prefix}.${name}.bias`, [dim]),
      v.layerNormEps,
    );

  const n1 = norm(h, 'layer_norm1');
  const attended = attention(
    dense(n1, 'self_attn.q_proj', dim, dim),
    dense(n1, 'self_attn.k_proj', dim, dim),
    dense(n1, 'self_attn.v_proj', dim, dim),
    { tokens, numHeads: v.numHeads, numKvHeads: v.numHeads, headDim: v.headDim, causal: false },
  );
  h = add(h, dense(attended, 'self_attn.out_proj', dim, dim));

  const act = v.hiddenAct === 'quick_gelu' ? quickGelu : gelu;
  const hidden = dense(norm(h, 'layer_norm2'), 'mlp.fc1', dim, v.intermediateSize).map(act);
  return add(h, dense(hidden, 'mlp.fc2', v.intermediateSize, dim));
}
