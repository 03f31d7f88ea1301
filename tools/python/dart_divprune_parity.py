"""Writes test-fixtures/parity/dart-divprune.json: what DART's and DivPrune's own code does on visdrop's
tiny parity model, re-implemented here in torch the way the authors' code runs it.

Run by hand, never by tests, with Debian's python3-torch (torch 1.13) and numpy:
    /usr/bin/python3 tools/python/dart_divprune_parity.py
It first asks visdrop for the inputs (node --import tsx src/tools/reduction-parity.ts DIR): the tiny
model's decoder weights, the prompt's input embeddings as visdrop builds them (text rows and the
projected image tokens; the vision tower is not re-run here) and the cases. Then, per case:

* DART (ZichenWen1/DART, llava/model/language_model/modeling_llama_self.py, DART.forward and
  get_retained_image_token): a transformers-4.37 LLaMA forward; before layer K the pruning block reads
  layer K-1's output through the final norm and layer K-1's post-rotary, repeat_kv'd keys, picks
  pivots by key L1 norm, visits them in the order of a real Python set, lets each take the tokens of
  lowest cosine similarity from the shared pool (torch.nn.functional.cosine_similarity, topk), keeps
  the sorted indices with their ORIGINAL positions; layers >= K cache the pruned sequence; decode
  steps take position L + t in every layer.
* DivPrune (vbdi/divprune, LLaVA/llava/model/llava_arch.py, DivPrune and the block at the end of
  prepare_inputs_labels_for_multimodal): k = int(round(r N)); D = 1 - normalised V V^T; the greedy
  max-min picks with torch.topk / torch.min / torch.argmax; the input embeddings are cut to the sorted
  picks and the LLM runs an ordinary shorter prompt (positions 0..L'-1, decode L' + t).

Recorded per case: the kept image tokens (original indices), the method's trajectory (pivots, visit
order, per-pivot picks; DivPrune's pick order), the last prompt position's logits, the greedy tokens and
the logits of each decode step.
"""

import math
import sys

import torch
import torch.nn.functional as F

from parity_llava import PREFIX, ROOT, Llama, dump_inputs, greedy, write_goldens

OUT = ROOT / "test-fixtures" / "parity" / "dart-divprune.json"


# ---- DART, as get_retained_image_token and the pruning block of DART.forward run it ----


def dart_retained(options, start, length, last_layer_state, any_states):
    pivot_image, pivot_text = options["pivotImage"], options["pivotText"]
    pivots = pivot_image + pivot_text
    m = options["maxTokens"]
    token_topk = math.ceil((m if m is not None else (length * (1 - options.get("ratio")))) // pivots)
    keys = any_states.permute(0, 2, 1, 3).reshape(any_states.shape[0], any_states.shape[2], -1)
    image_norms = torch.norm(keys[0][start : start + length, :], p=1, dim=-1)
    text_norms = torch.norm(keys[0][start + length :, :], p=1, dim=-1)
    image_indices = (image_norms.topk(pivot_image).indices + start).tolist()
    query_indices = (text_norms.topk(pivot_text).indices + start + length).tolist()
    indices_set = set(image_indices + query_indices)
    valid = set(range(start, start + length)) - set(image_indices)
    valid_list = list(valid)
    visit = list(indices_set)
    per_pivot = []
    for item in visit:
        cos = -F.cosine_similarity(last_layer_state[0][item, :], last_layer_state[0][valid_list, :], dim=-1)
        picked = [valid_list[i] for i in cos.topk(token_topk).indices]
        indices_set.update(picked)
        valid.difference_update(picked)
        valid_list = list(valid)
        kind = "image" if item < start + length else "text"
        per_pivot.append({"pivot": item, "kind": kind, "picked": [j - start for j in picked]})
    indices_set.difference_update(query_indices)
    detail = {
        "tokenTopk": token_topk,
        "imagePivots": [j - start for j in image_indices],
        "textPivots": [j - start - length for j in query_indices],
        "pivotVisitOrder": visit,
        "perPivot": per_pivot,
    }
    return torch.tensor(list(indices_set)), detail


def run_dart(model, embeds, start, length, options, new_tokens):
    K = options["layer"]
    L = embeds.shape[1]
    hidden, positions, cache = embeds, torch.arange(L), {}
    keys_before, stage = None, None
    for i in range(model.layers):
        if i == K:
            last_layer_state = model.norm(hidden, f"{PREFIX}.norm.weight")
            retained, detail = dart_retained(options, start, length, last_layer_state, keys_before)
            keep = torch.cat((torch.arange(start), retained, torch.arange(start + length, L))).sort().values
            hidden, positions = hidden[:, keep, :], keep
            kept = sorted(int(j) - start for j in retained)
            stage = {"afterLayer": K, "keptImageTokens": kept, "detail": detail}
        hidden, keys_before, _ = model.layer(i, hidden, positions, cache)
    logits = model.logits(hidden[:, -1])[0]
    decoded = greedy(model, logits, cache, lambda t, _layer: L + t, new_tokens)
    return [stage], logits, decoded


# ---- DivPrune, as DivPrune and the end of prepare_inputs_labels_for_multimodal run it ----


def divprune_select(vectors, length, ratio):
    terms = int(round(ratio * length))
    normed = vectors / vectors.norm(dim=1, keepdim=True)
    distances = 1.0 - torch.mm(normed, normed.t())
    s = torch.empty(terms, dtype=torch.long)
    for i in range(terms):
        if i == 0:
            scores = torch.topk(distances, 2, dim=0, largest=False).values[1, :]
        else:
            rows = torch.index_select(distances, 0, torch.index_select(s, 0, torch.arange(0, i)))
            scores = torch.min(rows, dim=0).values
        s[i] = torch.argmax(scores)
    return s


def run_divprune(model, embeds, start, length, options, new_tokens):
    if "keep" in options:
        raise ValueError("the authors' code takes a ratio; the parity cases use ratios")
    s = divprune_select(embeds[0][start : start + length], length, options["ratio"])
    keep = torch.cat((torch.arange(start), s + start, torch.arange(start + length, embeds.shape[1]))).sort().values
    L2 = len(keep)
    logits, cache = model.prefill(embeds[:, keep, :])
    decoded = greedy(model, logits, cache, lambda t, _layer: L2 + t, new_tokens)
    stage = {"afterLayer": 0, "keptImageTokens": sorted(s.tolist()), "detail": {"selectionOrder": s.tolist()}}
    return [stage], logits, decoded


def main():
    torch.set_grad_enabled(False)
    weights, inputs, setup = dump_inputs()
    embeds = inputs["inputs_embeds"][None]
    model = Llama(weights, setup["text"])
    start, length, new_tokens = setup["imageStart"], setup["imageTokens"], setup["newTokens"]
    results = []
    for case in (c for c in setup["cases"] if c["family"] == "dart-divprune"):
        run = run_dart if case["reduce"] == "dart" else run_divprune
        stages, logits, (tokens, decode_logits) = run(model, embeds, start, length, case["options"], new_tokens)
        results.append({"name": case["name"], "stages": stages, "logits": [float(x) for x in logits], "tokens": tokens, "decodeLogits": decode_logits})
        print(case["name"], [len(s["keptImageTokens"]) for s in stages], tokens, file=sys.stderr)
    write_goldens(
        OUT,
        "tools/python/dart_divprune_parity.py: the authors' selection code re-implemented in torch "
        + torch.__version__
        + " on visdrop's input embeddings of the tiny parity model (src/tools/reduction-parity.ts)",
        results,
    )


if __name__ == "__main__":
    main()
