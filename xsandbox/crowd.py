"""A crowd: N more accounts that can sign in, with small DM histories between them, for runs that
need hundreds of people (the scale-out run signs 300 of them in at once).

`manage.py seed_sandbox --crowd N` (or XSANDBOX_CROWD=N) adds them to the seeded world. Like the
rest of the seed, the crowd is a pure function of N and the anchor: each person chats with a few
others one-to-one, and about one in eight starts a small group; every conversation runs a few days
to a few hours before the anchor, inside X's 30-day window, so a first sync sees all of it. The
base world is built first and is the same with or without a crowd: the crowd's ids are minted
around it (event and media milliseconds it has not used).
"""

# Seeded, reproducible randomness (S311); names in many scripts (RUF001).
# ruff: noqa: S311, RUF001

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from xsandbox.ids import SEED, snowflake
from xsandbox.models import Conversation, Event, Media, User
from xsandbox.people import OLD_ID_MARKS, Person, old_style_id, user_metrics
from xsandbox.seed import Group, Pair, Style, World, mint_events

# fmt: off
# (first names, surnames, the languages they chat in besides English)
NAMES = (
    (("Ana", "João", "Inês", "Tiago", "Beatriz", "Rui"), ("Silva", "Costa", "Ferreira"), ("pt",)),
    (("Lena", "Felix", "Mara", "Jonas", "Greta", "Paul"), ("Becker", "Wolf", "Hoffmann"), ("de",)),
    (("Chloé", "Hugo", "Léa", "Louis", "Manon"), ("Martin", "Bernard", "Dubois"), ("fr",)),
    (("Yuki", "Ren", "Aoi", "Sora", "Hina"), ("Sato", "Suzuki", "Ito"), ("ja",)),
    (("Min-jun", "Ji-woo", "Seo-yeon", "Ha-eun"), ("Kim", "Lee", "Park"), ("ko",)),
    (("Amara", "Chidi", "Ngozi", "Emeka", "Adaeze"), ("Okafor", "Eze", "Nwosu"), ("ig",)),
    (("Aarav", "Diya", "Ishaan", "Ananya", "Kabir"), ("Sharma", "Iyer", "Gupta"), ("hi",)),
    (("Omar", "Layla", "Karim", "Nour", "Yasmin"), ("Haddad", "Khoury", "Nasser"), ("ar",)),
    (("Elif", "Can", "Zeynep", "Emre", "Defne"), ("Yılmaz", "Kaya", "Demir"), ("tr",)),
    (("Sofia", "Nikos", "Eleni", "Giorgos"), ("Papadopoulou", "Nikolaou"), ("el",)),
    (("Wei", "Lin", "Jun", "Mei", "Hao"), ("Chen", "Wang", "Zhang"), ("zh",)),
    (("Olga", "Ivan", "Dasha", "Mikhail"), ("Ivanova", "Petrov", "Smirnova"), ("ru",)),
    (("Noa", "Itai", "Maya", "Yonatan"), ("Levi", "Cohen", "Mizrahi"), ("he",)),
    (("Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Grace"), ("Walsh", "Brooks", "Reed"), ()),
)
PLACES = ("Lisbon", "Berlin", "Paris", "Tokyo", "Seoul", "Lagos", "Mumbai", "Beirut", "Istanbul",
          "Athens", "Taipei", "Tbilisi", "Tel Aviv", "Dublin", "Toronto", "Porto", "Leeds", "")
BIOS = ("", "", "coffee, trains, long walks", "nurse. night shifts. tea.", "teacher 📚",
        "bikes and bad puns", "photos sometimes", "here for the group chats", "student",
        "climber 🧗", "amateur baker", "mostly lurking", "dog person 🐕", "runs on espresso")
# fmt: on
# A quieter mix than the seeded inboxes: mostly chat, the odd photo, link or shared post.
CROWD_STYLE = Style(media=0.03, link=0.02, share=0.01, tags=0.02, emoji=0.08, medium=0.1)
# Conversations start 1-24 days before the anchor and end at least an hour before it: well inside
# X's 30-day window, whenever a run checks it.
OLDEST_DAYS, NEWEST_DAYS = 24, 0.05


@dataclass
class Crowd:
    users: list[User]
    conversations: list[Conversation]
    members: list[tuple[str, int]]  # (conversation id, user id)
    events: list[Event]
    media: list[Media]


def usernames(count: int) -> list[str]:
    """The crowd's usernames, in order: who a run can sign in as."""
    return [_person(i)[0] for i in range(count)]


def _person(i: int) -> tuple[str, str, tuple[str, ...]]:
    rng = random.Random(f"{SEED}:crowd:person:{i}")
    firsts, lasts, langs = rng.choice(NAMES)
    first, last = rng.choice(firsts), rng.choice(lasts)
    handle = "".join(c for c in first.lower() if c.isascii() and c.isalpha())[:7] or "user"
    initial = next((c for c in last.lower() if c.isascii() and c.isalpha()), "x")
    return f"{handle}_{initial}{i:04d}", f"{first} {last}", ("en", *langs)


def build_crowd(world: World, count: int, *, used_event_ms: set[int]) -> Crowd:
    """`count` people with their conversations, minted around the world's existing ids. The world
    must already be minted (its media mint holds the milliseconds its media used)."""
    rng = random.Random(f"{SEED}:crowd:{count}")
    taken = {u.id for u in world.users.values()}
    people = []
    for i in range(count):
        username, name, langs = _person(i)
        created = datetime(2009, 3, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 16 * 365))
        created = created.replace(microsecond=0)
        # As X's own: sequential ids before mid-2015, snowflakes since (people.build_users).
        if created < OLD_ID_MARKS[-1][0]:
            user_id = old_style_id(created, rng)
        else:
            user_id = snowflake(created, rng.randrange(4), worker=rng.randrange(1024))
        while user_id in taken:
            user_id += 1
        taken.add(user_id)
        user = User(
            id=user_id,
            username=username,
            name=name,
            description=rng.choice(BIOS),
            location=rng.choice(PLACES),
            created_at=created,
            public_metrics=user_metrics(rng, Person(username, name)),
            can_sign_in=True,
        )
        people.append(user)
        world.users[username] = user
        world.user_ids[username] = user_id
        world.langs[username] = langs
    names = [u.username for u in people]

    plans = []
    # Each person starts one to three one-to-ones with people a few places along (the crowd is a
    # ring, so everybody has someone), and about one in eight a group of three to five.
    pairs = set()
    for i, a in enumerate(names):
        for _ in range(rng.randint(1, 3)):
            if count < 2:
                break
            b = names[(i + rng.randint(1, min(count - 1, 12))) % count]
            if a != b and frozenset((a, b)) not in pairs:
                pairs.add(frozenset((a, b)))
                start = rng.uniform(1, OLDEST_DAYS)
                end = rng.uniform(NEWEST_DAYS, min(start, 3))
                plans.append(
                    world.plan_pair(Pair(a, b, rng.randint(3, 30), start, end, CROWD_STYLE))
                )
        if count >= 3 and rng.random() < 0.125:
            others = rng.sample([n for n in names if n != a], min(count - 1, rng.randint(2, 4)))
            start = rng.uniform(2, OLDEST_DAYS)
            end = rng.uniform(NEWEST_DAYS, min(start, 2))
            spec = Group(
                f"crowd-{i}", a, tuple(others), rng.randint(8, 40), start, end, style=CROWD_STYLE
            )
            plans.append(world.plan_group(spec))
    conversations, events, media = mint_events(
        world, plans, used_ms=used_event_ms, stream="crowd:events"
    )
    members = [(p.conversation_id, world.user_ids[u]) for p in plans for u in p.members]
    return Crowd(people, conversations, members, events, media)
