"""Writes the LLaVA-NeXT "anyres" goldens under test-fixtures/image/anyres/.

Run by hand, never by tests, with a Python that has Pillow and numpy (Debian's Pillow 9.4 here):
    /usr/bin/python3 tools/python/anyres_goldens.py
It regenerates every file there and test-fixtures/image/anyres/goldens.json, which the tests read.
Pixel values follow transformers' LlavaNextImageProcessor.preprocess step by step (select_best_resolution,
get_patch_output_size, PIL bicubic resize, _pad_for_patching, divide_to_patches, base image resized to
(shortest_edge, shortest_edge), then the CLIP steps per crop, taken from image_goldens.py), and token
counts follow LlavaNextProcessor._get_number_of_features, without importing transformers. Small cases
use pinpoints scaled down to a crop size of 16 so the fixtures stay small.
"""

import hashlib
import json
import math
import random
import re
import sys
from pathlib import Path

import numpy as np
import PIL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from image_goldens import CLIP_MEAN, CLIP_STD, RESCALE, hf_pixel_values, pil_resize, synthetic  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "test-fixtures" / "image" / "anyres"
LLAVA_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
SMALL_PINPOINTS = [[16, 32], [32, 16], [32, 32], [48, 16], [16, 48]]


def select_best_resolution(original_size, possible_resolutions):
    """transformers.image_processing_utils.select_best_resolution."""
    original_height, original_width = original_size
    best_fit = None
    max_effective_resolution = 0
    min_wasted_resolution = float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective_resolution = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted_resolution = (width * height) - effective_resolution
        if effective_resolution > max_effective_resolution or (
            effective_resolution == max_effective_resolution and wasted_resolution < min_wasted_resolution
        ):
            max_effective_resolution = effective_resolution
            min_wasted_resolution = wasted_resolution
            best_fit = (height, width)
    return best_fit


def get_patch_output_size(original_height, original_width, target_resolution):
    """transformers.image_processing_utils.get_patch_output_size."""
    target_height, target_width = target_resolution
    scale_w = target_width / original_width
    scale_h = target_height / original_height
    if scale_w < scale_h:
        new_width = target_width
        new_height = min(math.ceil(original_height * scale_w), target_height)
    else:
        new_height = target_height
        new_width = min(math.ceil(original_width * scale_h), target_width)
    return new_height, new_width


def get_image_patches(rgb, pinpoints, shortest_edge, crop_size):
    """LlavaNextImageProcessor.get_image_patches on channels-last uint8: [base] + row-major tiles."""
    height, width = rgb.shape[:2]
    best = select_best_resolution((height, width), pinpoints)
    new_height, new_width = get_patch_output_size(height, width, best)
    resized = pil_resize(rgb, new_width, new_height)
    # _pad_for_patching re-derives the fitted size from the resized image: the same numbers.
    assert get_patch_output_size(new_height, new_width, best) == (new_height, new_width)
    paste_x, r_x = divmod(best[1] - new_width, 2)
    paste_y, r_y = divmod(best[0] - new_height, 2)
    padded = np.pad(resized, ((paste_y, paste_y + r_y), (paste_x, paste_x + r_x), (0, 0)), constant_values=0)
    tiles = [
        padded[i : i + crop_size, j : j + crop_size]
        for i in range(0, padded.shape[0], crop_size)
        for j in range(0, padded.shape[1], crop_size)
    ]
    base = pil_resize(rgb, shortest_edge, shortest_edge)
    return best, (new_height, new_width), [base] + tiles


def anyres_pixel_values(rgb, pinpoints, shortest_edge, crop_size):
    """preprocess() for one image: each crop through the CLIP steps, stacked to (1, crops, 3, S, S)."""
    best, fitted, crops = get_image_patches(rgb, pinpoints, shortest_edge, crop_size)
    clip = {
        "resize": {"kind": "shortestEdge", "size": shortest_edge},
        "crop": {"height": crop_size, "width": crop_size},
        "rescaleFactor": RESCALE,
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
        "padToSquare": False,
    }
    values = np.concatenate([hf_pixel_values(crop, clip) for crop in crops])[None]
    return best, fitted, values


def unpadded(height, width, current_height, current_width, new_size):
    """LlavaNextProcessor._get_unpadded_features with the rounding `new_size(x, num, den)` swapped in."""
    if width / height > current_width / current_height:
        new_height = new_size(height * (current_width / width), height * current_width, width)
        padding = (current_height - new_height) // 2
        current_height -= padding * 2
    else:
        new_width = new_size(width * (current_height / height), width * current_height, height)
        padding = (current_width - new_width) // 2
        current_width -= padding * 2
    return current_height, current_width


ROUNDINGS = {
    # transformers >= 4.45 (processor and modeling unpad_image)
    "hf": lambda x, num, den: int(round(x, 7)),
    # original LLaVA llava/model/llava_arch.py unpad_image
    "original": lambda x, num, den: int(x),
    # an older transformers processor, exact integer division
    "intdiv": lambda x, num, den: num // den,
}


def token_count(height, width, rounding, pinpoints=LLAVA_PINPOINTS, crop_size=336, side=24):
    """_get_number_of_features minus the CLS: side^2 + H' * W' + H'; also returns (H', W')."""
    best = select_best_resolution((height, width), pinpoints)
    rows, cols = best[0] // crop_size, best[1] // crop_size
    h, w = unpadded(height, width, rows * side, cols * side, ROUNDINGS[rounding])
    return side * side + h * w + h, [h, w]


def raw_product(height, width):
    """The float that unpad_image rounds or truncates at the llava-v1.6 setting, as repr()."""
    best = select_best_resolution((height, width), LLAVA_PINPOINTS)
    current_height, current_width = best[0] // 336 * 24, best[1] // 336 * 24
    if width / height > current_width / current_height:
        return repr(height * (current_width / width))
    return repr(width * (current_height / height))


def formula_image(height, width):
    """Sawtooth ramps with a white and a black block, from integers only: the tests rebuild it
    (anyres-goldens.test.ts) instead of reading a large fixture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    img = np.stack([(x * (3 + c) + y * (5 - c) + ((x * y) >> 6) * (c + 1)) % 256 for c in range(3)], axis=-1)
    img[height // 4 : height // 2, width // 5 : width // 3] = 255
    img[height // 2 : 3 * height // 4, width // 2 : 2 * width // 3] = 0
    return img.astype(np.uint8)


def write(rel, data):
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return rel


def main():
    OUT.mkdir(parents=True, exist_ok=True)

    # (name, width, height, shortest_edge); crop size 16 throughout.
    small_cases = [
        ("wide-50x37", 50, 37, 16),
        ("tall-37x50", 37, 50, 16),
        ("square-64x64", 64, 64, 16),
        ("thin-90x20", 90, 20, 16),
        ("upscale-13x9", 13, 9, 16),
        ("exact-32x32", 32, 32, 16),
        ("se20-50x37", 50, 37, 20),  # shortest_edge 20 > crop 16: each crop is resized, then centre-cropped
    ]
    pixels = []
    for seed, (name, width, height, shortest_edge) in enumerate(small_cases, start=20):
        rgb = synthetic(height, width, 3, seed)
        best, fitted, values = anyres_pixel_values(rgb, SMALL_PINPOINTS, shortest_edge, 16)
        pixels.append(
            {
                "name": name,
                "source": write(f"{name}.u8", rgb.tobytes()),
                "width": width,
                "height": height,
                "pinpoints": SMALL_PINPOINTS,
                "cropSize": 16,
                "shortestEdge": shortest_edge,
                "bestResolution": list(best),
                "fittedSize": list(fitted),
                "shape": list(values.shape),
                "expected": write(f"{name}.f32", values.astype("<f4").tobytes()),
            }
        )

    # The real setting on a camera-sized synthetic image: per-crop channel sums and samples only.
    rgb = formula_image(480, 640)
    best, fitted, values = anyres_pixel_values(rgb, LLAVA_PINPOINTS, 336, 336)
    rng = np.random.default_rng(31)
    flat = values.reshape(-1)
    sample = np.sort(rng.choice(flat.size, size=1000, replace=False))
    full = {
        "sourceSha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        "width": 640,
        "height": 480,
        "pinpoints": LLAVA_PINPOINTS,
        "bestResolution": list(best),
        "fittedSize": list(fitted),
        "shape": list(values.shape),
        "cropChannelSums": values.astype(np.float64).sum(axis=(3, 4))[0].tolist(),
        "sampleIndices": sample.tolist(),
        "sampleValues": [float(v) for v in flat[sample]],
    }

    # Token counts at the llava-v1.6 setting: [width, height, tokens, unpadded H', W'] with HF's rounding.
    named = [(336, 336), (640, 480), (480, 640), (672, 672), (1920, 1080), (1000, 300)]
    named += [(365, 1095), (309, 721), (1128, 94), (4000, 10)]
    rnd = random.Random(32)
    sweep = [(rnd.randint(1, 3000), rnd.randint(1, 3000)) for _ in range(800)]
    sweep += [(rnd.randint(1, 400), rnd.randint(1, 4000)) for _ in range(100)]
    sweep += [(rnd.randint(1, 4000), rnd.randint(1, 400)) for _ in range(100)]
    # Sizes where the roundings disagree on the token count (a scan of widths and heights up to 1200).
    disagreements = []
    for width in range(1, 1201):
        for height in range(1, 1201):
            a = token_count(height, width, "hf")[0]
            b = token_count(height, width, "original")[0]
            c = token_count(height, width, "intdiv")[0]
            if a != b or a != c:
                disagreements.append([width, height, a, b, c])

    def row(width, height):
        count, grid = token_count(height, width, "hf")
        return [width, height, count, *grid]

    tokens = {
        "pinpoints": LLAVA_PINPOINTS,
        "cropSize": 336,
        "patchesPerSide": 24,
        "named": [
            {
                "width": w,
                "height": h,
                "best": list(select_best_resolution((h, w), LLAVA_PINPOINTS)),
                **{k: token_count(h, w, k)[0] for k in ROUNDINGS},
                "unpadded": token_count(h, w, "hf")[1],
                "rawProduct": raw_product(h, w),
            }
            for w, h in named
        ],
        "sweep": [row(w, h) for w, h in sweep],
        "disagreements": disagreements,
    }

    # int(round(x, 7)) at the edges: below, at and above 1 - 5e-8 past several integers, plus products.
    round_inputs = [0.0, 0.5, 2.5, 23.999999999999996, 55.99999999999999, 5.999999999999999, 2.9999999999999996]
    for whole in [0, 1, 5, 23, 1000, 123456]:
        d = whole + 0.99999995
        round_inputs += [math.nextafter(d, -math.inf), d, math.nextafter(d, math.inf)]
        round_inputs += [whole + 0.9999999, whole + 0.99999996]
    round_cases = [[x, int(round(x, 7))] for x in round_inputs]
    round_cases += [[-x, int(round(-x, 7))] for x in round_inputs[:6]]

    manifest = {
        "generator": f"tools/python/anyres_goldens.py, Pillow {PIL.__version__}, numpy {np.__version__}",
        "pixels": pixels,
        "full": full,
        "tokens": tokens,
        "pyIntRound7": round_cases,
    }
    text = json.dumps(manifest, indent=1)
    # Keep number lists on one line each: the file stays readable and small.
    text = re.sub(r"\[[-0-9.e,\s]+\]", lambda m: re.sub(r"\s+", "", m.group(0)), text)
    (OUT / "goldens.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
