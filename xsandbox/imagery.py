"""Pictures and videos for the sandbox's media: generated from a seed, so the same id always gives
the same bytes, and nothing is fetched from a third party.

Pure functions of their arguments (Pillow and the ffmpeg that imageio-ffmpeg ships), free of Django,
so they can be tested and timed on their own. Caching on disk is xsandbox.media_views' job.
"""

# Pictures are seeded from ids on purpose: the same id always looks the same.
# ruff: noqa: S311

import colorsys
import contextlib
import io
import os
import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Pairs of hues that look good as a gradient; picked by seed.
_PALETTES = (
    ((0.58, 0.55, 0.95), (0.95, 0.50, 0.98)),  # sky to coral
    ((0.08, 0.70, 0.98), (0.90, 0.55, 0.70)),  # apricot to plum
    ((0.45, 0.50, 0.80), (0.60, 0.65, 0.45)),  # sea green to night blue
    ((0.12, 0.35, 0.98), (0.05, 0.75, 0.85)),  # sand to terracotta
    ((0.75, 0.40, 0.90), (0.55, 0.60, 0.55)),  # lavender to teal
    ((0.30, 0.45, 0.85), (0.15, 0.80, 0.95)),  # meadow to sun
    ((0.98, 0.25, 0.98), (0.62, 0.70, 0.60)),  # blush to ocean
)
# Avatar backgrounds: saturated enough for white initials to pass contrast.
_AVATAR_HUES = (0.0, 0.05, 0.09, 0.33, 0.45, 0.52, 0.58, 0.66, 0.75, 0.83, 0.92)

# Twitter's profile image size suffixes (pbs.twimg.com/profile_images/.../x_normal.jpg).
AVATAR_SIZES = {"_mini": 24, "_normal": 48, "_bigger": 73, "_200x200": 200, "_400x400": 400}
AVATAR_DEFAULT_SIZE = 400


def _rgb(hsv: tuple[float, float, float]) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(*hsv)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: Latin only, but present everywhere, so output is the same on any host.
    return ImageFont.load_default(size=max(8, size))


def _gradient(size: tuple[int, int], start: tuple, end: tuple, angle: int) -> Image.Image:
    # Draw a small gradient and let the resize interpolate: a full-size per-pixel loop is slow.
    ramp = Image.linear_gradient("L").rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    ramp = ramp.resize((64, 64))
    first = Image.new("RGB", (64, 64), start)
    second = Image.new("RGB", (64, 64), end)
    return Image.composite(second, first, ramp).resize(size, Image.Resampling.BICUBIC)


def _scene(seed: int, width: int, height: int) -> Image.Image:
    rng = random.Random(seed)
    start_hsv, end_hsv = rng.choice(_PALETTES)
    image = _gradient((width, height), _rgb(start_hsv), _rgb(end_hsv), rng.choice((0, 30, 45, 90)))
    draw = ImageDraw.Draw(image, "RGBA")
    short = min(width, height)
    # A "sun" and a few soft discs, then rolling hills: reads as a photo thumbnail at a glance.
    for _ in range(rng.randint(3, 6)):
        r = int(short * rng.uniform(0.06, 0.22))
        x, y = rng.randint(0, width), rng.randint(0, int(height * 0.6))
        alpha = rng.randint(40, 110)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, alpha))
    for layer in range(3):
        base = int(height * (0.62 + 0.12 * layer))
        amplitude = height * rng.uniform(0.03, 0.09)
        points = [(0, height)]
        for step in range(0, 13):
            x = width * step / 12
            points.append((x, base - amplitude * rng.uniform(-1, 1)))
        points.append((width, height))
        shade = 30 + 35 * layer
        draw.polygon(points, fill=(shade // 3, shade // 2, shade, 120 + 40 * layer))
    return image


def _caption(image: Image.Image, text: str) -> None:
    if not text:
        return
    width, height = image.size
    size = max(10, min(width, height) // 18)
    font = _font(size)
    draw = ImageDraw.Draw(image, "RGBA")
    pad = size // 2
    box = draw.textbbox((0, 0), text, font=font)
    text_w, text_h = box[2] - box[0], box[3] - box[1]
    top = height - text_h - 3 * pad
    draw.rectangle((0, top, width, height), fill=(0, 0, 0, 110))
    draw.text(((width - text_w) // 2, top + pad - box[1]), text, font=font, fill="white")


def _jpeg(image: Image.Image, quality: int = 82) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False, progressive=True)
    return out.getvalue()


def photo_jpeg(seed: int, width: int, height: int, caption: str = "") -> bytes:
    """A landscape-ish picture with an optional caption bar, exactly width x height."""
    image = _scene(seed, width, height)
    _caption(image, safe_caption(caption))
    return _jpeg(image)


def preview_jpeg(seed: int, width: int, height: int, caption: str = "") -> bytes:
    """A video's poster frame: the same scene with a play button."""
    image = _scene(seed, width, height)
    draw = ImageDraw.Draw(image, "RGBA")
    r = min(width, height) // 8
    cx, cy = width // 2, height // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(0, 0, 0, 120))
    draw.polygon(
        [(cx - r // 3, cy - r // 2), (cx - r // 3, cy + r // 2), (cx + r // 2, cy)], fill="white"
    )
    _caption(image, safe_caption(caption))
    return _jpeg(image)


def avatar_jpeg(seed: int, initials: str, size: int = AVATAR_DEFAULT_SIZE) -> bytes:
    """Initials on a colour derived from the seed (the account id), size x size."""
    # Render large and scale down: small sizes keep smooth letter edges.
    canvas = max(size, 200)
    hue = _AVATAR_HUES[seed % len(_AVATAR_HUES)]
    image = Image.new("RGB", (canvas, canvas), _rgb((hue, 0.55, 0.62)))
    draw = ImageDraw.Draw(image)
    font = _font(int(canvas * 0.42))
    text = safe_caption(initials)[:2] or "?"
    box = draw.textbbox((0, 0), text, font=font)
    x = (canvas - (box[2] - box[0])) // 2 - box[0]
    y = (canvas - (box[3] - box[1])) // 2 - box[1]
    draw.text((x, y), text, font=font, fill="white")
    if canvas != size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return _jpeg(image, quality=88)


def avatar_size(name: str) -> int:
    """The pixel size a profile image file name asks for: "abc_normal.jpg" is 48."""
    stem = name.rsplit(".", 1)[0]
    for suffix, size in AVATAR_SIZES.items():
        if stem.endswith(suffix):
            return size
    return AVATAR_DEFAULT_SIZE


def safe_caption(text: str) -> str:
    """The bundled font has Latin glyphs only: anything else would draw as empty boxes."""
    kept = "".join(ch for ch in text if ch.isascii() and ch.isprintable())
    return kept.strip()[:48]


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _caption_png(text: str, width: int, height: int) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    _caption(image, safe_caption(text))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def video_mp4(
    seed: int, width: int, height: int, dest: Path, *, seconds: float = 3.0, caption: str = ""
) -> None:
    """Write a small playable MP4 to dest: H.264 yuv420p, moov atom first (plays while loading),
    no audio. An animated gradient with a progress bar, so a player visibly plays it."""
    rng = random.Random(seed)
    start_hsv, end_hsv = rng.choice(_PALETTES)
    c0, c1 = ("0x{:02x}{:02x}{:02x}".format(*_rgb(hsv)) for hsv in (start_hsv, end_hsv))
    width, height = width - width % 2, height - height % 2  # yuv420p needs even sizes
    source = (
        f"gradients=s={width}x{height}:c0={c0}:c1={c1}:speed=0.03:"
        f"duration={seconds}:rate=24:seed={seed % 2**31}"
    )
    bar = max(4, height // 60)
    graph = (
        f"[0][1]overlay=0:0,"
        f"drawbox=x=0:y=ih-{bar}:w='iw*t/{seconds}':h={bar}:color=white@0.85:t=fill,"
        f"format=yuv420p"
    )
    command = [
        _ffmpeg(),
        *("-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
        *("-f", "lavfi", "-i", source),
        *("-f", "png_pipe", "-i", "pipe:0"),
        *("-filter_complex", graph, "-t", str(seconds), "-an"),
        *("-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-pix_fmt", "yuv420p"),
        *("-movflags", "+faststart", "-f", "mp4"),
    ]
    _run_to(dest, command, stdin=_caption_png(caption, width, height))


def mpegts_from_mp4(source: Path, dest: Path) -> None:
    """Remux an MP4 into one MPEG-TS segment for an HLS playlist."""
    command = [
        _ffmpeg(),
        *("-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(source)),
        *("-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "mpegts"),
    ]
    _run_to(dest, command)


def _run_to(dest: Path, command: list[str], stdin: bytes | None = None) -> None:
    # ffmpeg writes to a temp name in the same folder; os.replace then publishes it atomically.
    with _temp_beside(dest) as tmp:
        subprocess.run(  # noqa: S603 - a fixed ffmpeg command line, no shell
            [*command, str(tmp)], input=stdin, check=True, capture_output=True, timeout=60
        )


def write_atomically(dest: Path, data: bytes) -> None:
    """Write dest so that concurrent readers see either nothing or the whole file."""
    with _temp_beside(dest) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def _temp_beside(dest: Path) -> Iterator[Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=dest.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp makes it owner-only
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
