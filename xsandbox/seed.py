"""The sandbox's world: accounts, DM conversations, events, media and shared posts, anchored to a
moment ("now"), plus the writers the control API uses to add events later.

Everything is derived from fixed random seeds and the anchor, so two seeds with the same anchor give
identical rows. Times are spread over the 45 days before the anchor, so X's 30-day window of
/2/dm_events cuts through the data: some conversations are entirely older, some straddle it.

The parts live beside it: ids and times in ids.py, the accounts in people.py, the message texts and
their entities in texts.py, the media in media_seed.py; this module puts them together into
conversations, posts and events.
"""

# Seeded, reproducible randomness is the point here.
# ruff: noqa: S311

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from xsandbox import clock
from xsandbox.ids import SEED, Mint, from_ms, snowflake, snowflake_time, to_ms
from xsandbox.media_seed import build_media
from xsandbox.models import Conversation, Event, Media, Tweet, User
from xsandbox.people import JONAS, MAYA, PEOPLE, QUINN, THEO, VANISHED, build_users
from xsandbox.texts import (
    CASHTAGS,
    CHAT,
    EMOJI,
    HASHTAGS,
    LANG_LINES,
    LINK_INTROS,
    LINKS,
    LISTS,
    MENTIONS,
    MIXED,
    PARAGRAPHS,
    PHOTO_CAPTIONS,
    SENTENCES,
    SHARE_COMMENTS,
    TEMPLATES,
    attach_media_link,
    card_images,
    fill,
    finish_media_links,
    linkify,
)

DAY = 86400.0


# --- Conversation plans ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How often a conversation's messages carry each kind of content."""

    media: float = 0.04
    video_share: float = 0.15  # of media
    gif_share: float = 0.12  # of media
    link: float = 0.025
    share: float = 0.02
    tags: float = 0.03
    emoji: float = 0.07
    medium: float = 0.12
    long: float = 0.0
    foreign: float = 0.35  # a speaker with another language uses it


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    events: int
    start_days: float  # days before the anchor
    end_days: float
    style: Style = Style()
    only_sender: str = ""  # unanswered conversations


@dataclass(frozen=True)
class Change:
    at: float  # fraction of the group's span
    kind: str  # Event.PARTICIPANTS_JOIN or Event.PARTICIPANTS_LEAVE
    who: tuple[str, ...]
    by: str = ""  # joins: who added them


@dataclass(frozen=True)
class Group:
    key: str
    creator: str
    initial: tuple[str, ...]
    events: int
    start_days: float
    end_days: float
    changes: tuple[Change, ...] = ()
    opens_with_message: bool = False
    chatty: tuple[str, ...] = ()
    style: Style = Style()


JOIN, LEAVE = Event.PARTICIPANTS_JOIN, Event.PARTICIPANTS_LEAVE

PAIRS = (
    Pair(
        MAYA,
        THEO,
        3200,
        45,
        0.028,
        Style(media=0.05, link=0.03, share=0.025, medium=0.12, long=0.0015, foreign=0.05),
    ),
    Pair(MAYA, JONAS, 160, 44, 0.3),
    Pair(MAYA, "layla_haddad", 120, 40, 1.1),
    Pair(MAYA, "noa_levi", 80, 35, 2.2),
    Pair(MAYA, "haruto_sato", 90, 30.5, 0.1, Style(media=0.1)),
    Pair(MAYA, "priya_sharma", 110, 42, 3),
    Pair(MAYA, "seo_yeon_kim", 45, 15, 1),
    Pair(MAYA, "dmitri_volkov", 60, 29, 0.5),
    Pair(MAYA, "zoe_papadakis", 35, 26, 6),
    Pair(MAYA, "mei_chen", 40, 22, 4),
    Pair(MAYA, "fatima_zahra", 50, 31, 0.7),
    Pair(MAYA, "ben_ortega", 40, 45, 33),  # entirely outside X's 30-day window
    Pair(MAYA, "clara_nguyen", 15, 44, 38),
    Pair(MAYA, "vinyl_corner", 6, 41, 40),
    Pair(MAYA, "sam_rivera", 200, 43, 10, Style(media=0.06, emoji=0.12)),
    Pair(MAYA, "security_pia", 30, 20, 5),
    Pair(MAYA, "private_pat", 30, 25, 4),
    Pair(MAYA, "cityrail_help", 12, 8, 7.9, Style(media=0, link=0.15, emoji=0)),
    Pair(MAYA, "lisbon_bakery", 8, 26, 25.9, Style(media=0.2)),
    Pair(MAYA, "marcus_bell", 150, 45, 0.05, Style(share=0.08, link=0.06)),
    Pair(MAYA, "newsdesk_daily", 10, 18, 2, Style(share=0.3, link=0.2), only_sender=MAYA),
    Pair(MAYA, "ravi_iyer", 4, 9, 8.9, only_sender="ravi_iyer"),
    Pair(MAYA, "aiko_tanaka", 70, 28, 1.5, Style(media=0.12)),
    Pair(MAYA, "ngozi_okafor", 90, 45, 0.2, Style(medium=0.3, long=0.02)),
    Pair(MAYA, "wilhelmina_v", 3, 3, 2.95, only_sender=MAYA),
    Pair(JONAS, "lukas_brandt", 90, 40, 0.6),
    Pair(JONAS, "elif_yilmaz", 45, 25, 3),
    Pair(JONAS, "kofi_mensah", 30, 38, 12),
    Pair(THEO, "haruto_sato", 40, 20, 1),
)
GROUPS = (
    Group(
        "lisbon_trip",
        MAYA,
        (THEO, JONAS, "ines_carvalho", "rafa_souza"),
        500,
        27,
        0.12,
        changes=(
            Change(0.15, JOIN, ("sam_rivera",), THEO),
            Change(0.4, JOIN, ("aiko_tanaka",), MAYA),
            Change(0.85, LEAVE, ("rafa_souza",)),
        ),
        chatty=(MAYA, THEO, "ines_carvalho"),
        style=Style(media=0.36, video_share=0.18, gif_share=0.1, medium=0.08),
    ),
    Group(
        "book_club",
        "layla_haddad",
        (MAYA, "noa_levi", "priya_sharma", VANISHED, "zoe_papadakis"),
        300,
        44.7,
        2,
        opens_with_message=True,
        changes=(
            Change(0.3, JOIN, ("fatima_zahra",), "layla_haddad"),
            Change(0.7, LEAVE, ("zoe_papadakis",)),
            Change(0.8, JOIN, ("mei_chen",), MAYA),
        ),
        chatty=("layla_haddad", MAYA),
        style=Style(medium=0.2, long=0.01, tags=0.06),
    ),
    Group(
        "family",
        "ngozi_okafor",
        (MAYA, "chidi_okafor", "ada_okafor"),
        300,
        44.7,
        0.8,
        changes=(
            Change(0.6, JOIN, ("emeka_okafor",), "ngozi_okafor"),
            Change(0.85, LEAVE, ("emeka_okafor",)),  # the family chat is a lot
        ),
        chatty=("ngozi_okafor",),
        style=Style(media=0.1, medium=0.2, long=0.012),
    ),
    Group(
        "climbing",
        "hannah_berg",
        (MAYA, "omar_farouk", "julia_weiss", "tomasz_nowak"),
        250,
        40,
        0.9,
        changes=(
            Change(0.1, JOIN, ("marcus_bell",), "hannah_berg"),
            Change(0.25, JOIN, ("kofi_mensah", "jo"), MAYA),
            Change(0.5, LEAVE, ("tomasz_nowak",)),
            Change(0.6, JOIN, ("alex_2049",), "omar_farouk"),
            Change(0.8, JOIN, ("tomasz_nowak",), "julia_weiss"),
        ),
        style=Style(media=0.08, gif_share=0.4),
    ),
    Group(
        "design_systems",
        "grace_obi",
        (MAYA, "felix_martin", "anya_petrova", "wilhelmina_v"),
        180,
        45,  # the oldest group: starts before the 30-day window, joins and leaves inside it
        12,
        changes=(
            Change(0.6, JOIN, ("sofia_rossi",), "felix_martin"),
            Change(0.75, LEAVE, ("wilhelmina_v",)),
        ),
        style=Style(link=0.08, medium=0.25),
    ),
    Group(
        "old_flatmates", "rosie_clarke", (MAYA, "dev_patel"), 60, 44.7, 34, opens_with_message=True
    ),
    Group(
        "theo_birthday",
        MAYA,
        (JONAS, "ines_carvalho", "sam_rivera", "marcus_bell", "seo_yeon_kim"),
        80,
        12,
        0.4,
        changes=(Change(0.5, JOIN, ("aiko_tanaka",), "ines_carvalho"),),
        style=Style(media=0.1, gif_share=0.5),
    ),
    Group(
        "kickers",
        JONAS,
        ("lukas_brandt", "lena_fischer", "mateo_garcia"),
        120,
        35,
        0.5,
        changes=(Change(0.4, JOIN, ("kwame_asante",), JONAS),),
        style=Style(media=0.08, gif_share=0.5),
    ),
)


@dataclass
class Draft:
    """An event before ids are minted."""

    plan: "Plan"
    at: float  # seconds relative to the anchor (negative: in the past)
    event_type: str = Event.MESSAGE_CREATE
    sender: str | None = None
    text: str = ""
    entities: dict = field(default_factory=dict)
    participants: tuple[str, ...] = ()
    media: Media | None = None
    posts: list[str] = field(default_factory=list)
    opens_group: bool = False


@dataclass
class Plan:
    key: str
    is_group: bool
    members: list[str]  # everyone who can read it, including those who left
    drafts: list[Draft] = field(default_factory=list)
    conversation_id: str = ""


# --- Hostile and edge-case texts a UI must render as plain text --------------------------------


def _ten_thousand() -> str:
    para = "\n\n".join(PARAGRAPHS)
    head = "stress test, ignore 🙃 — "
    body = (para + "\n\n") * (10_000 // len(para) + 1)
    return (head + body)[:10_000]


HOSTILE = (
    '<script>alert("dm")</script>',
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "javascript:alert(1)",
    "zero\u200bwidth\u200cjoiners\u200d everywhere\ufeff and a soft\u00adhyphen",
    "invoice_\u202efdp.exe — RTL override, should read as typed",
    "{% debug %} ${7*7} <b>not bold</b> &lt;i&gt;escaped&lt;/i&gt; **not markdown**",
    "' OR 1=1; -- 🙂",
)


# --- The writer: content for one message ----------------------------------------------------------


class Writer:
    def __init__(self, world: "World", rng: random.Random, style: Style) -> None:
        self.world, self.rng, self.style = world, rng, style

    def message(self, draft: Draft, others: list[str]) -> None:
        roll = self.rng.random()
        kind = next((k for threshold, k in self._kinds() if roll < threshold), "chat")
        raw = getattr(self, "_" + kind)(draft, others)
        if kind == "share" and raw is None:
            raw = self._chat(draft, others)
        media_type = None
        if kind == "media":
            media_type = self._media_type()
        self.world.write(draft, raw, media_type=media_type)

    def _kinds(self) -> list[tuple[float, str]]:
        s, total, out = self.style, 0.0, []
        for share, kind in (
            (s.media, "media"),
            (s.link, "link"),
            (s.share, "share"),
            (s.tags, "tags"),
            (s.emoji, "emoji"),
            (s.long, "long"),
            (s.medium, "medium"),
        ):
            total += share
            out.append((total, kind))
        return out

    def _media_type(self) -> str:
        roll = self.rng.random()
        if roll < self.style.video_share:
            return Media.VIDEO
        if roll < self.style.video_share + self.style.gif_share:
            return Media.ANIMATED_GIF
        return Media.PHOTO

    def _chat(self, draft: Draft, others: list[str]) -> str:
        rng = self.rng
        langs = self.world.langs[draft.sender]
        foreign = [lang for lang in langs if lang != "en" and lang in LANG_LINES]
        if not foreign and draft.sender == MAYA:
            # Maya answers in her friend's language now and then.
            foreign = [
                lang for o in others for lang in self.world.langs[o][:1] if lang in LANG_LINES
            ]
            if rng.random() > 0.25:
                foreign = []
        if foreign and rng.random() < self.style.foreign:
            return rng.choice(LANG_LINES[rng.choice(foreign)])
        if foreign and rng.random() < 0.08:
            return rng.choice(MIXED)
        if rng.random() < 0.45:
            return fill(rng.choice(TEMPLATES), rng)
        return rng.choice(CHAT)

    def _medium(self, draft: Draft, others: list[str]) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice(LISTS)
        joiner = "\n" if rng.random() < 0.3 else " "
        return joiner.join(rng.sample(SENTENCES, rng.randint(2, 4)))

    def _long(self, draft: Draft, others: list[str]) -> str:
        count = self.rng.randint(5, 8)
        return "\n\n".join(self.rng.sample(PARAGRAPHS, count))

    def _emoji(self, draft: Draft, others: list[str]) -> str:
        return self.rng.choice(EMOJI)

    def _media(self, draft: Draft, others: list[str]) -> str:
        return self.rng.choice(PHOTO_CAPTIONS)

    def _link(self, draft: Draft, others: list[str]) -> str:
        url = self.rng.choice(LINKS)[0]
        intro = self.rng.choice(LINK_INTROS)
        return f"{intro} {url}" if intro else url

    def _tags(self, draft: Draft, others: list[str]) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            people = [u for u in self.world.mentionable if u != draft.sender]
            first, second = rng.sample(people, 2)
            pick = others[0] if others and rng.random() < 0.5 else first
            return rng.choice(MENTIONS).format(m="@" + pick, m2="@" + second)
        if roll < 0.8:
            return rng.choice(HASHTAGS)
        return rng.choice(CASHTAGS)

    def _share(self, draft: Draft, others: list[str]) -> str | None:
        post = self.world.post_before(draft.at, self.rng)
        if post is None:
            return None
        comment = self.rng.choice(SHARE_COMMENTS)
        url = f"https://x.com/{post.author.username}/status/{post.id}"
        return f"{comment} {url}" if comment else url


# --- Times ----------------------------------------------------------------------------------------


def _session_times(
    rng: random.Random, n: int, start: float, end: float, anchor: datetime
) -> list[float]:
    """n message times (seconds relative to the anchor) in bursts, like people chat: a few minutes
    of back-and-forth, then nothing for hours. Mostly awake hours (Lisbon time)."""
    if n <= 0:
        return []
    sessions = max(1, round(n / rng.uniform(7, 13)))
    sizes = [1] * sessions
    for _ in range(n - sessions):
        sizes[rng.randrange(sessions)] += 1
    bursts = []
    for size in sizes:
        gaps = [min(900.0, max(2.0, rng.expovariate(1 / 55))) for _ in range(size - 1)]
        bursts.append(gaps)
    starts = [start] + [_awake(rng, start, end, anchor) for _ in range(sessions - 1)]
    starts.sort()
    last_len = sum(bursts[-1])
    starts[-1] = max(starts[-1], end - last_len) if sessions > 1 else starts[-1]
    times = []
    for begin, gaps in zip(starts, bursts, strict=True):
        t = begin
        times.append(t)
        for gap in gaps:
            t += gap
            times.append(t)
    times.sort()
    for i in range(1, len(times)):
        times[i] = max(times[i], times[i - 1] + 1.5)
    # Squeeze back under the end if a late burst ran over.
    overshoot = times[-1] - end
    if overshoot > 0:
        span = times[-1] - times[0]
        times = [start + (t - times[0]) * (end - start) / span for t in times] if span else times
    return times


def _span(rng: random.Random, start_days: float, end_days: float) -> tuple[float, float]:
    # A little jitter, so conversations don't all start or stop on the hour.
    start = -start_days * DAY + rng.uniform(0, 0.25 * DAY)
    end = -end_days * DAY - rng.uniform(0, min(0.3 * end_days, 0.5) * DAY)
    return start, end


def _awake(rng: random.Random, start: float, end: float, anchor: datetime) -> float:
    for _ in range(6):
        t = rng.uniform(start, end)
        hour = (anchor + timedelta(seconds=t, hours=1)).hour
        if not 1 <= hour <= 7:
            return t
    return t


# --- The world ------------------------------------------------------------------------------------


class World:
    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self.users = {u.username: u for u in build_users()}
        self.user_ids = {name: u.id for name, u in self.users.items()}
        self.langs = {p.username: p.langs for p in PEOPLE}
        self.mentionable = [p.username for p in PEOPLE if not p.gone and p.username != QUINN]
        self.media_mint = Mint(random.Random(f"{SEED}:media"))
        self.posts: list[Tweet] = []
        self.plans: list[Plan] = []

    def time(self, at: float) -> datetime:
        return self.anchor + timedelta(seconds=at)

    # Posts shared into DMs.

    def post_before(self, at: float, rng: random.Random) -> Tweet | None:
        cutoff = self.time(at) - timedelta(minutes=10)
        choices = [p for p in self.posts if p.created_at < cutoff and not p.deleted]
        return rng.choice(choices) if choices else None

    # Writing one message.

    def write(
        self, draft: Draft, raw: str, *, media_type: str | None = None, linkify_text: bool = True
    ) -> None:
        rng = random.Random(f"{SEED}:{draft.plan.key}:{draft.at}")
        if linkify_text:
            draft.text, draft.entities, draft.posts = linkify(raw, user_ids=self.user_ids, rng=rng)
        else:
            draft.text, draft.entities, draft.posts = raw, {}, []
        draft.media = None
        if media_type:
            upload = self.time(draft.at) - timedelta(seconds=rng.uniform(2, 40))
            draft.media = build_media(rng, media_type, self.media_mint(upload))
            draft.text = attach_media_link(draft.text, draft.entities, rng, draft.media.media_key)

    # Conversations.

    def plan_pair(self, spec: Pair) -> Plan:
        rng = random.Random(f"{SEED}:pair:{spec.a}:{spec.b}")
        plan = Plan(f"{spec.a}+{spec.b}", False, [spec.a, spec.b])
        start, end = _span(rng, spec.start_days, spec.end_days)
        times = _session_times(rng, spec.events, start, end, self.anchor)
        writer = Writer(self, rng, spec.style)
        sender = rng.choice((spec.a, spec.b))
        for at in times:
            if spec.only_sender:
                sender = spec.only_sender
            elif rng.random() > 0.45:
                sender = spec.b if sender == spec.a else spec.a
            draft = Draft(plan, at, sender=sender)
            writer.message(draft, [spec.b if sender == spec.a else spec.a])
            plan.drafts.append(draft)
        return plan

    def plan_group(self, spec: Group) -> Plan:
        rng = random.Random(f"{SEED}:group:{spec.key}")
        start, end = _span(rng, spec.start_days, spec.end_days)
        everyone = [spec.creator, *spec.initial]
        for change in spec.changes:
            everyone += [u for u in change.who if u not in everyone]
        plan = Plan(spec.key, True, everyone)
        messages = spec.events - 1 - len(spec.changes) + (1 if spec.opens_with_message else 0)
        times = _session_times(rng, messages, start + 60, end, self.anchor)
        if spec.opens_with_message:
            times[0] = start
        else:
            opening = Draft(
                plan, start, JOIN, spec.creator, participants=spec.initial, opens_group=True
            )
            plan.drafts.append(opening)
        changes = [(start + c.at * (end - start), c) for c in spec.changes]
        members = [spec.creator, *spec.initial]
        writer = Writer(self, rng, spec.style)
        weights = {u: (3.0 if u in spec.chatty else 1.0) for u in everyone}
        for at in times:
            while changes and changes[0][0] <= at:
                change_at, change = changes.pop(0)
                plan.drafts.append(self._change(plan, change_at, change, members))
            opens = not plan.drafts
            sender = (
                spec.creator if opens else rng.choices(members, [weights[u] for u in members])[0]
            )
            draft = Draft(plan, at, sender=sender, opens_group=opens)
            writer.message(draft, [u for u in members if u != sender])
            if opens:
                self.write(
                    draft, "welcome everyone 👋 made a group so we stop losing things in 5 chats"
                )
            plan.drafts.append(draft)
        for change_at, change in changes:
            plan.drafts.append(self._change(plan, change_at, change, members))
        plan.drafts.sort(key=lambda d: d.at)
        return plan

    def _change(self, plan: Plan, at: float, change: Change, members: list[str]) -> Draft:
        if change.kind == JOIN:
            members.extend(u for u in change.who if u not in members)
            return Draft(plan, at, JOIN, change.by, participants=change.who)
        for user in change.who:
            members.remove(user)
        return Draft(plan, at, LEAVE, None, participants=change.who)

    def place(self, plan: Plan, fraction: float, sender: str, raw: str, **kwargs) -> None:
        """Put a particular message at about `fraction` of the way through a conversation."""
        candidates = [d for d in plan.drafts if d.event_type == Event.MESSAGE_CREATE]
        draft = candidates[min(len(candidates) - 1, int(fraction * len(candidates)))]
        draft.sender = sender
        self.write(draft, raw, **kwargs)


# --- Posts ----------------------------------------------------------------------------------------

# (author, lang, text). Replies and quotes refer to earlier posts by index.
POSTS = (
    (
        "newsdesk_daily",
        "en",
        "Night train between Lisbon and Madrid to return next spring, operators "
        "confirm. Tickets from €39. https://www.bbc.co.uk/news/articles/c4ge0z8n1p7o",
    ),
    ("theo_park", "en", "hot take: the best ramen in any city is the one you can walk to"),
    (
        "marcus_bell",
        "en",
        "Every train announcement in Lisbon sounds like a love letter. #trains #Lisbon",
    ),
    ("haruto_sato", "ja", "リスボンの夕焼け、毎日違う色。#写真 #Lisbon"),
    ("layla_haddad", "ar", "الترجمة ليست نقل كلمات، بل نقل عالم كامل."),
    (
        "cityrail_help",
        "en",
        "Line 2 is running with delays of up to 15 minutes due to a signalling "
        "fault at Cais do Sodré. Updates: https://cityrail.pt/en/service-status",
    ),
    ("lisbon_bakery", "pt", "Hoje há pastéis de nata acabados de sair do forno 🥐 até às 11h!"),
    ("sam_rivera", "en", "made a zine about houseplants that survived me. it's a short zine"),
    ("maya_reads", "en", "Finished Piranesi on the tram and missed my stop. Worth it. #BookClub"),
    ("security_pia", "en", "PSA: if your app renders DMs as HTML, I have some bad news for you 🙃"),
    ("newsdesk_daily", "en", "Markets: $AAPL and $MSFT close higher as tech rebounds."),
    ("dmitri_volkov", "en", "Rewrote it in Rust. It's slower now. Ask me anything."),
    ("noa_levi", "he", "מחקר משתמשים ביום שישי בבוקר זה פשע נגד האנושות"),
    ("priya_sharma", "en", "Chai in one hand, SQL in the other. Productive Sunday ☕"),
    ("marcus_bell", "en", "Thread: the 12 most beautiful railway stations in Europe, ranked 🧵"),
    ("aiko_tanaka", "en", "new commission sheet coming soon!! ✏️ #art"),
    ("ines_carvalho", "pt", "Lisboa em outubro é outra cidade. Menos gente, mais luz."),
    (
        "newsdesk_daily",
        "en",
        "Heatwave warning issued for southern Europe this weekend. Stay hydrated.",
    ),
    (
        "omar_farouk",
        "en",
        "An octopus has three hearts and still manages better work-life balance than me 🐙",
    ),
    ("theo_park", "en", "Developed 6 rolls today. 2 good frames. That's a great ratio for film."),
)
# (index of the post it quotes or answers, kind, author, text)
RESPONSES = (
    (0, "quoted", "marcus_bell", "FINALLY. I've been waiting for this for ten years."),
    (1, "replied_to", "haruto_sato", "@theo_park 完全に同意 🍜"),
    (9, "quoted", "maya_reads", "this is why we test with weird inputs, people"),
    (2, "replied_to", "ines_carvalho", "@marcus_bell wait until you hear the ferry ones"),
    (7, "quoted", "theo_park", "the zine is excellent and I'm in it (as a dead fern)"),
    (14, "replied_to", "marcus_bell", "@marcus_bell 1. Antwerpen-Centraal. Obviously."),
    (11, "replied_to", "jonas_k", "@dmitri_volkov same energy as my Kubernetes migration"),
    (5, "quoted", "maya_reads", "of course it's today"),
)
DELETED_POST = (
    "marcus_bell",
    "en",
    "Unpopular opinion: the Alfa Pendular is overrated. (deleting this in an hour)",
)


def _post_metrics(rng: random.Random, author: User) -> dict:
    reach = max(50, author.public_metrics.get("followers_count", 100))
    impressions = int(reach * rng.uniform(0.05, 2.5))
    likes = int(impressions * rng.uniform(0.005, 0.05))
    return {
        "retweet_count": int(likes * rng.uniform(0.05, 0.3)),
        "reply_count": int(likes * rng.uniform(0.02, 0.2)),
        "like_count": likes,
        "quote_count": int(likes * rng.uniform(0.0, 0.05)),
        "bookmark_count": int(likes * rng.uniform(0.01, 0.1)),
        "impression_count": impressions,
    }


def _build_posts(world: World) -> list[Tweet]:
    rng = random.Random(f"{SEED}:posts")
    mint = Mint(rng)
    posts: list[Tweet] = []

    def make(author: str, lang: str, raw: str, at: datetime, **extra) -> Tweet:
        text, entities, _ = linkify(raw, user_ids=world.user_ids, rng=rng)
        post_id = mint(at)
        user = world.users[author]
        return Tweet(
            id=post_id,
            author=user,
            text=text,
            created_at=snowflake_time(post_id),
            lang=lang,
            conversation_id=extra.pop("conversation_id", post_id),
            entities=entities,
            public_metrics=_post_metrics(rng, user),
            **extra,
        )

    for author, lang, raw in POSTS:
        at = world.time(-rng.uniform(3, 55) * DAY)
        posts.append(make(author, lang, raw, at))
    originals = list(posts)
    for index, kind, author, raw in RESPONSES:
        target = originals[index]
        at = target.created_at + timedelta(minutes=rng.uniform(5, 2 * 24 * 60))
        at = min(at, world.time(-3600))
        ref = [{"type": kind, "id": str(target.id)}]
        if kind == "quoted":
            url = f"https://x.com/{target.author.username}/status/{target.id}"
            posts.append(make(author, "en", f"{raw} {url}", at, referenced_tweets=ref))
        else:
            posts.append(
                make(
                    author,
                    target.lang if author == "haruto_sato" else "en",
                    raw,
                    at,
                    referenced_tweets=ref,
                    in_reply_to_user_id=target.author_id,
                    conversation_id=target.conversation_id,
                )
            )
    deleted = make(*DELETED_POST, world.time(-6 * DAY), deleted=True)
    posts.append(deleted)
    return posts


# --- Putting it together --------------------------------------------------------------------------


def _place_specials(world: World, plans: dict[str, Plan]) -> None:
    """Messages a UI must get right: hostile markup, huge and tricky texts, posts that are gone."""
    pia = plans[f"{MAYA}+security_pia"]
    for i, raw in enumerate(HOSTILE):
        world.place(
            pia, 0.15 + i * 0.09, "security_pia" if i % 3 else MAYA, raw, linkify_text=False
        )
    world.place(pia, 0.95, "security_pia", _ten_thousand(), linkify_text=False)

    theo = plans[f"{MAYA}+{THEO}"]
    deleted = next(p for p in world.posts if p.deleted)
    specials = (
        (0.35, MAYA, "\n\n".join(PARAGRAPHS[:6])),
        (0.88, THEO, "\n\n".join(PARAGRAPHS[4:])),
        (0.975, MAYA, "\n\n".join(PARAGRAPHS[::2] + PARAGRAPHS[1::4])),
        (
            0.98,
            THEO,
            f"did you see what he posted 😂 https://x.com/marcus_bell/status/{deleted.id}",
        ),
        (0.984, MAYA, "🇵🇹🎉 tickets are booked: https://bit.ly/3xK9pQz cc @jonas_k #LisbonTrip"),
        (
            0.988,
            THEO,
            "👩🏾‍💻👨‍👩‍👧‍👦🏳️‍🌈🇰🇷 $AAPL @maya_reads https://www.youtube.com/watch?v=jNQXAC9IVRw",
        ),
        (
            0.992,
            MAYA,
            "ok so in Japanese it's 写真 (shashin), in Arabic صورة and in Hebrew תמונה 📷",
        ),
        (0.996, THEO, "dinner at mine tonight? 8pm, bring nothing but yourself"),
    )
    for fraction, sender, raw in specials:
        world.place(theo, fraction, sender, raw)
    world.place(theo, 0.999, MAYA, "", media_type=Media.PHOTO)

    family = plans["family"]
    world.place(family, 0.3, "ngozi_okafor", "\n\n".join(PARAGRAPHS[5:9]))
    world.place(family, 0.95, "ngozi_okafor", "\n\n".join(PARAGRAPHS[::-1][:6]))


def build_world(anchor: datetime) -> World:
    world = World(anchor)
    world.posts = _build_posts(world)
    plans = {}
    for spec in PAIRS:
        plan = world.plan_pair(spec)
        plans[plan.key] = plan
    for spec in GROUPS:
        plan = world.plan_group(spec)
        plans[plan.key] = plan
    _place_specials(world, plans)
    world.plans = list(plans.values())
    return world


def mint_events(
    world: World, plans: list | None = None, *, used_ms: set[int] | None = None, stream="events"
) -> tuple[list[Conversation], list[Event], list[Media]]:
    """Give every draft of `plans` (default: the world's) a snowflake in created_at order across
    all conversations, each at a millisecond no other event has (`used_ms`: those taken already;
    ids never collide and still carry their creation time), then name each conversation: pairs
    by their members' ids, groups by their first event's id minus 4. `stream` names the random
    sequence, so the crowd's events (crowd.py) don't shift the base world's ids."""
    plans = world.plans if plans is None else plans
    used_ms = set() if used_ms is None else used_ms
    rng = random.Random(f"{SEED}:{stream}")
    anchor_ms = to_ms(world.anchor)
    drafts = sorted((d for plan in plans for d in plan.drafts), key=lambda d: d.at)
    events, media = [], []
    for draft in drafts:
        ms = anchor_ms + int(draft.at * 1000)
        while ms in used_ms:
            ms += 1
        used_ms.add(ms)
        seq = 4 if draft.opens_group else rng.randrange(4)
        event_id = snowflake(from_ms(ms), seq, worker=rng.randrange(1024))
        plan = draft.plan
        if not plan.conversation_id:
            if plan.is_group:
                plan.conversation_id = str(event_id - 4)
            else:
                low, high = sorted(world.user_ids[u] for u in plan.members)
                plan.conversation_id = f"{low}-{high}"
        event = Event(
            id=event_id,
            conversation_id=plan.conversation_id,
            event_type=draft.event_type,
            created_at=from_ms(ms),
            text=draft.text if draft.event_type == Event.MESSAGE_CREATE else "",
            sender_id=world.user_ids[draft.sender] if draft.sender else None,
            participant_ids=[str(world.user_ids[u]) for u in draft.participants],
            media_keys=[draft.media.media_key] if draft.media else [],
            referenced_tweet_ids=draft.posts,
            entities=draft.entities,
        )
        finish_media_links(event)
        events.append(event)
        if draft.media:
            draft.media.event_id = event_id
            media.append(draft.media)
    conversations = [Conversation(id=p.conversation_id, is_group=p.is_group) for p in plans]
    return conversations, events, media


def reset() -> None:
    """Delete the seeded world (and with the accounts, their grants, rate windows and faults).
    Registered clients stay."""
    Media.objects.all().delete()
    Event.objects.all().delete()
    Conversation.participants.through.objects.all().delete()
    Conversation.objects.all().delete()
    Tweet.objects.all().delete()
    User.objects.all().delete()


# --- Writers for the control API ------------------------------------------------------------------


def ensure_one_to_one(a: str, b: str) -> Conversation:
    """The one-to-one conversation between two accounts (usernames), created if missing. Its id is
    "{smaller id}-{larger id}", compared as numbers."""
    first, second = User.objects.get(username=a), User.objects.get(username=b)
    low, high = sorted((first.id, second.id))
    conversation, _ = Conversation.objects.get_or_create(
        id=f"{low}-{high}", defaults={"is_group": False}
    )
    conversation.participants.add(first, second)
    return conversation


@transaction.atomic
def add_event(
    *,
    conversation_id: str,
    sender: str | None,
    text: str = "",
    event_type: str = Event.MESSAGE_CREATE,
    participants: list[str] = (),
    media_type: str | None = None,
    created_at: datetime | None = None,
    card: dict | None = None,
) -> Event:
    """Add an event as if it had just happened on X (at the sandbox clock's now unless created_at
    is given). Usernames for sender and participants. A message's URLs become t.co links with url
    entities, and @mentions, #hashtags and $cashtags get entities; a post's URL fills
    referenced_tweet_ids. media_type ("photo", "video", "animated_gif") attaches a new media item.
    card ({"title", "description"}) is what X says of the message's first link (a page's own
    words: anything at all, so tests can send hostile ones), with the card's pictures.

    Raises ValueError for an unknown conversation or an event that doesn't fit it, and
    User.DoesNotExist for an unknown username."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise ValueError(f"no conversation {conversation_id!r}")
    by = User.objects.get(username=sender) if sender else None
    who = [User.objects.get(username=u) for u in participants]
    _check_event(conversation, event_type, by, who, media_type)
    at = created_at or clock.now()
    event_id = _free_event_id(at)
    at = snowflake_time(event_id)
    rng = random.Random(event_id)
    event = Event(
        id=event_id,
        conversation=conversation,
        event_type=event_type,
        created_at=at,
        sender=by,
        participant_ids=[str(u.id) for u in who],
    )
    if event_type == Event.MESSAGE_CREATE:
        user_ids = dict(User.objects.values_list("username", "id"))
        event.text, event.entities, event.referenced_tweet_ids = linkify(
            text, user_ids=user_ids, rng=rng
        )
        links = event.entities.get("urls", [])
        if card and links:
            links[0] |= {
                "title": str(card.get("title", "")),
                "description": str(card.get("description", "")),
                "images": card_images(links[0]["expanded_url"]),
            }
    media = None
    if media_type:
        media = build_media(rng, media_type, _free_media_id(at - timedelta(seconds=3), rng))
        event.text = attach_media_link(event.text, event.entities, rng, media.media_key)
        event.media_keys = [media.media_key]
        finish_media_links(event)
    event.save(force_insert=True)
    if media is not None:
        media.event = event
        media.save(force_insert=True)
    if event_type == Event.PARTICIPANTS_JOIN:
        conversation.participants.add(*who)
    return event


def _check_event(
    conversation: Conversation,
    event_type: str,
    by: User | None,
    who: list[User],
    media_type: str | None,
) -> None:
    if event_type not in (Event.MESSAGE_CREATE, JOIN, LEAVE):
        raise ValueError("event_type must be MessageCreate, ParticipantsJoin or ParticipantsLeave")
    members = set(conversation.participants.values_list("id", flat=True))
    if event_type == Event.MESSAGE_CREATE:
        if by is None or by.id not in members:
            raise ValueError("a message needs a sender who is in the conversation")
        if who:
            raise ValueError("participants are for ParticipantsJoin/Leave only")
        return
    if not conversation.is_group:
        raise ValueError("people join and leave group conversations only")
    if not who:
        raise ValueError(f"{event_type} needs participants")
    if media_type:
        raise ValueError("only messages carry media")
    if event_type == LEAVE and by is not None:
        raise ValueError("ParticipantsLeave has no sender")
    if event_type == JOIN and (by is None or by.id not in members):
        raise ValueError("ParticipantsJoin needs a sender who is in the group (who added them)")


def _free_event_id(at: datetime) -> int:
    rng = random.Random(to_ms(at))
    for seq in range(4096):
        event_id = snowflake(at, seq, worker=rng.randrange(1024))
        if not Event.objects.filter(pk=event_id).exists():
            return event_id
    raise ValueError("no free event id in that millisecond")


def _free_media_id(at: datetime, rng: random.Random) -> int:
    keys = ("3_{}", "7_{}", "13_{}", "16_{}")
    for seq in range(4096):
        media_id = snowflake(at, seq, worker=rng.randrange(1024))
        if not Media.objects.filter(media_key__in=[k.format(media_id) for k in keys]).exists():
            return media_id
    raise ValueError("no free media id in that millisecond")
