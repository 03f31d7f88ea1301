#!/usr/bin/python3
"""One LLaVA-1.5 fine-tuning step in PyTorch, on the shapes `visdrop bench --train` times.

The 7B's shapes (d 4096, 32 heads, MLP 11008, vocab 32064; CLIP ViT-L/14-336 cut to the one layer
its feature layer -2 needs when the tower has two), the decoder cut to --layers, random weights, f32.
One sample: BOS + 34 prompt tokens, 576 image tokens, the rest of --text-tokens, the last 10
labelled. Fine-tuning: vision tower frozen (no_grad), projector and LLM trained; logits on the
labelled rows only and AdamW over the decoder layers and the projector, as the visdrop bench does.
PyramidDrop: after each layer count in --pdrop-layers, rank image tokens by the next layer's input
RMSNorm and q/k on detached hidden states (query: the last instruction token), keep int(N x ratio)
in order, renumber positions. Prints one line per strategy: medians of --runs timed steps after a
warm-up, rounds interleaving the strategies.

Run with Debian's python3-torch:  /usr/bin/python3 tools/pytorch/train_step.py --threads 2
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

D, HEADS, MLP, VOCAB = 4096, 32, 11008, 32064
DV, VHEADS, VMLP, PATCH, IMAGE = 1024, 16, 4096, 14, 336
HD = D // HEADS
N_IMAGE = (IMAGE // PATCH) ** 2
BEFORE_IMAGE, LABELLED = 35, 10


def rand(*shape, fan_in=None):
    scale = 1 / math.sqrt(fan_in if fan_in else shape[-1])
    return ((torch.rand(*shape) * 2 - 1) * scale * math.sqrt(3))


class Linear(torch.nn.Module):
    def __init__(self, i, o, bias=False):
        super().__init__()
        self.weight = torch.nn.Parameter(rand(o, i))
        self.bias = torch.nn.Parameter(torch.zeros(o)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class RMSNorm(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def rotary(x, positions):
    inv = 1.0 / (10000 ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
    angles = positions[:, None].float() * inv[None, :]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


def causal_mask(t):
    return torch.full((t, t), float('-inf')).triu(1)


class DecoderLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(D), RMSNorm(D)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = Linear(D, D), Linear(D, D), Linear(D, D), Linear(D, D)
        self.gate_proj, self.up_proj, self.down_proj = Linear(D, MLP), Linear(D, MLP), Linear(MLP, D)

    def qk(self, x, positions):
        t = x.shape[0]
        h = self.input_layernorm(x)
        q = rotary(self.q_proj(h).view(t, HEADS, HD).transpose(0, 1), positions)
        k = rotary(self.k_proj(h).view(t, HEADS, HD).transpose(0, 1), positions)
        return h, q, k

    def forward(self, x, positions):
        t = x.shape[0]
        h, q, k = self.qk(x, positions)
        v = self.v_proj(h).view(t, HEADS, HD).transpose(0, 1)
        # The plain MatMul/Softmax path with the mask added, as the visdrop training graphs compute it.
        p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(HD) + causal_mask(t), -1)
        x = x + self.o_proj((p @ v).transpose(0, 1).reshape(t, D))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class ClipLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(DV), torch.nn.LayerNorm(DV)
        self.q, self.k, self.v, self.out = Linear(DV, DV, True), Linear(DV, DV, True), Linear(DV, DV, True), Linear(DV, DV, True)
        self.fc1, self.fc2 = Linear(DV, VMLP, True), Linear(VMLP, DV, True)

    def forward(self, x):
        s = x.shape[0]
        h = self.ln1(x)
        q, k, v = (f(h).view(s, VHEADS, DV // VHEADS).transpose(0, 1) for f in (self.q, self.k, self.v))
        p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(DV // VHEADS), -1)
        x = x + self.out((p @ v).transpose(0, 1).reshape(s, DV))
        h = self.fc1(self.ln2(x))
        return x + self.fc2(h * torch.sigmoid(1.702 * h))


class Llava(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.patch = torch.nn.Parameter(rand(DV, 3, PATCH, PATCH, fan_in=3 * PATCH * PATCH))
        self.class_embedding = torch.nn.Parameter(torch.randn(DV))
        self.position = torch.nn.Parameter(torch.randn(N_IMAGE + 1, DV) * 0.5)
        self.pre = torch.nn.LayerNorm(DV)
        self.clip = ClipLayer()  # layer 0 of 2: feature layer -2 is its output
        self.linear_1, self.linear_2 = Linear(DV, D, True), Linear(D, D, True)
        self.embed_tokens = torch.nn.Parameter(torch.randn(VOCAB, D))
        self.layers = torch.nn.ModuleList(DecoderLayer() for _ in range(layers))
        self.norm = RMSNorm(D)
        self.lm_head = Linear(D, VOCAB)
        for p in [self.patch, self.class_embedding, self.position, *self.pre.parameters(), *self.clip.parameters()]:
            p.requires_grad_(False)

    def forward(self, ids, labels, pixels, pdrop):
        with torch.no_grad():
            patches = F.conv2d(pixels, self.patch, stride=PATCH).flatten(2)[0].transpose(0, 1)
            x = self.pre(torch.cat([self.class_embedding[None], patches]) + self.position)
            features = self.clip(x)[1:]
        image = self.linear_2(F.gelu(self.linear_1(features)))
        x = torch.cat([self.embed_tokens[ids[:BEFORE_IMAGE]], image, self.embed_tokens[ids[BEFORE_IMAGE + N_IMAGE:]]])
        positions = torch.arange(x.shape[0])
        n = N_IMAGE
        tokens = []
        for index, layer in enumerate(self.layers):
            if pdrop and index in pdrop:
                keep = int(N_IMAGE * pdrop[index])
                with torch.no_grad():
                    # The last instruction token: labels[j] ignored, labels[j + 1] not.
                    rows = [j for j in range(len(labels) - 1) if labels[j] == -100 and labels[j + 1] != -100]
                    _, q, k = layer.qk(x.detach(), positions)
                    p = torch.softmax(q[:, rows] @ k.transpose(1, 2) / math.sqrt(HD) + causal_mask(x.shape[0])[rows], -1)
                    scores = p.mean(0).mean(0)[BEFORE_IMAGE:BEFORE_IMAGE + n]
                    kept = torch.topk(scores, keep).indices.sort().values + BEFORE_IMAGE
                order = torch.cat([torch.arange(BEFORE_IMAGE), kept, torch.arange(BEFORE_IMAGE + n, x.shape[0])])
                x, labels, n = x[order], labels[order], keep
                positions = torch.arange(x.shape[0])
            tokens.append(x.shape[0])
            x = layer(x, positions)
        rows = (labels[1:] != -100).nonzero()[:, 0]
        logits = self.lm_head(self.norm(x[rows]))
        return F.cross_entropy(logits, labels[1:][rows]), tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--text-tokens', type=int, default=60)
    parser.add_argument('--runs', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--pdrop-layers', default='1')
    parser.add_argument('--pdrop-ratios', default='0.5')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Llava(args.layers)
    t = N_IMAGE + args.text_tokens
    ids = (100 + (torch.arange(t) * 7919) % 20000)
    ids[0] = 1
    labels = torch.full((t,), -100)
    labels[-LABELLED:] = ids[-LABELLED:]
    pixels = torch.randn(1, 3, IMAGE, IMAGE)
    updated = [p for name, p in model.named_parameters() if name.startswith(('layers.', 'linear_'))]
    optimizer = torch.optim.AdamW(updated, lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    pdrop = dict(zip((int(l) for l in args.pdrop_layers.split(',')), (float(r) for r in args.pdrop_ratios.split(','))))
    strategies = [('none', None), (f'pdrop {args.pdrop_layers}', pdrop)]
    times = {name: ([], []) for name, _ in strategies}
    shapes = {}

    def step(name, plan):
        optimizer.zero_grad(set_to_none=True)
        model.embed_tokens.grad = model.lm_head.weight.grad = None
        start = time.perf_counter()
        loss, tokens = model(ids, labels, pixels, plan)
        loss.backward()
        middle = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(updated, 1.0)
        optimizer.step()
        end = time.perf_counter()
        shapes[name] = tokens
        return (middle - start) * 1000, (end - middle) * 1000

    for name, plan in strategies:
        step(name, plan)
    for _ in range(args.runs):
        for name, plan in strategies:
            fb, update = step(name, plan)
            times[name][0].append(fb)
            times[name][1].append(update)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {args.layers} decoder layers, {t} tokens ({N_IMAGE} image), {LABELLED} labelled')
    base = None
    for name, _ in strategies:
        fb, update = statistics.median(times[name][0]), statistics.median(times[name][1])
        base = base or fb + update
        print(f'{name:12s} tokens per layer {"/".join(map(str, shapes[name]))}  fwd+bwd {fb:8.0f} ms  update {update:6.0f} ms  step {fb + update:8.0f} ms  speedup {base / (fb + update):.2f}x')


if __name__ == '__main__':
    main()
