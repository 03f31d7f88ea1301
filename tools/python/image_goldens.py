"""Writes the image fixtures and the PIL / Hugging Face goldens under test-fixtures/image/.

Run by hand, never by tests, with a Python that has Pillow and numpy (Debian's Pillow 9.4 here):
    /usr/bin/python3 tools/python/image_goldens.py
It regenerates every file and test-fixtures/image/goldens.json, which the tests read.
Expected values follow transformers' CLIPImageProcessor / LlavaImageProcessor step by step
(PIL convert('RGB') -> uint8 numpy -> PIL bicubic resize -> numpy centre crop -> float64 rescale
-> float32 -> float32 (x - mean) / std), without importing transformers.
"""

import hashlib
import io
import json
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageCms

OUT = Path(__file__).resolve().parents[2] / "test-fixtures" / "image"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
RESCALE = 1 / 255


def synthetic(height, width, channels, seed):
    """Smooth gradients, noise and saturated blocks, so that bicubic overshoot gets clipped."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for c in range(channels):
        wave = 127.5 + 90 * np.sin(x / (3 + 2 * c) + y / (5 + c)) * np.cos(y / (7 - c))
        planes.append(wave + rng.normal(0, 25, size=(height, width)))
    img = np.clip(np.stack(planes, axis=-1), 0, 255)
    img[height // 4 : height // 2, width // 5 : width // 3] = 255
    img[height // 2 : 3 * height // 4, width // 2 : 2 * width // 3] = 0
    return img.round().astype(np.uint8)


def photo_like(height, width, seed):
    """A smooth scene with edges and mild noise, closer to what JPEG is made for."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 60 + 150 * x / width + 20 * np.sin(y / 17)
    g = 40 + 120 * y / height + 30 * np.cos(x / 23)
    b = 200 - 120 * (x + y) / (width + height)
    img = np.stack([r, g, b], axis=-1)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.45) ** 2 < (height * 0.2) ** 2
    img[disc] = [230, 210, 40]
    img[int(height * 0.7) : int(height * 0.8), int(width * 0.1) : int(width * 0.5)] = [20, 20, 20]
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def png_bytes(width, height, bit_depth, colour_type, rows_bytes):
    """A minimal PNG, for the 16-bit case Pillow cannot write."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    stride = len(rows_bytes) // height
    raw = b"".join(b"\x00" + rows_bytes[r * stride : (r + 1) * stride] for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def linear_rgb_icc():
    """An ICC v2 RGB matrix/TRC profile with gamma 1.0: colour-managing decoders would brighten
    the image, PIL (and so Hugging Face) ignores it."""

    def s15(v):
        return struct.pack(">i", round(v * 65536))

    def xyz(v):
        return b"XYZ " + b"\0" * 4 + b"".join(s15(c) for c in v)

    def pad4(b):
        return b + b"\0" * (-len(b) % 4)

    text = b"linear sRGB primaries\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * (4 + 4 + 2 + 1 + 67)
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0100)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz([0.9642, 1.0, 0.8249])),
        (b"rXYZ", xyz([0.4361, 0.2225, 0.0139])),
        (b"gXYZ", xyz([0.3851, 0.7169, 0.0971])),
        (b"bXYZ", xyz([0.1431, 0.0606, 0.7141])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + b"\0" * 4 + b"public domain\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += pad4(body)
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def pil_rgb(path):
    """What transformers feeds its processor: PIL's decode, convert('RGB'), as uint8 HWC."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def pil_resize(rgb, width, height):
    return np.array(Image.fromarray(rgb).resize((width, height), resample=Image.BICUBIC, reducing_gap=None))


def hf_resize_size(height, width, rule):
    """transformers get_resize_output_image_size(default_to_square=False), or an exact size."""
    if rule["kind"] == "exact":
        return rule["height"], rule["width"]
    size = rule["size"]
    short, long = (width, height) if width <= height else (height, width)
    if short == size:
        return height, width
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def hf_pad_to_square(rgb, mean):
    """LlavaImageProcessor.pad_to_square with background tuple(int(x * 255) for x in image_mean)."""
    height, width = rgb.shape[:2]
    if height == width:
        return rgb
    side = max(height, width)
    result = np.zeros((side, side, 3), dtype=rgb.dtype)
    result[:, :] = [int(x * 255) for x in mean]
    if width > height:
        start = (side - height) // 2
        result[start : start + height, :] = rgb
    else:
        start = (side - width) // 2
        result[:, start : start + width] = rgb
    return result


def hf_center_crop(rgb, crop_height, crop_width):
    """transformers.image_transforms.center_crop on channels-first data, zero padding included."""
    image = rgb.transpose(2, 0, 1)
    orig_height, orig_width = image.shape[1:]
    top = (orig_height - crop_height) // 2
    bottom = top + crop_height
    left = (orig_width - crop_width) // 2
    right = left + crop_width
    if top >= 0 and bottom <= orig_height and left >= 0 and right <= orig_width:
        return image[:, top:bottom, left:right].transpose(1, 2, 0)
    new_height = max(crop_height, orig_height)
    new_width = max(crop_width, orig_width)
    new_image = np.zeros_like(image, shape=(3, new_height, new_width))
    top_pad = math.ceil((new_height - orig_height) / 2)
    left_pad = math.ceil((new_width - orig_width) / 2)
    new_image[:, top_pad : top_pad + orig_height, left_pad : left_pad + orig_width] = image
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    cropped = new_image[:, max(0, top) : min(new_height, bottom), max(0, left) : min(new_width, right)]
    return cropped.transpose(1, 2, 0)


def hf_pixel_values(rgb, p):
    """The whole processor for one image; returns float32 NCHW with N = 1."""
    image = rgb
    if p["padToSquare"]:
        image = hf_pad_to_square(image, p["mean"])
    if p["resize"] is not None:
        height, width = hf_resize_size(image.shape[0], image.shape[1], p["resize"])
        image = pil_resize(image, width, height)
    if p["crop"] is not None:
        image = hf_center_crop(image, p["crop"]["height"], p["crop"]["width"])
    if p["rescaleFactor"] is not None:
        image = (image.astype(np.float64) * p["rescaleFactor"]).astype(np.float32)
    if p["mean"] is not None:
        if not np.issubdtype(image.dtype, np.floating):
            image = image.astype(np.float32)
        mean = np.array(p["mean"], dtype=image.dtype)
        std = np.array(p["std"], dtype=image.dtype)
        image = (image - mean) / std
    return image.astype(np.float32).transpose(2, 0, 1)[None]


def clip_preprocessing(resize, crop, pad=False):
    return {
        "resize": resize,
        "crop": crop,
        "rescaleFactor": RESCALE,
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
        "padToSquare": pad,
    }


def write(rel, data):
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return rel


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sources = {}

    def save_pil(name, array, mode, **options):
        Image.fromarray(array, mode).save(OUT / name, **options)
        sources[name] = pil_rgb(OUT / name)

    save_pil("rgb-37x53.png", synthetic(53, 37, 3, 1), "RGB")
    rgba = synthetic(40, 64, 4, 2)
    rgba[:8, :8, 3] = 0  # fully transparent pixels keep their colour under convert('RGB')
    save_pil("rgba-64x40.png", rgba, "RGBA")
    save_pil("gray-50x50.png", synthetic(50, 50, 1, 3)[:, :, 0], "L")
    save_pil("photo-45x30.jpg", photo_like(30, 45, 4), "RGB", quality=90)
    save_pil("lossless-33x47.webp", synthetic(47, 33, 3, 5), "RGB", lossless=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display; PIL and HF do not apply it
    save_pil("exif-rotate-20x12.jpg", photo_like(12, 20, 6), "RGB", quality=95, exif=exif.tobytes())
    save_pil("icc-linear-24x16.png", synthetic(16, 24, 3, 7), "RGB", icc_profile=linear_rgb_icc())
    ImageCms.ImageCmsProfile(io.BytesIO(linear_rgb_icc()))  # the profile must parse, or it tests nothing
    rgb16 = np.random.default_rng(8).integers(0, 65536, size=(5, 7, 3), dtype=np.uint16)
    write("rgb16-7x5.png", png_bytes(7, 5, 16, 2, rgb16.astype(">u2").tobytes()))
    sources["rgb16-7x5.png"] = pil_rgb(OUT / "rgb16-7x5.png")
    assert (sources["rgb16-7x5.png"] == (rgb16 >> 8)).all()

    decode = []
    for name, rgb in sources.items():
        stem = name.rsplit(".", 1)[0]
        decode.append(
            {
                "file": name,
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "rgb": write(f"decoded/{stem}.u8", rgb.tobytes()),
                "lossy": name.endswith(".jpg"),
            }
        )

    resize_cases = [
        ("rgb-37x53.png", 24, 34),  # downscale by a non-integer factor
        ("rgb-37x53.png", 16, 16),  # aspect change
        ("rgb-37x53.png", 5, 3),  # wide filter support
        ("rgb-37x53.png", 11, 53),  # horizontal pass only
        ("rgb-37x53.png", 37, 20),  # vertical pass only
        ("rgb-37x53.png", 80, 114),  # upscale
        ("rgb-37x53.png", 100, 7),  # upscale one way, downscale the other
        ("rgb-37x53.png", 37, 53),  # same size: a copy
        ("rgba-64x40.png", 32, 20),  # integer factor 2
        ("rgba-64x40.png", 23, 17),
        ("gray-50x50.png", 96, 96),
        ("photo-45x30.jpg", 30, 20),
        ("lossless-33x47.webp", 47, 33),
    ]
    resize = []
    for name, width, height in resize_cases:
        stem = name.rsplit(".", 1)[0]
        out = pil_resize(sources[name], width, height)
        resize.append(
            {
                "source": f"decoded/{stem}.u8",
                "sourceWidth": sources[name].shape[1],
                "sourceHeight": sources[name].shape[0],
                "width": width,
                "height": height,
                "expected": write(f"resize/{stem}-to-{width}x{height}.u8", out.tobytes()),
            }
        )

    edge = lambda s: {"kind": "shortestEdge", "size": s}  # noqa: E731
    pixel_cases = [
        ("se24-crop24", "rgb-37x53.png", clip_preprocessing(edge(24), {"height": 24, "width": 24})),
        ("se80-crop64-upscale", "rgba-64x40.png", clip_preprocessing(edge(80), {"height": 64, "width": 64})),
        ("exact-30x20", "photo-45x30.jpg", clip_preprocessing({"kind": "exact", "height": 20, "width": 30}, None)),
        ("pad-se32-crop32", "rgb-37x53.png", clip_preprocessing(edge(32), {"height": 32, "width": 32}, pad=True)),
        ("se24-crop-larger-31x27", "rgb-37x53.png", clip_preprocessing(edge(24), {"height": 31, "width": 27})),
        ("gray-se50-unchanged-crop40", "gray-50x50.png", clip_preprocessing(edge(50), {"height": 40, "width": 40})),
        (
            "webp-rescale-only",
            "lossless-33x47.webp",
            {**clip_preprocessing(edge(20), {"height": 20, "width": 20}), "mean": None, "std": None},
        ),
        (
            "pad-half-mean-no-rescale",
            "photo-45x30.jpg",
            {
                "resize": None,
                "crop": None,
                "rescaleFactor": None,
                "mean": [0.5, 0.5, 0.5],
                "std": [0.5, 0.5, 0.5],
                "padToSquare": True,
            },
        ),
    ]
    pixels = []
    for name, source, p in pixel_cases:
        values = hf_pixel_values(sources[source], p)
        pixels.append(
            {
                "name": name,
                "source": f"decoded/{source.rsplit('.', 1)[0]}.u8",
                "sourceWidth": sources[source].shape[1],
                "sourceHeight": sources[source].shape[0],
                "preprocessing": p,
                "shape": list(values.shape),
                "expected": write(f"pixels/{name}.f32", values.astype("<f4").tobytes()),
            }
        )

    # The real llava-hf setting on a camera-sized JPEG; only compact checks are stored.
    Image.fromarray(photo_like(375, 500, 9), "RGB").save(OUT / "llava-500x375.jpg", quality=90)
    rgb = pil_rgb(OUT / "llava-500x375.jpg")
    p = clip_preprocessing(edge(336), {"height": 336, "width": 336})
    height, width = hf_resize_size(rgb.shape[0], rgb.shape[1], p["resize"])
    resized = pil_resize(rgb, width, height)
    values = hf_pixel_values(rgb, p)
    rng = np.random.default_rng(10)
    flat = values.reshape(-1)
    sample = np.sort(rng.choice(flat.size, size=2000, replace=False))
    llava = {
        "file": "llava-500x375.jpg",
        "preprocessing": p,
        "decodedSha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        "resizedWidth": width,
        "resizedHeight": height,
        "resizedSha256": hashlib.sha256(resized.tobytes()).hexdigest(),
        "resizedRowSums": resized.astype(np.int64).sum(axis=1).tolist(),
        "shape": list(values.shape),
        "channelSums": values.astype(np.float64).sum(axis=(0, 2, 3)).tolist(),
        "sampleIndices": sample.tolist(),
        "sampleValues": [float(v) for v in flat[sample]],
    }

    manifest = {
        "generator": f"tools/python/image_goldens.py, Pillow {PIL.__version__}, numpy {np.__version__}",
        "decode": decode,
        "resize": resize,
        "pixels": pixels,
        "llava": llava,
    }
    text = json.dumps(manifest, indent=1)
    # Keep number lists on one line each: the file stays readable and small.
    text = re.sub(r"\[[-0-9.e,\s]+\]", lambda m: re.sub(r"\s+", "", m.group(0)), text)
    (OUT / "goldens.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
