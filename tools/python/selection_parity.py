"""VisionZip's and SparseVLM's selections as their authors' code computes them, on tensors visdrop dumped.

Run by hand, never by tests, with Debian's python3-torch (torch 1.13):
    npx tsx tools/parity/dump-selection-inputs.ts        # visdrop's run: what each selection reads
    /usr/bin/python3 tools/python/selection_parity.py    # writes test-fixtures/parity/selection-goldens.json
The selection lines follow dvlab-research/VisionZip @3151f6d (visionzip/clip_encoder.py forward) and
Gumpest/SparseVLMs @91fb6d9 (score.attn_postprocess_rank, utils.cluster_and_merge, the pruning branch
of LlamaDynamicvitModel.forward, the rater selection), rewritten here as torch on one image, batch 1,
float32, with torch.manual_seed(seed) before the prefill as the noise stream. What is compared per
stage: VisionZip's kept patches, output layout and each contextual token's members; SparseVLM's
raters, rank, kept count, kept block entries, candidates and each cluster's members (block places and
originals). The decoder layers themselves are visdrop's (their attention and hidden rows are the
dumped inputs), so this checks the selections, not the layers.
"""

import json
from pathlib import Path

import torch

from visionzip_sparsevlm_parity import cluster_and_merge

ROOT = Path(__file__).resolve().parents[2] / "test-fixtures" / "parity"


def visionzip(case):
    out = []
    d, c = case["options"]["dominant"], case["options"]["contextual"]
    dominant_num, contextual_num = d - 1, c
    for image in case["inputs"]:
        H, hd = image["numHeads"], image["headDim"]
        attn = torch.tensor(image["classAttention"], dtype=torch.float32).view(1, H, 1, -1)  # class row only
        T = attn.shape[-1]
        metric = torch.tensor(image["keyMean"], dtype=torch.float32).view(1, T, hd)
        index = torch.arange(T).view(1, T, 1).float()  # stands for hidden states: each row its token index
        cls_attention = attn[:, :, 0, 1:]
        cls_attention_sum = cls_attention.sum(dim=1)
        topk_indices = cls_attention_sum.topk(dominant_num, dim=1).indices + 1
        all_indices = torch.cat([torch.zeros((1, 1), dtype=topk_indices.dtype), topk_indices], dim=1)
        mask = torch.ones_like(index[:, :, 0], dtype=torch.bool).scatter_(1, all_indices, False)
        dominant = index.masked_select(~mask.unsqueeze(-1)).view(1, dominant_num + 1).long()
        metric_filtered = metric[mask].view(1, T - (dominant_num + 1), hd)
        remaining = index.masked_select(mask.unsqueeze(-1)).view(1, T - (dominant_num + 1)).long()
        metric_normalized = metric_filtered / metric_filtered.norm(dim=-1, keepdim=True)
        step = max(1, metric_normalized.shape[1] // contextual_num)
        target_indices = torch.arange(0, metric_normalized.shape[1], step)[:contextual_num]
        target_tokens = metric_normalized[:, target_indices, :]
        is_merge = ~torch.isin(torch.arange(metric_normalized.shape[1]), target_indices)
        tokens_to_merge = metric_normalized[:, is_merge, :]
        similarity = torch.bmm(tokens_to_merge, target_tokens.transpose(1, 2))
        assign = similarity.argmax(dim=2)[0]
        merge_ids = remaining[0][is_merge]
        targets = remaining[0][target_indices]
        contextual = []
        for slot, target in enumerate(targets.tolist()):
            members = sorted([target] + merge_ids[assign == slot].tolist())
            contextual.append({"target": target - 1, "members": [m - 1 for m in members]})
        out.append({"dominantPatches": [t - 1 for t in dominant[0].tolist()[1:]], "contextual": contextual})
    return out


def cluster_and_merge_assignment(x, cluster_num):
    """utils.cluster_and_merge's assignment (the merge weights are checked in the TS tests)."""
    return cluster_and_merge(x, cluster_num)[1]


def sparsevlm(case):
    o = case["options"]
    torch.manual_seed(o["seed"])
    e = case["embeddings"]
    D = case["hiddenSize"]
    hidden = torch.tensor(e["hidden"], dtype=torch.float32).view(1, e["tokens"], D)
    v_token_start = e["imageStart"]
    v_token_num = e["imageTokens"]
    text_token_start = v_token_start + v_token_num
    v_t = hidden[:, v_token_start:text_token_start, :]
    t_t = hidden[:, text_token_start:, :]
    m_v_t = (v_t @ t_t.transpose(1, 2)).softmax(2).mean(1)
    t_token_idx = torch.where(m_v_t > m_v_t.mean())
    raters = t_token_idx[1].tolist()
    # Each block entry: an original index, or the sorted originals of a built token.
    block = list(range(v_token_num))
    originals = lambda entry: entry if isinstance(entry, list) else [entry]  # noqa: E731
    stages = []
    for number, stage in enumerate(case["inputs"], start=1):
        T, H = stage["tokens"], stage["numHeads"]
        R = len(stage["raterRows"])
        rows = torch.tensor(stage["attention"], dtype=torch.float32).view(1, H, R, T)
        assert stage["raterRows"] == [text_token_start + j for j in raters]
        # attn_postprocess_rank on the rater rows (the mean over heads commutes with taking rows).
        relation_vis_text = rows.mean(1)[:, :, v_token_start:v_token_start + v_token_num]
        rank = torch.linalg.matrix_rank(relation_vis_text.float())
        relation_vis_text = relation_vis_text.mean(1)
        entry = {"rank": int(rank.item())}
        if v_token_num - rank.item() != 0:
            k = min(int(rank.item() * o["scale"] + o["bias"]), v_token_num - 1)
            mask = torch.zeros_like(relation_vis_text, dtype=bool)
            _, indices = torch.topk(relation_vis_text, k, dim=1)
            mask[0][indices] = 1
            pred = mask[0]
            kept = torch.where(pred)[0].tolist()
            dropped = torch.where(~pred)[0]
            merge_token_stage1 = relation_vis_text[0][dropped]
            c = int(dropped.shape[0] * 0.3) + 1
            order = merge_token_stage1.topk(c)[1]
            candidates = dropped[order]
            x = torch.tensor(stage["imageHidden"], dtype=torch.float32).view(1, v_token_num, D)[:, candidates, :]
            cluster_num = int(c / 10) + 1
            assignment = cluster_and_merge_assignment(x, cluster_num)
            clusters = []
            for cid in range(cluster_num):
                members = candidates[assignment == cid].tolist()
                clusters.append({"members": members, "originals": sorted(sum((originals(block[m]) for m in members), []))})
            entry.update({"k": k, "sparsified": True, "kept": kept, "candidates": candidates.tolist(), "clusters": clusters})
            block = [block[i] for i in kept] + [cl["originals"] for cl in clusters]
            v_token_num = k + cluster_num
        else:
            entry.update({"k": None, "sparsified": False, "kept": list(range(v_token_num)), "candidates": [], "clusters": []})
        text_token_start = v_token_start + v_token_num
        entry["blockAfter"] = block
        stages.append(entry)
    return {"raters": raters, "stages": stages}


def clustering_cases():
    """cluster_and_merge's assignment on seeded points (25 x 8, three clusters, mutual nearest pairs tie in density)."""
    out = []
    for seed in (0, 1, 2):
        points = torch.randn(1, 25, 8, generator=torch.Generator().manual_seed(100 + seed))
        torch.manual_seed(seed)
        out.append({"seed": seed, "points": points[0].tolist(), "clusters": 3, "assignment": cluster_and_merge_assignment(points, 3).tolist()})
    return out


def topk_cases():
    """torch.topk's order of tied values on the CPU (libstdc++'s nth_element/sort or partial_sort under ATen's
    topk_impl_loop): seeded values drawn from a few levels, both paths (k * 64 <= n or not), both directions."""
    out = []
    generator = torch.Generator().manual_seed(7)
    for n, levels, ks in [(5, 2, (1, 2, 4)), (15, 3, (2, 3, 14)), (17, 4, (2, 9, 17)), (40, 5, (3, 18, 33)), (200, 6, (1, 3, 20, 120)), (1000, 8, (2, 15, 16, 400))]:
        for largest in (True, False):
            values = torch.randint(0, levels, (n,), generator=generator).float() / levels
            if n == 40:
                values[[3, 11]] = float("nan")
            for k in ks:
                indices = torch.topk(values, k, largest=largest).indices.tolist()
                out.append({"values": [None if v != v else v for v in values.tolist()], "k": k, "largest": largest, "indices": indices})
    return out


def main():
    cases = json.loads((ROOT / "selection-inputs.json").read_text())["cases"]
    goldens = []
    for case in cases:
        result = visionzip(case) if case["method"] == "visionzip" else sparsevlm(case)
        goldens.append({"method": case["method"], "options": case["options"], "result": result})
    (ROOT / "selection-goldens.json").write_text(json.dumps({"goldens": goldens, "clustering": clustering_cases(), "topk": topk_cases()}) + "\n")
    print(f"wrote {len(goldens)} goldens")


if __name__ == "__main__":
    main()
