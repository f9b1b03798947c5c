"""A generated cache of DM events for the benchmarks.

One owner with N events across 1,000 conversations (a tenth of them in one busy one-to-one, the
rest spread unevenly over one-to-ones and groups of 3 to 10 people, 600 X users in all), and a
second owner with a little data of their own, which contains the benches' rare words too, so a
bench can check that nothing of theirs shows in the first owner's results.

Events are built as the pages /2/dm_events returns, parsed by `xapi.parse_dm_page` and stored
through `store.store_page` as a sync does, so every row is what a sync writes: sort_id,
search_text, has_link, media_kinds, media and post links, participants, each conversation's
last_event. Only the page size differs from X's: 5,000 events a page, in one
transaction each (SQLite's FTS5 triggers fire as in production).

Text: words drawn from a Zipf-distributed vocabulary (s = 1: common chat words first, then a long
tail of made-up ones, so both very common and very rare words exist), a few set phrases, accents,
emoji, CJK and other scripts, @mentions, #hashtags, links, photos, videos, GIFs and shared posts.
Everything is seeded: one size always gives the same cache.

Generated caches are kept and reused: SQLite files under var/bench/, PostgreSQL databases in the
cluster DATABASE_URL points at (bench_<size>_<digest>). The digest covers GENERATION and every
migration, so a new migration, or a change to the data that bumps GENERATION, generates anew.

Importing this module sets Django up for a bench (DATABASE_URL from the environment, else SQLite).
Run on its own to generate, or find, a cache and print how long it took:
    .venv/bin/python bench/datagen.py [--events N]
"""

import argparse
import hashlib
import os
import random
import string
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / "var" / "bench"
CACHE_DIR.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(REPO))
os.environ.update(
    DJANGO_SETTINGS_MODULE="dmreader.settings",
    DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{CACHE_DIR / 'unused.sqlite3'}",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from conversations import store, xapi, xids  # noqa: E402
from conversations.models import Conversation, DmEvent, SyncState  # noqa: E402
from dmreader.models import XAccount  # noqa: E402

# Time what production runs: with DEBUG on, every query would also be logged.
settings.DEBUG = False

GENERATION = 1  # bump when a change here changes the data, so cached caches are not reused
SEED = 20261101
END = datetime(2026, 11, 1, tzinfo=UTC)  # the newest event
SPAN = timedelta(days=730)  # the cache keeps what syncs brought in over two years
CONVERSATIONS = 1000
PEOPLE = 600
ONE_TO_ONES = 500  # one with each of the first 500 people; the other 500 conversations are groups
BUSY_SHARE = 0.10  # of the events, in the busy one-to-one (conversation 0, with person 0)
PAGE_EVENTS = 5000
TWITTER_EPOCH_MS = 1288834974657
ME = "1479281940157452288"  # the first owner's X user id
OTHER_ME = "918273645"  # the second owner's

# The most common words of chat, most frequent first; the long tail is made up (_vocabulary).


def _split(text: str) -> list[str]:
    return text.split()


# fmt: off
COMMON_WORDS = _split("""
you i the to a it and is that of in me my for this so we have be on just
not what do are but no with was at your can like it's i'm all get if know
good lol ok how up now will one out there about yes when time see they
think go love oh then more too really haha an need from want he she her
him today day back well got did here going make much come work any some
tomorrow let us been our thanks right still yeah would could should night
coffee later meet call home great sure tonight maybe week new never always
people thing things said say way morning sorry already after before long
last next little big wait look send sent photo pic link soon again free
happy nice cool fun best better feel feeling sleep food dinner lunch
weekend friday monday saturday sunday plans plan trip flight hotel train
car drive walk run gym game watch movie show music song party birthday
gift friend friends family mom dad brother sister baby kids school class
test exam job boss meeting office email phone message text chat group
news price money pay paid buy bought shop store book read write writing
code bug fix deploy release server data team project deadline idea
question answer problem help thank please hello hi hey bye night city
beach rain sun snow cold hot weather coffee tea beer wine pizza ramen
""")
# fmt: on
PHRASES = [
    "see you tomorrow",
    "on my way",
    "happy birthday",
    "let me know",
    "sounds good",
    "talk soon",
    "running late",
]
# Accents, emoji and scripts the tokenizers see differently.
INTERNATIONAL = [
    "café",
    "naïve",
    "Zürich",
    "São Paulo",
    "jalapeño",
    "déjà vu",
    "🔥",
    "😂",
    "👍",
    "🎉",
    "❤️",
    "東京で会いましょう",
    "北京欢迎你",
    "안녕하세요",
    "привет",
    "спасибо",
    "שלום",
    "مرحبا",
    "\uff26\uff35\uff2c\uff2c width",  # full-width letters
]
LINK_SITES = [
    "https://example.com/articles/{n}",
    "https://docs.djangoproject.com/en/6.1/ref/models/querysets/#{w}",
    "https://en.wikipedia.org/wiki/{W}",
    "https://github.com/{w}/{w2}/pull/{n}",
    "https://www.youtube.com/watch?v={t}",
    "https://news.ycombinator.com/item?id={n}",
    "https://maps.example.org/place/{w}?lat=48.8&lng=2.3",
]
FIRST_NAMES = _split(
    "Ana Ben Cy Dana Eli Fatima Gus Hana Ivan Jun Kofi Lena Marco Nia Omar Priya Quinn Rosa "
    "Sam Tomás Uma Vik Wen Xavi Yara Zoé Noor Liam Mei Aziz"
)
LAST_NAMES = _split(
    "Lima Okoro Twombly Silva Chen Nakamura Müller Rossi Novak Haddad Kim Dubois Costa Singh "
    "Smith Garcia Ivanova Cohen Mensah Larsen"
)


def _digest() -> str:
    hashed = hashlib.sha256(str(GENERATION).encode())
    for path in sorted(REPO.glob("*/migrations/0*.py")):
        hashed.update(path.read_bytes())
    return hashed.hexdigest()[:10]


def snowflake(moment: datetime, sequence: int) -> str:
    """An X id for something created at `moment`: milliseconds since X's epoch, then 22 bits."""
    ms = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((ms << 22) | (sequence & 0x3FFFFF))


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# The vocabulary ---------------------------------------------------------------------------------

VOCABULARY_SIZE = 50_000


def vocabulary() -> list[str]:
    """Words by rank: COMMON_WORDS, then made-up words of 2 to 4 syllables."""
    rng = random.Random(SEED)
    words = list(dict.fromkeys(COMMON_WORDS))
    seen = set(words)
    onsets = _split("b c d f g h j k l m n p r s t v z br dr gr st tr pl sk")
    vowels = _split("a e i o u ai ou")
    while len(words) < VOCABULARY_SIZE:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.3:
            word += rng.choice("nrstlk")
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


WORDS = vocabulary()
# Zipf, s = 1: the word of rank r is drawn with weight 1/r.
_CUMULATIVE = []
_total = 0.0
for _rank in range(1, VOCABULARY_SIZE + 1):
    _total += 1 / _rank
    _CUMULATIVE.append(_total)
_INDEXES = range(VOCABULARY_SIZE)

# Words the benches look for, with how often they occur: the expected number of messages with the
# word among a million is about 1e6 * (1 - (1 - 1/(rank * 11.4)) ** 8).
PROBES = {
    "common": WORDS[0],  # "you": in about half of all messages
    "frequent": "coffee",  # a real word of middling rank: a few percent
    "uncommon": WORDS[3_000],  # a few hundred in a million
    "rare": WORDS[20_000],  # a few dozen in a million
    "rarest": WORDS[45_000],  # about ten in a million
    "absent": "xylophonequartz",  # in no message
}
# The second owner's messages contain these often, so a leak would show in any result list.
PLANTED = [PROBES["rare"], PROBES["rarest"], PROBES["uncommon"], PROBES["absent"]]


# One owner's world --------------------------------------------------------------------------------


@dataclass
class Person:
    x_id: str
    username: str
    name: str
    created_at: datetime

    def api_object(self) -> dict:
        return {
            "id": self.x_id,
            "name": self.name,
            "username": self.username,
            "created_at": timestamp(self.created_at),
            "description": f"Hi, I'm {self.name.split()[0]}.",
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{self.x_id}/a_normal.jpg",
            "protected": False,
            "verified": False,
            "public_metrics": {
                "followers_count": int(self.x_id) % 5000,
                "following_count": int(self.x_id) % 700,
                "tweet_count": int(self.x_id) % 90000,
                "listed_count": 3,
            },
        }


@dataclass
class Place:
    x_id: str
    members: list[str]  # X user ids, the owner's included
    others: list[str]


@dataclass
class Message:
    text: str
    entities: dict
    media: list[dict]
    posts: list[dict]


class World:
    """The people and conversations of one owner, and a seeded stream of their events."""

    def __init__(
        self,
        *,
        me: str,
        my_name: str,
        seed: int,
        people: int,
        conversations: int,
        one_to_ones: int,
        busy_share: float,
        planted: list[str] | None = None,
        extra_people: list[Person] | None = None,
    ):
        self.rng = random.Random(seed)
        self.me = me
        rng = self.rng
        first_seen = END - timedelta(days=4000)
        self.people = [*(extra_people or [])]
        used = {p.username for p in self.people}
        while len(self.people) < people:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            base = (first + last).lower()
            base = "".join(c for c in base if c in string.ascii_lowercase)[:11]
            username = f"{base}{rng.randint(1, 9999)}"
            if username in used:
                continue
            used.add(username)
            # Old accounts have short ids, accounts from 2022 on have snowflakes.
            if rng.random() < 0.4:
                x_id = str(rng.randint(10_000_000, 4_000_000_000))
            else:
                moment = END - timedelta(days=rng.uniform(200, 1500))
                x_id = snowflake(moment, rng.randrange(1 << 22))
            created = first_seen + timedelta(days=rng.uniform(0, 3500))
            self.people.append(Person(x_id, username, f"{first} {last}", created))
        self.me_person = Person(me, my_name.lower().replace(" ", "_"), my_name, first_seen)
        self.by_id = {p.x_id: p for p in [*self.people, self.me_person]}
        self.places = []
        for index in range(conversations):
            if index < one_to_ones:
                other = self.people[index].x_id
                x_id = xids.one_to_one_id(me, other)
                self.places.append(Place(x_id, [me, other], [other]))
            else:
                size = rng.randint(2, 9)
                # Popular people are in more groups.
                others = list(
                    dict.fromkeys(
                        self.people[min(int(rng.paretovariate(0.6)) - 1, len(self.people) - 1)].x_id
                        for _ in range(size * 2)
                    )
                )[:size]
                if len(others) < 2:
                    others = [p.x_id for p in rng.sample(self.people, 2)]
                created = END - SPAN - timedelta(days=rng.uniform(1, 300))
                x_id = snowflake(created, rng.randrange(1 << 22))
                self.places.append(Place(x_id, [me, *others], others))
        # A tenth of the events in conversation 0; the rest shared out unevenly (a few chatty
        # conversations, a long quiet tail).
        tail = [1 / rank**0.9 for rank in range(1, conversations)]
        weights = [busy_share] + [(1 - busy_share) * w / sum(tail) for w in tail]
        self.place_cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            self.place_cumulative.append(total)
        self.planted = planted or []
        self.media_sequence = 0
        self.post_sequence = 0

    def events(self, count: int, *, sequence_base: int = 0):
        """Pages of /2/dm_events, newest first."""
        rng = self.rng
        places = rng.choices(self.places, cum_weights=self.place_cumulative, k=count)
        step = SPAN / count
        users_sent = False
        for start in range(0, count, PAGE_EVENTS):
            data, media, posts = [], [], []
            stop = min(count, start + PAGE_EVENTS)
            lengths = [min(40, int(rng.expovariate(1 / 7)) + 1) for _ in range(start, stop)]
            words = iter(rng.choices(WORDS, cum_weights=_CUMULATIVE, k=sum(lengths)))
            for index, length in zip(range(start, stop), lengths, strict=True):
                moment = END - step * (index + rng.random())
                moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
                x_id = snowflake(moment, sequence_base + index)
                event = self._event(
                    x_id, moment, places[index], [next(words) for _ in range(length)]
                )
                message = event.pop("_message", None)
                if message is not None:
                    media += message.media
                    posts += message.posts
                data.append(event)
            includes = {}
            if not users_sent:
                includes["users"] = [p.api_object() for p in [self.me_person, *self.people]]
                users_sent = True
            if media:
                includes["media"] = media
            if posts:
                includes["tweets"] = posts
            yield {"data": data, "includes": includes, "meta": {"result_count": len(data)}}

    def _event(self, x_id: str, moment: datetime, place: Place, words: list[str]) -> dict:
        rng = self.rng
        base = {"id": x_id, "created_at": timestamp(moment), "dm_conversation_id": place.x_id}
        if len(place.members) > 2 and rng.random() < 0.01:
            someone = rng.choice(place.others)
            if rng.random() < 0.5:
                adder = rng.choice([m for m in place.members if m != someone])
                return {
                    **base,
                    "event_type": "ParticipantsJoin",
                    "participant_ids": [someone],
                    "sender_id": adder,
                }
            return {**base, "event_type": "ParticipantsLeave", "participant_ids": [someone]}
        if len(place.members) == 2:
            sender = self.me if rng.random() < 0.45 else place.others[0]
        else:
            sender = self.me if rng.random() < 0.2 else rng.choice(place.others)
        message = self._message(x_id, moment, place, words)
        event = {**base, "event_type": "MessageCreate", "text": message.text, "sender_id": sender}
        if message.entities:
            event["entities"] = message.entities
        if message.media:
            event["attachments"] = {"media_keys": [m["media_key"] for m in message.media]}
        if message.posts:
            event["referenced_tweets"] = [{"id": p["id"]} for p in message.posts]
        event["_message"] = message
        return event

    def _message(self, x_id: str, moment: datetime, place: Place, words: list[str]) -> Message:
        rng = self.rng
        roll = rng.random
        with_media = roll() < 0.03
        if with_media and roll() < 0.3:
            words = []  # a photo or video on its own: the text is X's t.co link only
        elif roll() < 0.015:
            words.insert(rng.randrange(len(words) + 1), rng.choice(PHRASES))
        if words and self.planted and roll() < 0.2:
            words.insert(rng.randrange(len(words) + 1), rng.choice(self.planted))
        if words and roll() < 0.02:
            words.append(rng.choice(INTERNATIONAL))
        if words and roll() < 0.5:
            words[0] = words[0][:1].upper() + words[0][1:]
        text = ""
        if words:
            text = " ".join(words) + rng.choice(["", "", "", ".", "!", "?", " 😂", " lol", "..."])
        entities: dict[str, list] = {}
        if words and roll() < 0.02:
            person = self.by_id[rng.choice(place.members)]
            text = self._append(text, f"@{person.username}", entities, "mentions")
            entities["mentions"][-1].update(username=person.username, id=person.x_id)
        if words and roll() < 0.01:
            tag = rng.choice(WORDS[:300])
            text = self._append(text, f"#{tag}", entities, "hashtags")
            entities["hashtags"][-1]["tag"] = tag
        if words and roll() < 0.04:
            url = rng.choice(LINK_SITES).format(
                n=rng.randint(1000, 99_999_999),
                w=rng.choice(WORDS[:5000]),
                w2=rng.choice(WORDS[:5000]),
                W=rng.choice(WORDS[:300]).title(),
                t="".join(rng.choices(string.ascii_letters + string.digits, k=11)),
            )
            text = self._link(text, url, entities)
        posts = []
        if words and roll() < 0.01:
            author = rng.choice(self.people)
            self.post_sequence += 1
            post_id = snowflake(moment - timedelta(hours=rng.uniform(1, 200)), self.post_sequence)
            text = self._link(text, f"https://x.com/{author.username}/status/{post_id}", entities)
            posts.append(
                {
                    "id": post_id,
                    "text": " ".join(rng.choices(WORDS[:2000], k=rng.randint(4, 30))),
                    "author_id": author.x_id,
                    "created_at": timestamp(moment - timedelta(hours=1)),
                    "lang": "en",
                    "public_metrics": {"like_count": rng.randint(0, 5000), "retweet_count": 1},
                }
            )
        media = []
        if with_media:
            media.append(self._media(x_id, moment))
            short = self._tco()
            text = f"{text} {short}" if text else short
            entities.setdefault("urls", []).append(
                {
                    "start": len(text) - len(short),
                    "end": len(text),
                    "url": short,
                    "expanded_url": f"https://x.com/messages/media/{x_id}",
                    "display_url": "pic.x.com/" + short.rsplit("/", 1)[1],
                    "media_key": media[0]["media_key"],
                }
            )
        return Message(text, entities, media, posts)

    def _append(self, text: str, piece: str, entities: dict, kind: str) -> str:
        text = f"{text} " if text else ""
        entities.setdefault(kind, []).append({"start": len(text), "end": len(text) + len(piece)})
        return text + piece

    def _tco(self) -> str:
        return "https://t.co/" + "".join(
            self.rng.choices(string.ascii_letters + string.digits, k=10)
        )

    def _link(self, text: str, url: str, entities: dict) -> str:
        """What X does to a URL in a DM: a t.co link in the text, the real one in entities.urls."""
        short = self._tco()
        text = self._append(text, short, entities, "urls")
        entity = entities["urls"][-1]
        shown = url.split("://", 1)[1].removeprefix("www.")
        entity.update(
            url=short,
            expanded_url=url,
            display_url=shown if len(shown) <= 26 else shown[:25] + "…",
        )
        if "/status/" not in url:
            entity.update(unwound_url=url, status=200, title=f"Page about {url.rsplit('/', 1)[-1]}")
        return text

    def _media(self, x_id: str, moment: datetime) -> dict:
        rng = self.rng
        self.media_sequence += 1
        media_id = snowflake(moment - timedelta(seconds=5), self.media_sequence)
        kind = rng.choices(["photo", "video", "animated_gif"], weights=[60, 25, 15])[0]
        width, height = rng.choice([(1536, 2048), (2048, 1536), (1080, 1920), (1280, 720)])
        prefix = {"photo": "3", "video": "7", "animated_gif": "16"}[kind]
        item = {"media_key": f"{prefix}_{media_id}", "type": kind, "width": width, "height": height}
        if kind == "photo":
            item["url"] = f"https://ton.twitter.com/1.1/ton/data/dm/{x_id}/{media_id}/aB3dE5fG.jpg"
            return item
        item["preview_image_url"] = f"https://pbs.twimg.com/dm_video_preview/{media_id}/img/a.jpg"
        item["variants"] = [
            {
                "bit_rate": 832000,
                "content_type": "video/mp4",
                "url": f"https://video.twimg.com/dm_video/{media_id}/vid/{width}x{height}/a.mp4",
            }
        ]
        if kind == "video":
            item["duration_ms"] = rng.randint(2000, 120_000)
        return item


# Storing and reusing caches -----------------------------------------------------------------------


@dataclass
class Cache:
    events: int  # the first owner's
    owner: object  # the first owner (a Django user)
    other: object  # the second owner
    busy: Conversation  # the first owner's busiest conversation: a tenth of the events
    busy_events: int
    generated_in: float | None  # seconds; None when an existing cache was reused
    where: str


_ORIGINAL_NAME = connection.settings_dict["NAME"]


def _point_at(name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = name


def _postgres_databases() -> set[str]:
    _point_at(_ORIGINAL_NAME)
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database")
        return {row[0] for row in cursor.fetchall()}


def use(events: int, *, verbose: bool = True) -> Cache:
    """Point Django's default database at the cache of `events` events, generating it if needed."""
    name = f"bench_{events}_{_digest()}"
    generated_in = None
    if connection.vendor == "sqlite":
        path = CACHE_DIR / f"{name}.sqlite3"
        where = str(path.relative_to(REPO))
        if not path.exists():
            partial = path.with_suffix(".partial")
            for leftover in CACHE_DIR.glob(partial.name + "*"):
                leftover.unlink()
            _point_at(str(partial))
            generated_in = _generate(events, verbose=verbose)
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.execute("PRAGMA journal_mode=DELETE")
            connection.close()
            partial.replace(path)
        _point_at(str(path))
    else:
        where = f"database {name}"
        if name not in _postgres_databases():
            partial = f"{name}_partial"
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{partial}"')
                cursor.execute(f'CREATE DATABASE "{partial}"')
            _point_at(partial)
            generated_in = _generate(events, verbose=verbose)
            _point_at(_ORIGINAL_NAME)
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
        _point_at(name)
    # A cache kept from a run of older rendering code: its messages rendered again, as
    # `manage.py renderbodies` does after an upgrade, so pages are timed as they will be served.
    started = time.perf_counter()
    if rendered := store.render_stale_bodies():
        print(f"  {rendered:,} messages rendered again in {time.perf_counter() - started:.0f} s")
    User = get_user_model()
    owner = User.objects.get(username="bench-owner")
    busy = Conversation.objects.get(owner=owner, x_id=xids.one_to_one_id(ME, busy_friend()))
    return Cache(
        events=events,
        owner=owner,
        other=User.objects.get(username="bench-other"),
        busy=busy,
        busy_events=DmEvent.objects.filter(conversation=busy).count(),
        generated_in=generated_in,
        where=where,
    )


def busy_friend() -> str:
    return _world().people[0].x_id


def _world() -> World:
    return World(
        me=ME,
        my_name="Bench Owner",
        seed=SEED,
        people=PEOPLE,
        conversations=CONVERSATIONS,
        one_to_ones=ONE_TO_ONES,
        busy_share=BUSY_SHARE,
    )


def _other_events(events: int) -> int:
    return max(300, min(events // 100, 10_000))


def _generate(events: int, *, verbose: bool) -> float:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if connection.vendor == "sqlite":
        # Only while generating: nothing here is worth a sync to disk. The page cache stays at
        # 64 MiB (a 1 GB one took generation to 1.3 GB RSS; the benches keep under 300 MB), and
        # temporary tables go to disk for the same reason.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-65536")
    User = get_user_model()
    owner = User.objects.create_user("bench-owner")
    XAccount.objects.create(user=owner, x_user_id=ME, username="bench_owner", name="Bench Owner")
    other = User.objects.create_user("bench-other")
    XAccount.objects.create(user=other, x_user_id=OTHER_ME, username="bench_other", name="Other")
    world = _world()
    _store(owner.pk, world.events(events), events, "first owner", started, verbose)
    # The second owner shares some people with the first (each keeps their own copy), is in a
    # one-to-one with them, and writes the benches' rare words often.
    other_world = World(
        me=OTHER_ME,
        my_name="Bench Other",
        seed=SEED + 1,
        people=40,
        conversations=20,
        one_to_ones=12,
        busy_share=0.2,
        planted=PLANTED,
        extra_people=[world.me_person, *world.people[:10]],
    )
    count = _other_events(events)
    _store(
        other.pk,
        other_world.events(count, sequence_base=1 << 21),
        count,
        "second owner",
        started,
        verbose,
    )
    for user in (owner, other):
        SyncState.objects.create(
            owner=user, status=SyncState.IDLE, backfill_complete=True, last_success_at=END
        )
    if connection.vendor == "postgresql":
        # What autovacuum would have done by the time anyone searches a cache this size.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    store.refresh_statistics()  # what every sync that stores events does (SQLite)
    return time.perf_counter() - started


def _store(owner_id, pages, count: int, who: str, started: float, verbose: bool) -> None:
    stored = 0
    for body in pages:
        with transaction.atomic():
            store.store_page(owner_id, xapi.parse_dm_page(body))
        stored += len(body["data"])
        if verbose and (stored % 100_000 == 0 or stored == count):
            elapsed = time.perf_counter() - started
            print(f"  {who}: {stored:>9,} events stored, {elapsed:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    cache = use(args.events)
    vendor = connection.vendor
    if cache.generated_in is None:
        print(f"{vendor}: {args.events:,} events: reusing {cache.where}")
    else:
        rate = args.events / cache.generated_in
        print(
            f"{vendor}: {args.events:,} events generated in {cache.generated_in:.1f} s "
            f"({rate:,.0f} events/s) into {cache.where}"
        )
    print(
        f"  busiest conversation: {cache.busy_events:,} events; "
        f"conversations: {Conversation.objects.filter(owner=cache.owner).count():,}; "
        f"second owner: {DmEvent.objects.filter(owner=cache.other).count():,} events"
    )


if __name__ == "__main__":
    main()
