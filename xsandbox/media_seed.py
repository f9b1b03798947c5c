"""The media attached to the seeded world's DMs: Media rows of X's shape (photos, videos with
their mp4 and HLS renditions, animated GIFs), with sizes, durations and alt texts drawn from a
seeded random stream. Their variants' paths are served by xsandbox.media_views.
"""

import random
import string

from xsandbox.models import Event, Media
from xsandbox.texts import ALT_TEXTS, TCO_ALPHABET, VIDEO_ALTS

# fmt: off
PHOTO_SIZES = (
    (2048, 1536), (1536, 2048), (1200, 1600), (1080, 1350), (1080, 1920), (1920, 1080),
    (1600, 900), (1280, 960), (1080, 1080), (828, 1792), (750, 1000), (1440, 1080), (640, 480),
    (900, 1200),
)
# fmt: on
# (display size, [(width, height, bit_rate) of the mp4 renditions])
VIDEO_SHAPES = (
    ((1280, 720), ((480, 270, 256000), (640, 360, 832000), (1280, 720, 2176000))),
    ((720, 1280), ((320, 568, 632000), (480, 852, 950000), (720, 1280, 2176000))),
    ((720, 720), ((320, 320, 432000), (540, 540, 832000), (720, 720, 1280000))),
    ((1920, 1080), ((640, 360, 832000), (1280, 720, 2176000))),
)
GIF_SIZES = ((498, 280), (480, 480), (320, 240), (400, 300), (480, 270))
_NAME_ALPHABET = string.ascii_letters + string.digits + "_-"


def build_media(
    rng: random.Random, media_type: str, media_id: int, *, event: Event | None = None
) -> Media:
    """A Media row of X's shape. Its variants' paths are served by xsandbox.media_views."""
    ext = ".jpg" if media_type == Media.PHOTO else ".mp4"
    media = Media(
        type=media_type,
        event=event,
        resource_id="".join(rng.choices(TCO_ALPHABET, k=8)) + ext,
        variants=[],
        public_metrics={},
    )
    name = "".join(rng.choices(_NAME_ALPHABET, k=16))
    if media_type == Media.PHOTO:
        media.media_key = f"3_{media_id}"
        media.width, media.height = rng.choice(PHOTO_SIZES)
        media.alt_text = rng.choice(ALT_TEXTS) if rng.random() < 0.75 else ""
    elif media_type == Media.VIDEO:
        media.media_key = f"{rng.choice((7, 13))}_{media_id}"
        (media.width, media.height), renditions = rng.choice(VIDEO_SHAPES)
        media.duration_ms = rng.randrange(2_500, 140_000)
        media.alt_text = rng.choice(VIDEO_ALTS)
        media.public_metrics = {"view_count": rng.randrange(0, 40)}
        media.variants = [
            {
                "bit_rate": rate,
                "content_type": "video/mp4",
                "path": f"/dm_video/{media_id}/vid/{w}x{h}/{name}.mp4",
            }
            for w, h, rate in renditions
        ]
        media.variants.append(
            {
                "bit_rate": None,
                "content_type": "application/x-mpegURL",
                "path": f"/dm_video/{media_id}/pl/{name}.m3u8",
            }
        )
    elif media_type == Media.ANIMATED_GIF:
        media.media_key = f"16_{media_id}"
        media.width, media.height = rng.choice(GIF_SIZES)
        media.variants = [
            {"bit_rate": 0, "content_type": "video/mp4", "path": f"/dm_gif/{media_id}/{name}.mp4"}
        ]
    else:
        raise ValueError(f"media_type must be photo, video or animated_gif, not {media_type!r}")
    return media
