"""The sandbox's seed data and media bytes. The suite runs with DM Reader's settings, so the sandbox's
ORM is only reached in subprocesses with xsandbox.settings; media bytes are fetched over HTTP."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
import requests
from PIL import Image

from tests.sandbox import REPO, template_key
from xsandbox import imagery

ANCHOR = "2026-11-23T12:00:00Z"

# Run inside a subprocess with xsandbox.settings: prints facts about the seeded database as JSON.
PROBE = r"""
import hashlib, json, sys
from datetime import timedelta
import django
django.setup()
from django.core import serializers
from xsandbox import ids, media_views
from xsandbox.models import Conversation, Event, Media, SandboxState, Tweet, User

digest = hashlib.sha256()
for model in (User, Conversation, Event, Media, Tweet):
    for obj in model.objects.order_by("pk"):
        digest.update(serializers.serialize("json", [obj]).encode())
through = Conversation.participants.through.objects.order_by("conversation_id", "user_id")
digest.update(repr(list(through.values_list("conversation_id", "user_id"))).encode())

anchor = SandboxState.objects.get(pk=1).seeded_at
users = {u.username: u for u in User.objects.all()}
maya = users["maya_reads"]
theo_id = f"{min(maya.id, users['theo_park'].id)}-{max(maya.id, users['theo_park'].id)}"
mine = Conversation.objects.filter(participants=maya)
entity_errors, order_errors, previous = [], [], None
for e in Event.objects.order_by("id"):
    if ids.snowflake_time(e.id) != e.created_at or (previous and e.created_at <= previous):
        order_errors.append(e.id)
    previous = e.created_at
    marks = {"urls": lambda x: x["url"], "mentions": lambda x: "@" + x["username"],
             "hashtags": lambda x: "#" + x["tag"], "cashtags": lambda x: "$" + x["tag"]}
    for kind, items in e.entities.items():
        for item in items:
            if e.text[item["start"]:item["end"]] != marks[kind](item):
                entity_errors.append([e.id, kind, item])
groups = [
    {"id": c.id, "first": c.events.order_by("id").first().id, "size": c.participants.count(),
     "first_type": c.events.order_by("id").first().event_type}
    for c in Conversation.objects.filter(is_group=True)
]
media = {t: Media.objects.filter(event__conversation__in=mine, type=t).order_by("pk").first()
         for t in ("photo", "video", "animated_gif")}
texts = list(Event.objects.filter(conversation__in=mine).values_list("text", flat=True))
print(json.dumps({
    "digest": digest.hexdigest(),
    "anchor": anchor.isoformat(),
    "users": {name: {"id": str(u.id), "name": u.name, "can_sign_in": u.can_sign_in, "gone": u.gone,
                     "conversations": u.conversations.count()} for name, u in users.items()},
    "maya": {"conversations": mine.count(), "groups": mine.filter(is_group=True).count(),
             "events": Event.objects.filter(conversation__in=mine).count(),
             "media": Media.objects.filter(event__conversation__in=mine).count(),
             "only_old": sum(1 for c in mine if not c.events.filter(created_at__gte=anchor - timedelta(days=30)).exists()),
             "newest_hours": (anchor - Event.objects.filter(conversation__in=mine).latest("id").created_at).total_seconds() / 3600},
    "theo": {"id": theo_id, "events": Event.objects.filter(conversation_id=theo_id).count()},
    "vanished_messages": Event.objects.filter(sender=users["vanished_user"]).count(),
    "groups": groups,
    "one_to_one_ids": list(Conversation.objects.filter(is_group=False).values_list("id", flat=True)),
    "entity_errors": entity_errors[:5],
    "order_errors": order_errors[:5],
    "hostile": [sum(needle in t for t in texts) for needle in (
        '<script>alert("dm")</script>', '"><img src=x onerror=alert(1)>', "{{ 7*7 }}",
        "javascript:alert(1)", "\u202e", "\u200b")],
    "longest": max(map(len, texts)),
    "deleted_posts": Tweet.objects.filter(deleted=True).count(),
    "media_paths": {t: {"type": m.type, "photo": media_views.photo_path(m),
                        "download": media_views.download_path(m),
                        "preview": media_views.preview_path(m),
                        "variants": [v["path"] for v in m.variants],
                        "size": [m.width, m.height]} for t, m in media.items()},
}))
"""


def _django(db: Path, *args: str, script: str | None = None, **env: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "xsandbox.settings",
        "XSANDBOX_DB": str(db),
        **env,
    }
    command = [sys.executable, *(["-c", script] if script else ["-m", "django"]), *args]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _seeded(db: Path, **env: str) -> tuple[str, dict]:
    _django(db, "migrate", "-v0")
    summary = _django(db, "seed_sandbox", "--anchor", ANCHOR, **env)
    return summary, json.loads(_django(db, script=PROBE))


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seed") / "xsandbox.sqlite3"


@pytest.fixture(scope="module")
def seeded(seed_db) -> tuple[str, dict]:
    return _seeded(seed_db)


@pytest.fixture(scope="module")
def facts(seeded) -> dict:
    return seeded[1]


def test_seeding_prints_a_one_line_summary(seeded):
    summary = seeded[0].strip()
    assert "\n" not in summary
    for noun in ("users", "conversations", "events", "media", "tweets"):
        assert noun in summary


def test_the_same_anchor_gives_the_same_rows(facts, tmp_path):
    _, again = _seeded(tmp_path / "again.sqlite3")
    assert again["digest"] == facts["digest"]


def test_the_anchor_is_recorded(facts):
    assert facts["anchor"] == "2026-11-23T12:00:00+00:00"


def test_the_fixed_accounts_exist(facts):
    users = facts["users"]
    assert users["maya_reads"]["name"] == "Maya Okafor" and users["maya_reads"]["can_sign_in"]
    assert users["jonas_k"]["name"] == "Jonas Köhler" and users["jonas_k"]["can_sign_in"]
    assert users["quiet_quinn"]["can_sign_in"] and users["quiet_quinn"]["conversations"] == 0
    assert users["vanished_user"]["gone"] and facts["vanished_messages"] > 0
    assert users["theo_park"]["name"] == "Theo Park"
    assert len(users) >= 45


def test_maya_has_a_busy_inbox_across_the_30_day_window(facts):
    maya = facts["maya"]
    assert maya["conversations"] >= 28 and maya["groups"] >= 6
    assert maya["events"] >= 4500 and maya["media"] >= 300
    assert maya["only_old"] >= 2
    assert maya["newest_hours"] < 6


def test_maya_and_theo_talk_a_lot_in_a_numerically_ordered_conversation(facts):
    low, high = facts["theo"]["id"].split("-")
    assert int(low) < int(high) and facts["theo"]["events"] >= 2200


def test_group_ids_are_their_first_event_minus_four(facts):
    assert len(facts["groups"]) >= 6
    for group in facts["groups"]:
        assert int(group["id"]) == group["first"] - 4
        assert 3 <= group["size"] <= 9


def test_one_to_one_ids_put_the_smaller_user_id_first(facts):
    for conversation_id in facts["one_to_one_ids"]:
        low, high = conversation_id.split("-")
        assert int(low) < int(high)


def test_event_ids_are_snowflakes_of_their_creation_time_in_order(facts):
    assert facts["order_errors"] == []


def test_entity_indices_point_at_their_text(facts):
    assert facts["entity_errors"] == []


def test_hostile_and_huge_texts_are_in_the_data(facts):
    assert all(count >= 1 for count in facts["hostile"])
    assert facts["longest"] >= 10_000
    assert facts["deleted_posts"] == 1


# A crowd: more accounts for runs that need hundreds of people (xsandbox/crowd.py).

# Facts about the crowd of a seeded database, and a digest of everything else in it.
CROWD_PROBE = r"""
import hashlib, json, sys
from datetime import timedelta
import django
django.setup()
from django.core import serializers
from xsandbox import crowd
from xsandbox.models import Conversation, Event, Media, SandboxState, User

names = crowd.usernames(int(sys.argv[1]))
anchor = SandboxState.objects.get(pk=1).seeded_at
people = User.objects.filter(username__in=names)
theirs = Conversation.objects.filter(participants__in=people).distinct()
digest = hashlib.sha256()
for rows in (
    User.objects.exclude(username__in=names).order_by("pk"),
    Event.objects.exclude(conversation__in=theirs).order_by("pk"),
    Media.objects.exclude(event__conversation__in=theirs).order_by("pk"),
):
    for obj in rows:
        digest.update(serializers.serialize("json", [obj]).encode())
events = Event.objects.filter(conversation__in=theirs)
times = [e.created_at for e in events] or [anchor]
print(json.dumps({
    "rest": digest.hexdigest(),
    "people": [[u.username, u.name, u.can_sign_in, u.conversations.count()] for u in people],
    "ids": [u.id for u in people],
    "events": events.count(),
    "oldest_days": (anchor - min(times)) / timedelta(days=1),
    "newest_hours": (anchor - max(times)) / timedelta(hours=1),
    "senders_outside": events.exclude(sender__in=people).exclude(sender=None).count(),
    "groups": theirs.filter(is_group=True).count(),
}))
"""
CROWD = 12


@pytest.fixture(scope="module")
def crowded(tmp_path_factory) -> tuple[str, dict]:
    db = tmp_path_factory.mktemp("crowd") / "xsandbox.sqlite3"
    summary, facts = _seeded(db, XSANDBOX_CROWD=str(CROWD))
    return summary, facts, json.loads(_django(db, str(CROWD), script=CROWD_PROBE))


def test_a_crowd_is_people_who_can_sign_in_and_chat_among_themselves_inside_xs_window(
    crowded, facts
):
    _, everything, crowd = crowded
    assert len(everything["users"]) == len(facts["users"]) + CROWD
    assert [p[0] for p in crowd["people"]] == sorted(p[0] for p in crowd["people"])
    assert len(crowd["people"]) == CROWD
    assert all(
        can_sign_in and conversations >= 1 for _, _, can_sign_in, conversations in crowd["people"]
    )
    assert all(" " in name for _, name, _, _ in crowd["people"])  # a first name and a surname
    # X's user ids: positive, sequential before mid-2015 and snowflakes since.
    assert all(0 < user_id < 2**63 for user_id in crowd["ids"])
    assert len(set(crowd["ids"])) == CROWD
    assert crowd["events"] >= 10 * CROWD and crowd["senders_outside"] == 0
    # All of it a first sync can see: inside X's 30 days, and nothing in the future.
    assert crowd["oldest_days"] < 25 and crowd["newest_hours"] > 0
    # Its ids follow X's rules as the rest of the world's do.
    assert everything["order_errors"] == [] and everything["entity_errors"] == []


def test_a_crowd_leaves_the_rest_of_the_world_as_it_was(crowded, seed_db, facts):
    # The same probe on the world seeded without a crowd: no such people there, so all of it.
    without = json.loads(_django(seed_db, str(CROWD), script=CROWD_PROBE))
    assert without["people"] == []
    assert crowded[2]["rest"] == without["rest"]


def test_the_same_crowd_twice_gives_the_same_rows(crowded, tmp_path):
    _, again = _seeded(tmp_path / "again.sqlite3", XSANDBOX_CROWD=str(CROWD))
    assert again["digest"] == crowded[1]["digest"]


def test_the_crowd_size_picks_its_own_seeded_template():
    plain = template_key({"XSANDBOX_RATE_LIMIT": "300/900"})
    assert template_key({"XSANDBOX_RATE_LIMIT": "15/900"}) == plain  # read only while serving
    assert template_key({"XSANDBOX_CROWD": "300"}) != plain
    assert template_key({"XSANDBOX_CROWD": "300"}) != template_key({"XSANDBOX_CROWD": "301"})


# Media bytes, over HTTP from a running sandbox.


@pytest.fixture(scope="module")
def live(sandbox) -> dict:
    return json.loads(_django(Path(sandbox.env["XSANDBOX_DB"]), script=PROBE))


@pytest.fixture(scope="module")
def media_paths(live) -> dict:
    return live["media_paths"]


@pytest.fixture(scope="module")
def maya_token(sandbox) -> str:
    return sandbox.token("maya_reads")["access_token"]


def _get(sandbox, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(sandbox.base_url + path, headers=headers, timeout=60)


def test_a_dm_photo_downloads_as_a_jpeg_of_its_size_for_a_participant(
    sandbox, media_paths, maya_token
):
    photo = media_paths["photo"]
    for path in (photo["photo"], photo["download"]):
        response = _get(sandbox, path, maya_token)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert "x-rate-limit-remaining" in response.headers
        assert list(Image.open(io.BytesIO(response.content)).size) == photo["size"]


def test_dm_media_needs_a_token_and_a_participant(sandbox, media_paths):
    path = media_paths["photo"]["download"]
    assert _get(sandbox, path).status_code == 401
    quinn = sandbox.token("quiet_quinn")["access_token"]
    response = _get(sandbox, path, quinn)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/resource-not-found")


def test_bad_dm_media_ids_get_a_400(sandbox, maya_token):
    response = _get(sandbox, "/2/dm_conversations/media/12a/1/x.jpg", maya_token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameters"] == {"dm_id": ["12a"]}


def test_video_variants_are_playable_h264(sandbox, media_paths, tmp_path):
    video = media_paths["video"]
    mp4 = next(p for p in video["variants"] if p.endswith(".mp4"))
    response = _get(sandbox, mp4)
    assert response.status_code == 200 and response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Cache-Control"] == "public, max-age=604800"
    (tmp_path / "v.mp4").write_bytes(response.content)
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "v.mp4")],
        capture_output=True,
        text=True,
    )
    assert "h264" in probe.stderr and "yuv420p" in probe.stderr
    playlist = _get(sandbox, next(p for p in video["variants"] if p.endswith(".m3u8")))
    assert playlist.text.startswith("#EXTM3U")
    preview = _get(sandbox, video["preview"])
    assert list(Image.open(io.BytesIO(preview.content)).size) == video["size"]


def test_gifs_are_short_mp4s(sandbox, media_paths):
    gif = media_paths["animated_gif"]
    response = _get(sandbox, gif["variants"][0])
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"


def test_head_reports_the_size_without_a_body(sandbox, media_paths):
    path = media_paths["video"]["preview"]
    size = len(_get(sandbox, path).content)
    head = requests.head(sandbox.base_url + path, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size
    assert head.content == b""


@pytest.mark.parametrize(("name", "size"), [("a_normal.jpg", 48), ("a_bigger.jpg", 73), ("a", 400)])
def test_avatars_honour_the_size_suffix(sandbox, live, name, size):
    maya_id = live["users"]["maya_reads"]["id"]
    response = _get(sandbox, f"/profile_images/{maya_id}/{name}")
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (size, size)


def test_photos_are_generated_at_any_size():
    # How fast is for a benchmark, not a test: a loaded machine must not fail the suite.
    data = imagery.photo_jpeg(1, 2048, 1536, "Sunset over the Tagus")
    assert Image.open(io.BytesIO(data)).size == (2048, 1536)
