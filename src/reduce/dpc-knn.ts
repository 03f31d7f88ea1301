// DPC-kNN clustering as SparseVLM's `cluster_and_merge` (from TCFormer) computes it, in float32 step
// by step (Math.fround), since its density ties are broken by noise of 1e-6 that float32 sums can
// swallow (sparsevlm.md section 4, ambiguity 6):
//   D[i,j] = |x_i - x_j| / sqrt(C); density_i = exp(-mean of the k smallest D[i,:]^2) + u_i 1e-6;
//   delta_i = min over denser j of D[i,j] (else max D); centres = top k of delta x density;
//   every point joins the nearest centre (first on ties), each centre its own cluster.
// The centres are numbered in torch.topk's order, ties included: mutual nearest neighbours have equal
// densities, and when the noise cannot part them in float32 the two score alike.
// Legend: n points of width C, k clusters.
import { torchTopk } from '../util/torch-topk.js';

const f = Math.fround;

/** Float32 pairwise distances / sqrt(C), [n, n], symmetric by construction. */
function distances(points: readonly Float32Array[], width: number): Float32Array[] {
  const n = points.length;
  const scale = f(Math.sqrt(width));
  const out = Array.from({ length: n }, () => new Float32Array(n));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let sum = 0;
      for (let d = 0; d < width; d++) {
        const diff = f(points[i]![d]! - points[j]![d]!);
        sum += diff * diff;
      }
      const dist = f(f(Math.sqrt(sum)) / scale);
      out[i]![j] = dist;
      out[j]![i] = dist;
    }
  }
  return out;
}

/**
 * Cluster id of each point (ids = rank of the centre by score, 0 first). `noise` yields one uniform
 * [0, 1) value per point, in point order (torch.rand of the density's shape).
 */
export function dpcKnnClusters(points: readonly Float32Array[], width: number, clusters: number, noise: () => number): number[] {
  const n = points.length;
  const D = distances(points, width);
  const density = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const nearest = Array.from(D[i]!).sort((a, b) => a - b).slice(0, clusters);
    let sum = 0;
    for (const d of nearest) sum = f(sum + f(d * d));
    density[i] = f(Math.exp(-f(sum / clusters)));
  }
  const tiny = f(1e-6);
  for (let i = 0; i < n; i++) density[i] = f(density[i]! + f(f(noise()) * tiny));
  let distMax = 0;
  for (const row of D) for (const d of row) distMax = Math.max(distMax, d);
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let delta = distMax;
    for (let j = 0; j < n; j++) if (density[j]! > density[i]! && D[i]![j]! < delta) delta = D[i]![j]!;
    score[i] = f(delta * density[i]!);
  }
  const centres = torchTopk(score, clusters);
  const assignment = Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < clusters; c++) if (D[centres[c]!]![i]! < D[centres[best]!]![i]!) best = c;
    return best;
  });
  centres.forEach((centre, c) => (assignment[centre] = c));
  return assignment;
}
