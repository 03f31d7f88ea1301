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
order, per-pivot picks; DivPrune's pick order), the last prompt position's logits and the greedy tokens.
"""

import json
import math
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-fixtures" / "parity" / "dart-divprune.json"
PREFIX = "language_model.model"


def read_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        start, end = info["data_offsets"]
        array = np.frombuffer(data[8 + n + start : 8 + n + end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


class Llama:
    """transformers 4.37's LlamaModel + lm_head, batch 1, a cache of keys/values per layer."""

    def __init__(self, weights, text):
        self.w = weights
        self.layers = text["layers"]
        self.heads = text["heads"]
        self.kv_heads = text["kvHeads"]
        self.head_dim = text["headDim"]
        self.eps = text["rmsNormEps"]
        self.inv_freq = 1.0 / (text["ropeTheta"] ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))

    def norm(self, x, name):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.w[name] * (x * torch.rsqrt(variance + self.eps))

    def rotary(self, x, positions):
        # LlamaRotaryEmbedding: cos/sin of cat(freqs, freqs) at each position; apply_rotary_pos_emb.
        freqs = torch.outer(positions.float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def layer(self, i, hidden, positions, cache):
        """One decoder layer on hidden [1, q, D]; returns (output, post-rotary keys after repeat_kv [1, H, kv, hd])."""
        p = f"{PREFIX}.layers.{i}"
        q_len = hidden.shape[1]
        x = self.norm(hidden, f"{p}.input_layernorm.weight")
        q = (x @ self.w[f"{p}.self_attn.q_proj.weight"].T).view(1, q_len, self.heads, self.head_dim).transpose(1, 2)
        k = (x @ self.w[f"{p}.self_attn.k_proj.weight"].T).view(1, q_len, self.kv_heads, self.head_dim).transpose(1, 2)
        v = (x @ self.w[f"{p}.self_attn.v_proj.weight"].T).view(1, q_len, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.rotary(q, positions), self.rotary(k, positions)
        if i in cache:
            k = torch.cat((cache[i][0], k), dim=2)
            v = torch.cat((cache[i][1], v), dim=2)
        cache[i] = (k, v)
        groups = self.heads // self.kv_heads
        k_all = k.repeat_interleave(groups, dim=1)  # repeat_kv
        v_all = v.repeat_interleave(groups, dim=1)
        scores = q @ k_all.transpose(2, 3) / math.sqrt(self.head_dim)
        if q_len > 1:  # SDPA is_causal on the prompt; a single decode query sees the whole cache
            mask = torch.full((q_len, q_len), float("-inf")).triu(1)
            scores = scores + mask
        attn = torch.softmax(scores, dim=-1, dtype=torch.float32) @ v_all
        attn = attn.transpose(1, 2).reshape(1, q_len, self.heads * self.head_dim)
        hidden = hidden + attn @ self.w[f"{p}.self_attn.o_proj.weight"].T
        x = self.norm(hidden, f"{p}.post_attention_layernorm.weight")
        gate = F.silu(x @ self.w[f"{p}.mlp.gate_proj.weight"].T)
        up = x @ self.w[f"{p}.mlp.up_proj.weight"].T
        hidden = hidden + (gate * up) @ self.w[f"{p}.mlp.down_proj.weight"].T
        return hidden, k_all

    def logits(self, hidden):
        return self.norm(hidden, f"{PREFIX}.norm.weight") @ self.w["language_model.lm_head.weight"].T

    def embed(self, token):
        return self.w[f"{PREFIX}.embed_tokens.weight"][token][None, None]


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
        hidden, keys_before = model.layer(i, hidden, positions, cache)
    logits = model.logits(hidden[:, -1])[0]
    tokens = greedy(model, logits, cache, lambda t: L + t, new_tokens)
    return [stage], logits, tokens


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
    hidden = embeds[:, keep, :]
    L2 = hidden.shape[1]
    cache = {}
    for i in range(model.layers):
        hidden, _ = model.layer(i, hidden, torch.arange(L2), cache)
    logits = model.logits(hidden[:, -1])[0]
    tokens = greedy(model, logits, cache, lambda t: L2 + t, new_tokens)
    stage = {"afterLayer": 0, "keptImageTokens": sorted(s.tolist()), "detail": {"selectionOrder": s.tolist()}}
    return [stage], logits, tokens


def greedy(model, logits, cache, position, new_tokens):
    """Greedy tokens; each decode step at `position(t)` in every layer, attending to the whole cache."""
    tokens = []
    for t in range(new_tokens):
        token = int(torch.argmax(logits))
        tokens.append(token)
        if t == new_tokens - 1:
            break
        hidden = model.embed(token)
        for i in range(model.layers):
            hidden, _ = model.layer(i, hidden, torch.tensor([position(t)]), cache)
        logits = model.logits(hidden[:, -1])[0]
    return tokens


def main():
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["node", "--import", "tsx", "src/tools/reduction-parity.ts", tmp], cwd=ROOT, check=True)
        weights = read_safetensors(Path(tmp) / "weights.safetensors")
        embeds = read_safetensors(Path(tmp) / "inputs.safetensors")["inputs_embeds"][None]
        setup = json.loads((Path(tmp) / "cases.json").read_text())
    model = Llama(weights, setup["text"])
    start, length, new_tokens = setup["imageStart"], setup["imageTokens"], setup["newTokens"]
    results = []
    for case in setup["cases"]:
        run = run_dart if case["reduce"] == "dart" else run_divprune
        stages, logits, tokens = run(model, embeds, start, length, case["options"], new_tokens)
        results.append({"name": case["name"], "stages": stages, "logits": [float(x) for x in logits], "tokens": tokens})
        print(case["name"], [len(s["keptImageTokens"]) for s in stages], tokens, file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    golden = {
        "about": "tools/python/dart_divprune_parity.py: the authors' selection code re-implemented in torch "
        + torch.__version__
        + " on visdrop's input embeddings of the tiny parity model (src/tools/reduction-parity.ts)",
        "cases": results,
    }
    OUT.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
