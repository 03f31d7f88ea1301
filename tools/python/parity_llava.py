"""The parts every parity script shares: the inputs visdrop dumps, and LLaVA-1.5 as transformers 4.37
runs it (CLIP vision tower, projector, LLaMA with a KV cache), batch 1, float32, written out in torch
so that each script can cut into it where its method's code does.

Imported by dart_divprune_parity.py and visionzip_sparsevlm_parity.py (run by hand with Debian's
python3-torch: /usr/bin/python3); never by tests.
"""

import json
import math
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "language_model.model"
VISION = "vision_tower.vision_model"


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


def dump_inputs():
    """Runs visdrop's dumper (src/tools/reduction-parity.ts); returns (weights, inputs, setup)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["node", "--import", "tsx", "src/tools/reduction-parity.ts", tmp], cwd=ROOT, check=True)
        weights = read_safetensors(Path(tmp) / "weights.safetensors")
        inputs = read_safetensors(Path(tmp) / "inputs.safetensors")
        setup = json.loads((Path(tmp) / "cases.json").read_text())
    return weights, inputs, setup


def write_goldens(path, about, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    golden = {"about": about, "cases": results}
    path.write_text(json.dumps(golden, indent=1) + "\n")


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
        """One decoder layer on hidden [1, q, D]. Returns (output, post-rotary keys after repeat_kv
        [1, H, kv, hd], attention probabilities [1, H, q, kv])."""
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
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        attn = (probs @ v_all).transpose(1, 2).reshape(1, q_len, self.heads * self.head_dim)
        hidden = hidden + attn @ self.w[f"{p}.self_attn.o_proj.weight"].T
        x = self.norm(hidden, f"{p}.post_attention_layernorm.weight")
        gate = F.silu(x @ self.w[f"{p}.mlp.gate_proj.weight"].T)
        up = x @ self.w[f"{p}.mlp.up_proj.weight"].T
        hidden = hidden + (gate * up) @ self.w[f"{p}.mlp.down_proj.weight"].T
        return hidden, k_all, probs

    def logits(self, hidden):
        return self.norm(hidden, f"{PREFIX}.norm.weight") @ self.w["language_model.lm_head.weight"].T

    def embed(self, token):
        return self.w[f"{PREFIX}.embed_tokens.weight"][token][None, None]

    def prefill(self, hidden):
        """A plain prompt (positions 0..L-1): last-prompt logits and the filled cache."""
        cache = {}
        positions = torch.arange(hidden.shape[1])
        for i in range(self.layers):
            hidden, _, _ = self.layer(i, hidden, positions, cache)
        return self.logits(hidden[:, -1])[0], cache


def greedy(model, logits, cache, position, new_tokens):
    """Greedy tokens and the logits of each decode step; decode step t at `position(t, layer)` in each
    layer, attending to the whole cache."""
    tokens, decode_logits = [], []
    for t in range(new_tokens):
        token = int(torch.argmax(logits))
        tokens.append(token)
        if t == new_tokens - 1:
            break
        hidden = model.embed(token)
        for i in range(model.layers):
            hidden, _, _ = model.layer(i, hidden, torch.tensor([position(t, i)]), cache)
        logits = model.logits(hidden[:, -1])[0]
        decode_logits.append([float(x) for x in logits])
    return tokens, decode_logits


class Clip:
    """transformers 4.37's CLIPVisionModel (pre_layrnorm, pre-norm layers, eager attention) and LLaVA's
    2-layer GELU projector, on pixel values [1, 3, S, S]."""

    def __init__(self, weights, vision, projector_bias):
        self.w = weights
        self.layers = vision["layers"]
        self.heads = vision["heads"]
        self.head_dim = vision["headDim"]
        self.patch = vision["patchSize"]
        self.eps = vision["layerNormEps"]
        self.act = (lambda x: x * torch.sigmoid(1.702 * x)) if vision["hiddenAct"] == "quick_gelu" else F.gelu
        self.projector_bias = projector_bias

    def linear(self, x, name, bias=True):
        y = x @ self.w[f"{name}.weight"].T
        return y + self.w[f"{name}.bias"] if bias else y

    def layer_norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps)

    def embeddings(self, pixel_values):
        e = f"{VISION}.embeddings"
        patches = F.conv2d(pixel_values, self.w[f"{e}.patch_embedding.weight"], stride=self.patch)
        patches = patches.flatten(2).transpose(1, 2)
        cls = self.w[f"{e}.class_embedding"].expand(1, 1, -1)
        return torch.cat([cls, patches], dim=1) + self.w[f"{e}.position_embedding.weight"][None]

    def encoder_layer(self, i, hidden):
        """Returns (output, attention probabilities [1, H, T, T], head-mean keys [1, T, hd])."""
        p = f"{VISION}.encoder.layers.{i}"
        T, D = hidden.shape[1], hidden.shape[2]
        x = self.layer_norm(hidden, f"{p}.layer_norm1")
        split = lambda y: y.view(1, T, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q = split(self.linear(x, f"{p}.self_attn.q_proj") * self.head_dim**-0.5)
        k = split(self.linear(x, f"{p}.self_attn.k_proj"))
        v = split(self.linear(x, f"{p}.self_attn.v_proj"))
        probs = torch.softmax(q @ k.transpose(2, 3), dim=-1)
        attn = (probs @ v).transpose(1, 2).reshape(1, T, D)
        hidden = hidden + self.linear(attn, f"{p}.self_attn.out_proj")
        x = self.layer_norm(hidden, f"{p}.layer_norm2")
        hidden = hidden + self.linear(self.act(self.linear(x, f"{p}.mlp.fc1")), f"{p}.mlp.fc2")
        return hidden, probs, k.mean(1)

    def forward(self, pixel_values):
        """hidden_states (embeddings after pre_layrnorm, then each layer's output), attentions, head-mean keys."""
        hidden = self.layer_norm(self.embeddings(pixel_values), f"{VISION}.pre_layrnorm")
        states, attentions, keys = [hidden], [], []
        for i in range(self.layers):
            hidden, probs, key_mean = self.encoder_layer(i, hidden)
            states.append(hidden)
            attentions.append(probs)
            keys.append(key_mean)
        return states, attentions, keys

    def project(self, features):
        x = F.gelu(self.linear(features, "multi_modal_projector.linear_1", self.projector_bias))
        return self.linear(x, "multi_modal_projector.linear_2", self.projector_bias)
