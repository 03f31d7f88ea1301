#!/usr/bin/python3
"""The PyTorch peer of `visdrop bench --peers torch`: the LLaMA decoder of a llava-hf checkpoint in
eager PyTorch (tools/python/parity_llava.py's Llama: transformers 4.37's LlamaModel + lm_head, a KV
cache), float32, timed as the llama.cpp peer is: two loads (safetensors -> float32 tensors; there is
no converted form to cache, so the second is the same work with the files in the page cache), then
`runs` rounds after a warm-up of a prefill of `prompt_tokens` seeded ids (last row's logits) and
`decode_tokens` greedy steps. Prints one JSON line of medians (of two: their mean, as visdrop's).

Run with Debian's python3-torch (/usr/bin/python3); the bench runs it itself.
  /usr/bin/python3 tools/peers/torch_peer.py '{"model": DIR, "threads": 2, "promptTokens": 616, "decodeTokens": 8, "runs": 2}'
"""
import json
import resource
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from parity_llava import Llama  # noqa: E402

NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2"}
# Newer transformers' names, mapped onto the older ones parity_llava's Llama reads.
NEWER = [("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head.")]


def decoder_weights(model_dir):
    """The decoder's tensors as float32 torch tensors, read shard by shard through a memory map."""
    model_dir = Path(model_dir)
    index = model_dir / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    weights = {}
    for file in files:
        path = model_dir / file
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        data = np.memmap(path, dtype=np.uint8, mode="r")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            for newer, older in NEWER:
                if name.startswith(newer):
                    name = older + name[len(newer):]
            if not name.startswith("language_model."):
                continue
            start, end = info["data_offsets"]
            raw = data[8 + n + start : 8 + n + end]
            if info["dtype"] == "BF16":
                bits = torch.from_numpy(np.array(raw.view("<i2"), dtype=np.int32)) << 16
                tensor = bits.view(torch.float32)
            else:
                tensor = torch.from_numpy(raw.view(NUMPY_DTYPES[info["dtype"]]).astype(np.float32))
            weights[name] = tensor.reshape(info["shape"])
        del data
    return weights


def text_arch(model_dir):
    config = json.loads((Path(model_dir) / "config.json").read_text())["text_config"]
    heads = config.get("num_attention_heads", 32)
    hidden = config.get("hidden_size", 4096)
    return {
        "layers": config.get("num_hidden_layers", 32),
        "heads": heads,
        "kvHeads": config.get("num_key_value_heads", heads),
        "headDim": hidden // heads,
        "rmsNormEps": config.get("rms_norm_eps", 1e-5),
        "ropeTheta": config.get("rope_theta", 10000.0),
        "vocab": config.get("vocab_size", 32064),
    }


def prompt_ids(count, vocab):
    """The llama.cpp peer's seeded ids in [3, vocab)."""
    state, ids = 0x9E3779B9, []
    for _ in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        ids.append(3 + state % (vocab - 3))
    return ids


def main():
    args = json.loads(sys.argv[1])
    torch.set_num_threads(args["threads"])
    arch = text_arch(args["model"])

    def load():
        start = time.perf_counter()
        weights = decoder_weights(args["model"])
        return weights, (time.perf_counter() - start) * 1000

    weights, first_load_ms = load()
    del weights
    weights, cached_load_ms = load()
    model = Llama(weights, arch)
    ids = torch.tensor(prompt_ids(args["promptTokens"], arch["vocab"]))
    prefill, decode = [], []
    with torch.inference_mode():
        for run in range(args["runs"] + 1):
            start = time.perf_counter()
            hidden = weights["language_model.model.embed_tokens.weight"][ids][None]
            logits, cache = model.prefill(hidden)
            prefill_ms = (time.perf_counter() - start) * 1000
            position, steps = len(ids), []
            for _ in range(args["decodeTokens"]):
                start = time.perf_counter()
                hidden = model.embed(int(torch.argmax(logits)))
                for i in range(model.layers):
                    hidden, _, _ = model.layer(i, hidden, torch.tensor([position]), cache)
                logits = model.logits(hidden[:, -1])[0]
                steps.append((time.perf_counter() - start) * 1000)
                position += 1
            if run > 0:  # the first round is the warm-up
                prefill.append(prefill_ms)
                decode.append(sum(steps) / len(steps))
    print(json.dumps({
        "version": torch.__version__,
        "firstLoadMs": first_load_ms,
        "cachedLoadMs": cached_load_ms,
        "prefillMs": statistics.median(prefill),
        "decodeMsPerToken": statistics.median(decode),
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
