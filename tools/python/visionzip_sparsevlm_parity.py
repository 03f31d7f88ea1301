"""Writes test-fixtures/parity/visionzip-sparsevlm.json: what VisionZip's and SparseVLM's own code does,
end to end, on visdrop's tiny parity model, re-implemented here in torch the way the authors' code runs it.

Run by hand, never by tests, with Debian's python3-torch (torch 1.13) and numpy:
    /usr/bin/python3 tools/python/visionzip_sparsevlm_parity.py
It asks visdrop for the inputs (node --import tsx src/tools/reduction-parity.ts DIR: every weight, the
pixel values, the prompt's input embeddings as visdrop builds them, the cases) and runs, per case:

* VisionZip (dvlab-research/VisionZip @3151f6d, visionzip/clip_encoder.py CLIPVisionTower_VisionZip.forward,
  utils.py's attention and layer hooks): the whole CLIP tower in torch from the pixel values with eager
  attention; at layer L-2 (hidden_states[-2], attentions[-2], the layer's head-mean keys k_proj(ln1(x)))
  the class token plus the dominant-1 patches of largest class attention summed over heads, in token
  order; of the rest every max(1, M // C)-th a target, each other token assigned to the target of most
  cosine-similar head-mean key, contextual = target + mean(members); [cls, dominant, contextual] through
  the projector, spliced between visdrop's text embeddings; a plain LLaMA prompt (positions 0..P'-1,
  decode P' + t).
* SparseVLM v1 (Gumpest/SparseVLMs @91fb6d9, modelling_sparse_llama.py LlamaDynamicvitModel.forward,
  score.attn_postprocess_rank, utils.cluster_and_merge; llava_arch.py's raters): raters from the input
  embeddings (softmax over text of image.text dot products, mean over image rows, > mean); at each
  pruning layer (the layer counts minus one) the layer runs on the full sequence and caches it, its
  head-mean attention of the rater rows over the image block gives matrix_rank and the scores; when
  rank < N: keep topk(min(int(rank scale + bias), N - 1)) in block order, recycle the top
  int(0.3 n_drop) + 1 dropped by score through DPC-kNN on the layer's output rows (torch.rand noise after
  torch.manual_seed(seed) before the prefill), merged = index_add of x / (count + 1e-6), appended after
  the kept tokens; positions renumbered 0..P'-1; decode at each layer's own cache length.

Recorded per case: each stage's kept original image tokens, the built tokens' original members, the
image span after it (originals, "cls", built-token ids s<stage>c<j>), SparseVLM's raters/rank/k/
candidates, the last prompt position's logits, the greedy tokens and
the logits of each decode step.
"""

import sys

import torch

from parity_llava import ROOT, Clip, Llama, dump_inputs, greedy, write_goldens

OUT = ROOT / "test-fixtures" / "parity" / "visionzip-sparsevlm.json"


# ---- VisionZip, as CLIPVisionTower_VisionZip.forward and LLaVA's splice run it ----


def visionzip_features(clip, pixel_values, dominant, contextual_num):
    """The vision tower's output [1, D + C, Dv] and the stage as visdrop records it."""
    states, attentions, keys = clip.forward(pixel_values)
    attn_weights, hidden_states, metric = attentions[-2], states[-2], keys[-2]
    dominant_num = dominant - 1  # main.py: the class token counts as a dominant token
    B, T, C = hidden_states.shape
    cls_attention = attn_weights[:, :, 0, 1:]
    cls_attention_sum = cls_attention.sum(dim=1)
    topk_indices = cls_attention_sum.topk(dominant_num, dim=1).indices + 1
    all_indices = torch.cat([torch.zeros((B, 1), dtype=topk_indices.dtype), topk_indices], dim=1)
    mask = torch.ones_like(hidden_states[:, :, 0], dtype=torch.bool).scatter_(1, all_indices, False)
    dominant_tokens = hidden_states.masked_select(~mask.unsqueeze(-1)).view(B, dominant_num + 1, C)
    token_index = torch.arange(T)[None].expand(B, T)
    dominant_index = token_index.masked_select(~mask).view(B, dominant_num + 1)
    metric_filtered = metric[mask].view(B, T - (dominant_num + 1), metric.shape[2])
    hidden_states_filtered = hidden_states.masked_select(mask.unsqueeze(-1)).view(B, T - (dominant_num + 1), C)
    remaining_index = token_index.masked_select(mask).view(B, T - (dominant_num + 1))
    metric_normalized = metric_filtered / metric_filtered.norm(dim=-1, keepdim=True)
    step = max(1, metric_normalized.shape[1] // contextual_num)
    target_indices = torch.arange(0, metric_normalized.shape[1], step)[:contextual_num]
    target_tokens = metric_normalized[:, target_indices, :]
    is_merge = ~torch.isin(torch.arange(metric_normalized.shape[1]), target_indices)
    tokens_to_merge = metric_normalized[:, is_merge, :]
    similarity = torch.bmm(tokens_to_merge, target_tokens.transpose(1, 2))
    assign_one_hot = torch.zeros(B, tokens_to_merge.shape[1], contextual_num, dtype=hidden_states_filtered.dtype)
    assign_one_hot.scatter_(2, similarity.argmax(dim=2).unsqueeze(-1), 1)
    counts = assign_one_hot.sum(dim=1).clamp(min=1).unsqueeze(-1)
    hidden_to_merge = hidden_states_filtered[:, is_merge, :]
    aggregated_hidden = torch.bmm(assign_one_hot.transpose(1, 2), hidden_to_merge) / counts
    target_hidden = hidden_states_filtered[:, target_indices, :]
    contextual_tokens = target_hidden + aggregated_hidden
    features = torch.cat([dominant_tokens, contextual_tokens], dim=1)

    # The record: patch j is token j + 1; a contextual token's members are its target and those assigned to it.
    kept = [t - 1 for t in dominant_index[0].tolist()[1:]]
    merge_ids = remaining_index[0][is_merge]
    assign = similarity.argmax(dim=2)[0]
    targets = remaining_index[0][target_indices].tolist()
    created = [sorted(m - 1 for m in [target] + merge_ids[assign == slot].tolist()) for slot, target in enumerate(targets)]
    order = ["cls"] + kept + [f"s1c{j}" for j in range(contextual_num)]
    return features, {"where": "vision", "keptImageTokens": kept, "created": created, "order": order}


def run_visionzip(llava, embeds, start, length, options, new_tokens):
    model, clip, pixel_values = llava
    features, stage = visionzip_features(clip, pixel_values, options["dominant"], options["contextual"])
    hidden = torch.cat([embeds[:, :start], clip.project(features), embeds[:, start + length :]], dim=1)
    prompt_length = hidden.shape[1]
    logits, cache = model.prefill(hidden)
    decoded = greedy(model, logits, cache, lambda t, _layer: prompt_length + t, new_tokens)
    return [stage], logits, decoded


# ---- SparseVLM v1, as LlamaDynamicvitModel.forward runs it ----


def text_raters(embeds, v_token_start, v_token_num):
    """llava_arch.py's rater choice on the layer-0 input embeddings: text offsets after the image."""
    text_token_start = v_token_start + v_token_num
    v_t = embeds[:, v_token_start:text_token_start, :]
    t_t = embeds[:, text_token_start:, :]
    m_v_t = (v_t @ t_t.transpose(1, 2)).softmax(2).mean(1)
    return torch.where(m_v_t > m_v_t.mean())[1]


def attn_postprocess_rank(attn, v_token_start, v_token_num, text_rows, scale, bias):
    """score.attn_postprocess_rank on one prompt: (keep mask or None, rank, k, scores)."""
    attn = attn.mean(1)  # head mean
    relation_vis_text = attn[:, text_rows, v_token_start : v_token_start + v_token_num]
    rank = torch.linalg.matrix_rank(relation_vis_text.float())
    relation_vis_text = relation_vis_text.mean(1)
    if v_token_num - rank.item() == 0:
        return None, int(rank.item()), None, relation_vis_text
    k = min(int(rank.item() * scale + bias), v_token_num - 1)
    mask = torch.zeros_like(relation_vis_text, dtype=bool)
    _, indices = torch.topk(relation_vis_text, k, dim=1)
    mask[0][indices] = 1
    return mask, int(rank.item()), k, relation_vis_text


def cluster_and_merge(x, cluster_num):
    """utils.cluster_and_merge (DPC-kNN, TCFormer's merge): merged tokens [1, cluster_num, C] and the assignment."""
    B, N, C = x.shape
    x1 = x.unsqueeze(2)
    x2 = x.unsqueeze(1)
    distance = (x1 - x2).norm(dim=-1, p=2)
    dist_matrix = distance / (C**0.5)
    dist_nearest, _ = torch.topk(dist_matrix, k=cluster_num, dim=-1, largest=False)
    density = (-(dist_nearest**2).mean(dim=-1)).exp()
    density = density + torch.rand(density.shape, device=density.device, dtype=density.dtype) * 1e-6
    mask = density[:, None, :] > density[:, :, None]
    mask = mask.type(x.dtype)
    dist_max = dist_matrix.flatten(1).max(dim=-1)[0][:, None, None]
    dist, _ = (dist_matrix * mask + dist_max * (1 - mask)).min(dim=-1)
    score = dist * density
    _, index_down = torch.topk(score, k=cluster_num, dim=-1)
    dist_matrix = dist_matrix[0][index_down[0]].unsqueeze(0)
    idx_cluster = dist_matrix.argmin(dim=1)
    idx_cluster[0, index_down[0]] = torch.arange(cluster_num)
    # merge: each token weighted 1 / (its cluster's size + 1e-6), summed with index_add in token order
    agg_weight = x.new_ones(N, 1)
    all_weight = x.new_zeros(cluster_num, 1).index_add_(0, idx_cluster[0], agg_weight) + 1e-6
    norm_weight = agg_weight / all_weight[idx_cluster[0]]
    merged = x.new_zeros(cluster_num, C).index_add_(0, idx_cluster[0], x[0] * norm_weight)
    return merged[None], idx_cluster[0]


def run_sparsevlm(llava, embeds, start, length, options, new_tokens):
    model = llava[0]
    torch.manual_seed(options["seed"])
    pruning_loc = [layer - 1 for layer in options["layers"]]
    raters = text_raters(embeds, start, length)
    v_token_start, v_token_num = start, length
    hidden, positions, cache = embeds, torch.arange(embeds.shape[1]), {}
    # The image block: each entry an original index, or (stage id, sorted originals) of a built token.
    block = list(range(length))
    originals = lambda entry: entry[1] if isinstance(entry, tuple) else [entry]  # noqa: E731
    stages = []
    for i in range(model.layers):
        hidden, _, probs = model.layer(i, hidden, positions, cache)
        if i not in pruning_loc:
            continue
        number = len(stages) + 1
        text_token_start = v_token_start + v_token_num
        rows = (raters + text_token_start).tolist()
        mask, rank, k, scores = attn_postprocess_rank(probs, v_token_start, v_token_num, rows, options["scale"], options["bias"])
        detail = {"raters": raters.tolist(), "rank": rank}
        if mask is None:  # rank == N: the stage keeps everything
            detail.update({"k": None, "sparsified": False})
        else:
            pred = mask[0]
            kept = torch.where(pred)[0]
            dropped = torch.where(~pred)[0]
            image = hidden[:, v_token_start:text_token_start, :]
            parts = [hidden[:, :v_token_start], image[:, kept]]
            new_block = [block[j] for j in kept.tolist()]
            detail.update({"k": k, "sparsified": True})
            if options["recycle"]:
                c = int(dropped.shape[0] * options["recycleRatio"]) + 1
                candidates = dropped[scores[0][dropped].topk(c)[1]]
                cluster_num = int(c / 10) + 1
                merged, assignment = cluster_and_merge(image[:, candidates, :], cluster_num)
                parts.append(merged)
                for cid in range(cluster_num):
                    members = candidates[assignment == cid].tolist()
                    new_block.append((f"s{number}c{cid}", sorted(sum((originals(block[m]) for m in members), []))))
                detail["candidates"] = candidates.tolist()
            hidden = torch.cat(parts + [hidden[:, text_token_start:]], dim=1)
            positions = torch.arange(hidden.shape[1])  # position_ids[:, :P_new]
            block = new_block
            v_token_num = len(block)
        stages.append(
            {
                "afterLayer": i + 1,
                "keptImageTokens": sorted(e for e in block if not isinstance(e, tuple)),
                "created": [e[1] for e in block if isinstance(e, tuple) and e[0].startswith(f"s{number}c")],
                "order": [e[0] if isinstance(e, tuple) else e for e in block],
                "detail": detail,
            }
        )
    logits = model.logits(hidden[:, -1])[0]
    # Decode: layer l's rotary position is its own cache length (get_usable_length).
    decoded = greedy(model, logits, cache, lambda t, layer: cache[layer][0].shape[2], new_tokens)
    return stages, logits, decoded


def main():
    torch.set_grad_enabled(False)
    weights, inputs, setup = dump_inputs()
    embeds = inputs["inputs_embeds"][None]
    llava = (Llama(weights, setup["text"]), Clip(weights, setup["vision"], setup["projectorBias"]), inputs["pixel_values"])
    start, length, new_tokens = setup["imageStart"], setup["imageTokens"], setup["newTokens"]
    results = []
    for case in (c for c in setup["cases"] if c["family"] == "visionzip-sparsevlm"):
        run = run_visionzip if case["reduce"] == "visionzip" else run_sparsevlm
        stages, logits, (tokens, decode_logits) = run(llava, embeds, start, length, case["options"], new_tokens)
        results.append({"name": case["name"], "stages": stages, "logits": [float(x) for x in logits], "tokens": tokens, "decodeLogits": decode_logits})
        print(case["name"], [len(s["order"]) for s in stages], tokens, file=sys.stderr)
    write_goldens(
        OUT,
        "tools/python/visionzip_sparsevlm_parity.py: the authors' code paths re-implemented in torch "
        + torch.__version__
        + " on the tiny parity model's weights, pixel values and text embeddings (src/tools/reduction-parity.ts)",
        results,
    )


if __name__ == "__main__":
    main()
