"""The sandbox's world: accounts, DM conversations, events, media and shared posts, anchored to a
moment ("now"), plus the writers the control API uses to add events later.

Everything is derived from fixed random seeds and the anchor, so two seeds with the same anchor give
identical rows. Times are spread over the 45 days before the anchor, so X's 30-day window of
/2/dm_events cuts through the data: some conversations are entirely older, some straddle it.

Ids are X snowflakes: ((unix_ms - 1288834974657) << 22) | (worker << 12) | sequence. Event ids grow
with created_at, and created_at is exactly the id's millisecond. Accounts created before snowflake
user ids (about 2015) get the short sequential ids of that era, like X's own 944480690.
"""

# Seeded, reproducible randomness is the point here (S311), and the word lists are meant to be
# in many scripts (RUF001).
# ruff: noqa: S311, RUF001

import itertools
import random
import re
import string
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction

from xsandbox import clock
from xsandbox.models import Conversation, Event, Media, Tweet, User

TWITTER_EPOCH_MS = 1288834974657
_TWITTER_EPOCH = datetime(2010, 11, 4, 1, 42, 54, 657000, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
SEED = "xsandbox-2026"
DAY = 86400.0

MAYA, JONAS, QUINN, THEO, VANISHED = (
    "maya_reads",
    "jonas_k",
    "quiet_quinn",
    "theo_park",
    "vanished_user",
)


# --- Snowflakes -----------------------------------------------------------------------------------


def to_ms(dt: datetime) -> int:
    """Unix milliseconds, exactly (no float rounding)."""
    return TWITTER_EPOCH_MS + (dt - _TWITTER_EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _TWITTER_EPOCH + (ms - TWITTER_EPOCH_MS) * _MS


def snowflake(dt: datetime, seq: int = 0, *, worker: int = 0) -> int:
    """The X id minted at dt's millisecond by `worker` (10 bits) with sequence `seq` (12 bits)."""
    return ((to_ms(dt) - TWITTER_EPOCH_MS) << 22) | ((worker & 0x3FF) << 12) | (seq & 0xFFF)


def snowflake_time(snowflake_id: int) -> datetime:
    return from_ms((snowflake_id >> 22) + TWITTER_EPOCH_MS)


class Mint:
    """Hands out snowflakes with distinct milliseconds, so ids never collide and sort by time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[int] = set()

    def __call__(self, dt: datetime) -> int:
        ms = to_ms(dt)
        while ms in self.used:
            ms += 1
        self.used.add(ms)
        return snowflake(from_ms(ms), self.rng.randrange(4), worker=self.rng.randrange(1024))


# --- Accounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    location: str = ""
    description: str = ""
    langs: tuple[str, ...] = ("en",)
    verified_type: str = "none"
    protected: bool = False
    can_sign_in: bool = False
    gone: bool = False
    url: str = ""
    id: int = 0  # 0: derived from the account's creation date
    created: str = ""  # ISO date; "" picks one


# The accounts tests rely on come first, with fixed ids and creation dates.
PEOPLE = (
    Person(
        MAYA,
        "Maya Okafor",
        "Lisbon, Portugal",
        "Reads too much, sleeps too little. Product designer. Lagos → London → Lisbon 🇳🇬🇬🇧🇵🇹",
        can_sign_in=True,
        url="https://mayareads.blog",
        id=1432706037263519745,
        created="2021-08-31T14:05:12.331",
    ),
    Person(
        JONAS,
        "Jonas Köhler",
        "Berlin",
        "Backend dev. Sunday league left back. Bad at replying.",
        langs=("en", "de"),
        can_sign_in=True,
        id=1187650410099843072,
        created="2019-10-25T08:41:37.902",
    ),
    Person(
        QUINN,
        "Quinn Adebayo",
        "Manchester",
        "Mostly here to lurk.",
        can_sign_in=True,
        id=1647679433974837250,
        created="2023-04-16T19:12:44.120",
    ),
    Person(
        THEO,
        "Theo Park",
        "Lisbon / Seoul",
        "Photographer. Film cameras, long walks, longer lunches. 📷",
        langs=("en", "ko"),
        verified_type="blue",
        url="https://theopark.photo",
        id=2893011764,
        created="2014-11-08T10:22:05",
    ),
    Person(
        VANISHED, "former member", "", "", gone=True, id=811298434, created="2012-08-28T16:40:00"
    ),
    Person("layla_haddad", "ليلى حداد", "بيروت", "مترجمة. كتب، قهوة، وبحر.", langs=("ar", "en")),
    Person(
        "noa_levi",
        "נועה לוי",
        "תל אביב",
        "UX researcher · runner · too many tabs",
        langs=("he", "en"),
    ),
    Person("amir_cohen", "אמיר כהן", "Haifa", "Sound engineer.", langs=("he", "en")),
    Person(
        "haruto_sato",
        "佐藤陽翔",
        "東京",
        "写真とラーメン。Tokyo ↔ Lisbon",
        langs=("ja", "en"),
        verified_type="blue",
    ),
    Person(
        "aiko_tanaka", "Aiko Tanaka", "大阪", "illustrator ✏️ commissions closed", langs=("ja", "en")
    ),
    Person("priya_sharma", "प्रिया शर्मा", "Pune", "Data person. Chai > coffee.", langs=("hi", "en")),
    Person("ravi_iyer", "Ravi Iyer", "Bengaluru", "Recruiter at a stealth startup."),
    Person("seo_yeon_kim", "김서연", "서울", "film + tea", langs=("ko", "en")),
    Person(
        "dmitri_volkov", "Дмитрий Волков", "Tbilisi", "Rust, chess, khachapuri.", langs=("ru", "en")
    ),
    Person(
        "zoe_papadakis", "Ζωή Παπαδάκη", "Αθήνα", "Archaeologist. Sun enjoyer.", langs=("el", "en")
    ),
    Person("mei_chen", "陳美", "台北", "books / cats / bubble tea", langs=("zh", "en")),
    Person(
        "fatima_zahra",
        "Fatima Zahra Benali",
        "Casablanca",
        "Architecte. Maroc ↔ Lisbonne.",
        langs=("ar", "fr", "en"),
    ),
    Person("ben_ortega", "Ben Ortega", "Austin, TX", "BBQ and bad puns."),
    Person("clara_nguyen", "Clara Nguyen", "Melbourne", "Nurse. Cat mum x2."),
    Person(
        "sam_rivera",
        "sam 🌻 rivera",
        "Oakland, CA",
        "they/them · zine maker · plant hoarder",
        verified_type="blue",
    ),
    Person(
        "security_pia",
        "Pia Lindqvist",
        "Stockholm",
        "AppSec. I break things for a living. Views my own.",
        verified_type="blue",
    ),
    Person("private_pat", "Pat Morgan", "", "", protected=True),
    Person(
        "marcus_bell",
        "Marcus Bell",
        "London",
        "Writes about trains, mostly.",
        verified_type="blue",
        url="https://marcusbell.co.uk",
    ),
    Person(
        "ngozi_okafor", "Ngozi Okafor", "Lagos", "Retired teacher. Proud mum.", langs=("en", "ig")
    ),
    Person("emeka_okafor", "Uncle Emeka", "Enugu", "Engineer (retd). Forwarder of good news."),
    Person("chidi_okafor", "Chidi Okafor", "Lagos", "Arsenal till I die.", langs=("en", "ig")),
    Person("ada_okafor", "Adaeze Okafor", "Toronto", "Med student. Send coffee."),
    Person("lukas_brandt", "Lukas Brandt", "Berlin", "DJ on weekends.", langs=("de", "en")),
    Person(
        "elif_yilmaz", "Elif Yılmaz", "İstanbul", "Product manager, cat person.", langs=("tr", "en")
    ),
    Person("kofi_mensah", "Kofi Mensah", "Accra", "Boulderer. Engineer. In that order."),
    Person(
        "ines_carvalho",
        "Inês Carvalho",
        "Lisboa",
        "Guia turística. Pastéis de nata expert.",
        langs=("pt", "en"),
    ),
    Person("rafa_souza", "Rafael Souza", "Porto", "Surf e código.", langs=("pt", "en")),
    Person("hannah_berg", "Hannah Berg", "Lisbon", "Route setter at the gym."),
    Person("omar_farouk", "Omar Farouk", "Lisbon", "PhD in marine biology 🐙", langs=("ar", "en")),
    Person(
        "julia_weiss", "Julia Weiß", "Wien", "Climbing, cooking, complaining.", langs=("de", "en")
    ),
    Person("tomasz_nowak", "Tomasz Nowak", "Kraków", "Mountains > beaches"),
    Person("grace_obi", "Grace Obi", "London", "Design systems lead."),
    Person("felix_martin", "Félix Martin", "Montréal", "Type designer.", langs=("fr", "en")),
    Person("anya_petrova", "Anya Petrova", "Sofia", "Frontend. Accessibility nerd."),
    Person("wilhelmina_v", "Wilhelmina van der Berg-Oosterhuis 🌷", "Utrecht", "Content design."),
    Person("rosie_clarke", "Rosie Clarke", "Bristol", "Teacher. Sourdough."),
    Person("dev_patel", "Dev Patel", "Leicester", "Not that one."),
    Person("jo", "Jo", "", "."),
    Person("alex_2049", "Alex ✨", "", "replicant enthusiast"),
    Person("lena_fischer", "Lena Fischer", "Berlin", "Goalkeeper. Physio.", langs=("de", "en")),
    Person("mateo_garcia", "Mateo García", "Valencia", "Paella purist."),
    Person("sofia_rossi", "Sofia Rossi", "Milano", "Fashion buyer."),
    Person("yuki_mori", "森 由紀", "京都", "tea ceremony 🍵", langs=("ja",)),
    Person("kwame_asante", "Kwame Asante", "Kumasi", "Economist."),
    Person(
        "cityrail_help",
        "CityRail Help",
        "Lisbon",
        "Service updates and help, 7am–11pm. For emergencies call 112.",
        verified_type="business",
        url="https://cityrail.pt",
    ),
    Person(
        "lisbon_bakery",
        "Padaria do Bairro",
        "Lisboa",
        "Pão, bolos e café desde 1962. 🥐",
        langs=("pt", "en"),
        verified_type="business",
    ),
    Person(
        "newsdesk_daily",
        "The Daily Newsdesk",
        "",
        "News as it happens. Tips: DMs open.",
        verified_type="business",
        url="https://dailynewsdesk.com",
    ),
    Person(
        "vinyl_corner",
        "Vinyl Corner",
        "Porto",
        "Second-hand records. Ships EU-wide.",
        verified_type="business",
    ),
)

# Roughly how far pre-snowflake user ids had got by a date (they were sequential until ~2015).
_OLD_ID_MARKS = (
    (datetime(2008, 1, 1, tzinfo=UTC), 11_000_000),
    (datetime(2009, 1, 1, tzinfo=UTC), 18_000_000),
    (datetime(2010, 1, 1, tzinfo=UTC), 100_000_000),
    (datetime(2011, 1, 1, tzinfo=UTC), 240_000_000),
    (datetime(2012, 1, 1, tzinfo=UTC), 460_000_000),
    (datetime(2013, 1, 1, tzinfo=UTC), 1_100_000_000),
    (datetime(2014, 1, 1, tzinfo=UTC), 2_300_000_000),
    (datetime(2015, 6, 1, tzinfo=UTC), 3_300_000_000),
)


def _old_style_id(created: datetime, rng: random.Random) -> int:
    for (d0, id0), (d1, id1) in itertools.pairwise(_OLD_ID_MARKS):
        if created < d1:
            share = max(0.0, (created - d0) / (d1 - d0))
            return int(id0 + share * (id1 - id0)) + rng.randrange(1000)
    raise ValueError("after snowflake user ids")


def _build_users() -> list[User]:
    # Accounts are independent of the anchor: the same ids whenever the sandbox is seeded.
    rng = random.Random(f"{SEED}:users")
    users = []
    for person in PEOPLE:
        if person.created:
            created = datetime.fromisoformat(person.created).replace(tzinfo=UTC)
        else:
            created = datetime(2009, 3, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 14.5 * 365))
            created = created.replace(microsecond=0)
        if person.id:
            user_id = person.id
        elif created < _OLD_ID_MARKS[-1][0]:
            user_id = _old_style_id(created, rng)
        else:
            user_id = snowflake(created, rng.randrange(4), worker=rng.randrange(1024))
        users.append(
            User(
                id=user_id,
                username=person.username,
                name=person.name,
                description=person.description,
                location=person.location,
                url=person.url,
                created_at=created,
                protected=person.protected,
                verified=person.verified_type != "none",
                verified_type=person.verified_type,
                public_metrics=_user_metrics(rng, person),
                can_sign_in=person.can_sign_in,
                gone=person.gone,
            )
        )
    return users


def _user_metrics(rng: random.Random, person: Person) -> dict:
    scale = {"business": 400.0, "blue": 12.0}.get(person.verified_type, 1.0)
    followers = int(rng.lognormvariate(5.3, 1.2) * scale)
    tweets = int(rng.lognormvariate(7.5, 1.1) * (3 if scale > 1 else 1))
    return {
        "followers_count": followers,
        "following_count": int(rng.lognormvariate(5.5, 0.8)),
        "tweet_count": tweets,
        "listed_count": int(followers * rng.uniform(0.002, 0.02)),
        "like_count": int(tweets * rng.uniform(0.5, 6)),
    }


# --- Message content ------------------------------------------------------------------------------

# Word lists: packed for reading, so the formatter leaves them alone.
# fmt: off

CHAT = (
    "ok", "okay 👍", "haha", "hahaha no", "lol", "yes!!", "yesss", "nope", "omg", "wait what",
    "on my way", "running 10 min late sorry", "just landed ✈️", "home now",
    "can't talk, call you later", "did you get home ok?", "sounds good", "perfect", "deal",
    "good night 🌙", "morning ☀️", "so tired today", "i'm starving", "that's hilarious", "no way",
    "you're kidding", "honestly same", "i owe you one", "thank you!!", "thanks, really", "np",
    "sure thing", "let me check and get back to you", "what time works for you?", "tomorrow?",
    "maybe next week", "can we push it to 8?", "I'm outside", "which door?", "found it", "brb",
    "back", "did you see the news?", "that game last night though",
    "i can't believe it's already Thursday", "send pics!", "miss you guys", "ugh mondays",
    "how did it go??", "fingers crossed 🤞", "you're the best", "it's pouring here",
    "the tram is stuck again", "coffee first", "did you book it?", "booked ✅",
    "cancelled, sorry 😞", "all good", "no worries at all", "ha, classic", "respect", "true",
    "fair", "agreed", "hmm not sure", "let's see", "i'll bring wine", "who's driving?",
    "i can drive", "meet at the usual place?", "left my keys at yours I think",
    "found your scarf btw", "happy birthday!! 🎉", "congrats!!!", "so proud of you",
    "hope you feel better soon", "get some rest", "can you send me the address?",
    "what's the wifi password again", "send the link?", "see you there", "almost there", "5 min",
    "parking now", "love that", "😂😂😂", "this is fine 🔥", "k", "👀", "oh no", "oh yes", "yikes",
    "big if true",
)
TEMPLATES = (
    "are we still on for {day}?", "{food} at {place} later?", "i'm at {place}, where are you?",
    "just finished {book}. we NEED to talk", "have you watched {film} yet?",
    "running {n} min late, the {transport} is a mess", "i found a great {food} spot near {place}",
    "can you grab {thing} on your way?", "{day} at {time} works for me",
    "reminder: {thing} before {day}", "went to {place} today, so good",
    "what did you think of {film}?", "halfway through {book} and i have opinions",
    "anyone want to split {thing}?", "{city} in {month}? I'm in",
    "booked tickets for {film} on {day} at {time}", "my flight to {city} got moved to {time} 🙃",
    "should I bring {thing} or is that weird", "{place} has a new menu, {food} is back",
    "we should do {city} again in {month}", "my {transport} is delayed {n} minutes",
    "brought you some {food} from {city}", "got {n} pages left of {book}",
    "the {transport} strike is {day}, plan accordingly", "can't decide between {film} and {film2}",
    "{n} days until {city} 🎒",
)
SLOTS = {
    "day": (
        "Friday", "Saturday", "Sunday", "Monday", "tomorrow", "tonight", "Wednesday",
        "the weekend",
    ),
    "food": (
        "pastéis de nata", "ramen", "tacos", "sushi", "jollof", "falafel", "pizza", "dim sum",
        "bifanas", "pho", "dumplings", "suya", "brunch",
    ),
    "place": (
        "Time Out Market", "the bookshop on Rua Garrett", "LX Factory", "Príncipe Real",
        "the climbing gym", "Cais do Sodré", "the usual bar", "your place", "the park", "Alfama",
        "the station", "that café with the cat",
    ),
    "book": (
        "Piranesi", "The Remains of the Day", "Americanah", "Tomorrow, and Tomorrow, and Tomorrow",
        "Convenience Store Woman", "Pachinko", "Stoner", "The Overstory", "Klara and the Sun",
    ),
    "film": (
        "Perfect Days", "Past Lives", "Aftersun", "Dune: Part Two", "Anatomy of a Fall",
        "Spirited Away", "In the Mood for Love", "Paddington 2",
    ),
    "film2": (
        "The Holdovers", "Decision to Leave", "Drive My Car", "Fallen Leaves",
    ),
    "time": (
        "7", "7:30", "8", "8pm", "noon", "6:45", "half nine", "10am",
    ),
    "n": (
        "5", "10", "15", "20", "25", "40",
    ),
    "thing": (
        "the tickets", "a cake", "ice", "the charger", "oat milk", "a bottle of red",
        "the projector", "sunscreen", "the spare key", "flowers",
    ),
    "city": (
        "Porto", "Berlin", "Tokyo", "Lagos", "Seoul", "Madrid", "Sintra", "Marrakech", "Athens",
    ),
    "month": (
        "March", "April", "May", "June", "September", "October",
    ),
    "transport": (
        "tram", "metro", "train", "bus", "ferry",
    ),
}
SENTENCES = (
    "So I finally called the landlord about the boiler.",
    "He says someone will come on Thursday, which means Friday, which means next week.",
    "Work has been a lot this week but the launch went fine in the end.",
    "We shipped the new onboarding flow and nobody has complained yet, which is suspicious.",
    "The light in the afternoons is unreal right now.",
    "I walked all the way up to the Graça viewpoint and regretted every step until I got there.",
    "My mum sent me a voice note that was eleven minutes long.",
    "Half of it was about the neighbour's goat.",
    "I started the book you lent me and I get why you like it.",
    "The second chapter is slow but stick with it, apparently.",
    "Also I owe you for dinner, don't let me forget.",
    "Let's do something low-key this weekend, I'm exhausted.",
    "The gym changed all the routes and now I can't climb anything.",
    "Is it normal that the cat sleeps on the keyboard only when I have a deadline?",
    "I'm thinking of taking Friday off.", "Honestly the best decision I've made all month.",
    "The bakery downstairs started doing sourdough and I'm in trouble.",
    "Remind me to never book a 6am flight again.",
    "We should plan the trip properly this time, with a spreadsheet and everything.",
    "I'll make the spreadsheet, you bring the snacks.",
    "The meeting that could have been an email was, in fact, two meetings.",
    "My plants are thriving and I don't know what I'm doing right.",
    "The new café on the corner does a flat white that's actually flat.",
    "I've been listening to that album on repeat since Tuesday.",
)
LISTS = (
    "shopping list:\n- eggs\n- bread\n- tomatoes\n- coriander\n- the good olive oil",
    "things to pack:\n1. passport!!\n2. charger\n3. swimsuit\n4. that book\n5. snacks for the train",
    "plan for saturday\n10:00 market\n12:30 lunch at Inês'\n15:00 museum\n20:00 dinner, booked",
    "ok options:\na) sushi\nb) the Lebanese place\nc) we cook\n\nvote pls",
    "address:\nRua da Rosa 142, 2º esq\n1200-388 Lisboa\n\nbuzzer doesn't work, just call",
)
PARAGRAPHS = (
    "Okay, this is going to be long, sorry in advance. I've been thinking about what you said on "
    "Sunday, about whether it's worth staying in Lisbon another year, and I keep going back and "
    "forth. On one hand, the job is good, the flat is finally sorted, and I have actual friends "
    "here now, which took ages. On the other, I miss being close to family, and every time Mum "
    "calls I feel a bit guilty for being so far away.",
    "The thing is, I don't think moving would fix that. London was just as far from Lagos, and I "
    "was miserable half the time because of the weather and the rent. Here at least I can walk "
    "to the river after work and sit there with a book until the light goes. That counts for "
    "something, right? I think I'd regret leaving more than I'd regret staying.",
    "Anyway, the trip. I looked at trains and the night train is back, which is amazing, but it's "
    "booked out for the dates we wanted. We could fly to Madrid and take the train from there, or "
    "just drive and split the petrol. Driving means we can stop in Évora on the way, and you know "
    "how I feel about that chapel made of bones. It's weird, I know, but I love it.",
    "Also, can we talk about the book club? I love everyone but we haven't actually discussed the "
    "book in the last three meetings. Last time we spent two hours on whether a hot dog is a "
    "sandwich. I'm not saying we should be serious, I'm just saying maybe twenty minutes on the "
    "actual book before the wine? I'll bring the wine. I'll bring extra wine.",
    "Work update, since you asked: the redesign is finally going out next week. We tested it with "
    "twelve people and eleven of them found the new search straight away. The twelfth was my "
    "manager, who was using it upside down on his phone for reasons I still don't understand. "
    "I'm counting that as a pass. If it goes well I might finally take that week off in May.",
    "And then on the way home the tram broke down right in the middle of the hill, so everyone had "
    "to get out and walk, and an old lady offered me half of her orange because I apparently "
    "looked like I needed it. I did need it. It was the best orange I've ever had. I think about "
    "that orange more than is healthy.",
    "Photos from the weekend are coming, Theo has them all on film so it's going to take a while. "
    "He says two weeks, which in film-photographer time means a month. I've seen a couple of the "
    "phone ones and we all look sunburnt and ridiculous and happy, which is exactly right. "
    "Remind me to bring sunscreen next time, and a hat, and common sense.",
    "One more thing before I forget: Ada's graduation is on the 14th and Mum wants everyone on a "
    "video call at the same time, which across four time zones is going to be chaos. I said I'd "
    "set it up. If you get a calendar invite from me at 3am your time, just accept it and we'll "
    "figure it out. There will be a test afterwards about which uncle gave which speech.",
    "I know I've been quiet lately. It's nothing bad, just one of those stretches where everything "
    "takes more energy than it should. I've been sleeping better this week though, and I went "
    "climbing twice, and I read a whole book in two days, so I think I'm coming out of it. "
    "Thanks for checking in. It means more than I'm good at saying.",
    "Right, that's everything. Call me when you're back, or don't, and we'll just keep writing "
    "essays to each other in here like it's 1850. I kind of like it. Long letters are underrated. "
    "Love to everyone, and tell your sister I still have her umbrella.",
)
LANG_LINES = {
    "ar": (
        "صباح الخير ☀️", "وين صرتي؟", "تمام، نشوفك بكرا", "شكراً كتير!", "يلا، ع الساعة ٨",
        "ما في مشكلة أبداً", "هههههه", "اشتقتلك كتير", "الجو حلو اليوم",
        "قرأت الكتاب؟ النهاية صدمتني",
    ),
    "he": (
        "בוקר טוב!", "איפה את?", "סבבה, נתראה מחר", "תודה רבה!", "יאללה, בשמונה", "אין בעיה בכלל",
        "חחחחח", "מתגעגעת", "קראת כבר את הספר?", "מזל טוב!! 🎉",
    ),
    "ja": (
        "おはよう！", "今どこ？", "了解、また明日ね", "ありがとう！", "8時でいい？", "大丈夫だよ", "www", "ラーメン食べに行こう🍜", "写真送るね",
        "お疲れさま〜",
    ),
    "hi": (
        "नमस्ते!", "कहाँ हो?", "ठीक है, कल मिलते हैं", "बहुत बहुत धन्यवाद!", "चलो, आठ बजे",
        "कोई बात नहीं", "हाहाहा", "चाय पीने चलें? ☕", "बहुत अच्छा लगा", "जन्मदिन मुबारक हो! 🎂",
    ),
    "ko": (
        "안녕!", "어디야?", "좋아, 내일 봐", "고마워!", "8시 괜찮아?", "괜찮아 걱정 마", "ㅋㅋㅋㅋ", "보고 싶다", "사진 보내줄게 📸",
        "수고했어",
    ),
    "ru": (
        "Привет!", "Ты где?", "Окей, до завтра", "Спасибо большое!", "Давай в восемь",
        "Без проблем", "ахаха", "Скучаю", "Как прошло?", "С днём рождения! 🎉",
    ),
    "el": (
        "Καλημέρα!", "Πού είσαι;", "Εντάξει, τα λέμε αύριο", "Ευχαριστώ πολύ!", "Στις οκτώ;",
        "Κανένα πρόβλημα", "χαχαχα", "Μου λείπεις", "Τι έγινε τελικά;",
    ),
    "zh": (
        "早安！", "你在哪？", "好，明天见", "谢谢你！", "八点可以吗？", "没问题", "哈哈哈哈", "想你了", "照片发你了", "今天好累",
    ),
    "fr": (
        "Coucou !", "T'es où ?", "Ok, à demain", "Merci beaucoup !", "On dit 20h ?",
        "Pas de souci", "mdr", "Tu me manques", "C'était génial",
    ),
    "pt": (
        "Bom dia!", "Onde estás?", "Combinado, até amanhã", "Obrigada!", "Às oito?",
        "Sem problema", "kkkkk", "Que saudades", "Vamos à praia no sábado?", "Bora!",
    ),
    "de": (
        "Moin!", "Wo bist du?", "Alles klar, bis morgen", "Danke dir!", "Um acht?", "Kein Problem",
        "haha", "Vermisse euch", "Wie war's?", "Bin gleich da",
    ),
    "tr": (
        "Günaydın!", "Neredesin?", "Tamam, yarın görüşürüz", "Çok teşekkürler!", "Sekizde?",
        "Sorun değil", "ahahah", "Özledim",
    ),
    "ig": (
        "Kedu?", "Daalụ nne", "Chukwu gozie gị", "Ọ dị mma", "Nnọọ!",
    ),
}
MIXED = (
    "ok يلا see you at 8", "すごい!! that's amazing", "see you at the שוק tomorrow",
    "that's so 可爱 omg", "चलो let's gooo", "merci mille fois, you're a star ⭐",
    "Lisbon → 東京 → Seoul, what a month", "I learned a new word today: 역시 (as expected)",
    "mum says \"Chukwu gozie gị\" and also where is your jacket",
    "Arabic numbers look like ١٢٣ and I love it", "עברית and English in one line is fun → ok",
)
EMOJI = (
    "😂😂😂", "❤️", "👍🏽", "🙏🏾", "🥹", "🫠", "🔥🔥", "🎉🎉🎉", "👀", "💀", "😭", "🤌", "👩🏾‍💻 still debugging",
    "👨‍👩‍👧‍👦 family dinner sunday?", "🏳️‍🌈🏳️‍⚧️ happy pride!", "🇳🇬🇵🇹🇩🇪🇯🇵🇰🇷", "🧑🏿‍🚀 to the moon",
    "🫶🏼", "🤷🏻‍♀️", "☕️☕️☕️", "🍜 + 🍺 = ❤️", "🇵🇹⚽️🇩🇪", "🧗‍♀️🧗🏽‍♂️", "😵‍💫",
)
# (url, title, description, unwound url when the link is a redirector)
LINKS = (
    (
        "https://en.wikipedia.org/wiki/Capela_dos_Ossos",
        "Capela dos Ossos - Wikipedia",
        "The Capela dos Ossos is one of the best known monuments in Évora, Portugal.",
        "",
    ),
    (
        "https://github.com/django/django/pull/18401",
        "Fixed #35456 -- Added async support to… · django/django",
        "Contribute to django/django development by creating an account on GitHub.",
        "",
    ),
    (
        "https://www.youtube.com/watch?v=jNQXAC9IVRw",
        "Me at the zoo - YouTube",
        "The first video on YouTube.",
        "",
    ),
    (
        "https://open.spotify.com/album/1ATL5GLyefJaxhQzSPVrLX",
        "Blonde - Album by Frank Ocean | Spotify",
        "Listen to Blonde on Spotify.",
        "",
    ),
    (
        "https://maps.app.goo.gl/4Xb8sF2kQw9rT1mZ7",
        "Time Out Market Lisboa · Google Maps",
        "Av. 24 de Julho 49, 1200-479 Lisboa",
        "https://www.google.com/maps/place/Time+Out+Market+Lisboa/",
    ),
    (
        "https://www.bbc.co.uk/news/articles/c4ge0z8n1p7o",
        "Night trains make a comeback across Europe - BBC News",
        "Sleeper services are returning to routes abandoned a decade ago.",
        "",
    ),
    (
        "https://www.theguardian.com/books/2026/oct/12/best-novels-of-the-year-so-far",
        "The best novels of 2026 so far | Books | The Guardian",
        "From debut thrillers to sprawling family sagas, our critics pick the year's best fiction.",
        "",
    ),
    (
        "https://bit.ly/3xK9pQz",
        "Lisbon Climbing Festival 2026 – Registration",
        "Three days of bouldering, workshops and parties in Lisbon.",
        "https://lisbonclimbingfest.pt/en/registration?utm_source=twitter",
    ),
    (
        "https://www.airbnb.com/rooms/53981214",
        "Flat in Porto · ★4.92 · 2 bedrooms",
        "Sunny flat with river views in Ribeira.",
        "",
    ),
    (
        "https://docs.djangoproject.com/en/6.1/topics/db/queries/",
        "Making queries | Django documentation",
        "The web framework for perfectionists with deadlines.",
        "",
    ),
    (
        "https://www.nytimes.com/2026/09/30/travel/lisbon-36-hours.html",
        "36 Hours in Lisbon - The New York Times",
        "Tiled facades, custard tarts and late nights in the Portuguese capital.",
        "",
    ),
    (
        "https://www.ted.com/talks/chimamanda_ngozi_adichie_the_danger_of_a_single_story",
        "The danger of a single story | TED Talk",
        "Chimamanda Ngozi Adichie on the power of stories.",
        "",
    ),
    (
        "https://www.goodreads.com/book/show/50202953-piranesi",
        "Piranesi by Susanna Clarke | Goodreads",
        "Piranesi's house is no ordinary building.",
        "",
    ),
    (
        "https://cityrail.pt/en/service-status",
        "Service status · CityRail",
        "Live service updates for all lines.",
        "",
    ),
    (
        "https://tinyurl.com/tapas-sheet",
        "Trip budget – Google Sheets",
        "",
        "https://docs.google.com/spreadsheets/d/1pZ8Xf0tQwErTyUiOpAsDfGhJkL/edit#gid=0",
    ),
)
LINK_INTROS = (
    "look", "this!", "for later:", "", "thoughts?", "found it", "here you go", "you'll love this",
    "ok this is wild", "as promised",
)
SHARE_COMMENTS = (
    "lol", "😂", "thoughts?", "", "saw this and thought of you", "this is so you",
    "wait is this true??", "ok this one got me", "👀", "can't stop laughing",
)
MENTIONS = (
    "ask {m} about it", "{m} you're on snacks duty 🍿", "cc {m}", "{m} did you book it?",
    "I think {m} has the charger", "{m} and {m2} are coming too", "say hi to {m} from me",
    "{m} knows a place",
)
HASHTAGS = (
    "this week's pick #BookClub 📚", "sunset from the miradouro #Lisbon #NoFilter",
    "#LisbonTrip day 3: feet destroyed", "finally sent #FridayFeeling", "#日本語 の勉強を始めた",
    "so much #FOMO right now", "#Climbing session at 7?", "#Piranesi spoilers below, don't read",
)
CASHTAGS = (
    "$AAPL earnings tonight, I'm nervous", "sold my $TSLA, finally",
    "$BTC is doing the thing again", "how is $NVDA still going up",
    "$MSFT and $GOOGL both down today lol",
)
PHOTO_CAPTIONS = (
    "", "", "", "look at this view 😍", "the cat says hi", "dinner tonight", "guess where I am",
    "new haircut, be honest", "this light!!", "found this at the market", "", "proof", "😂",
    "from this morning",
)
ALT_TEXTS = (
    "Sunset over the Tagus river with the 25 de Abril bridge in silhouette",
    "A yellow tram climbing a steep cobbled street between tiled buildings",
    "Plate of six custard tarts dusted with cinnamon on a marble café table",
    "A ginger cat asleep on a laptop keyboard",
    "View over terracotta rooftops towards a castle on a hill",
    "Two friends laughing at a long dinner table under string lights",
    "A stack of paperback novels next to a cup of black coffee",
    "Close-up of a climbing wall with colourful holds",
    "Beach at low tide with surfers in the distance",
    "A bowl of ramen with a soft-boiled egg and spring onions",
    "Hand-drawn map of a neighbourhood with cafés circled in red",
    "Rainy street at night reflecting neon shop signs", "A blue-and-white azulejo tile pattern",
    "Train window view of olive groves at golden hour",
    "Screenshot of a calendar with Saturday blocked out as 'NOTHING'",
    "A crowded market stall selling fish and lemons", "Potted plants lined up on a narrow balcony",
    "Selfie of Maya squinting into the sun in front of a lighthouse",
    "A birthday cake with too many candles",
    "Foggy morning over a bridge, only the towers visible",
)
VIDEO_ALTS = (
    "", "", "Waves crashing on rocks at Boca do Inferno", "A street musician playing guitar",
    "Timelapse of clouds over the city",
)
# fmt: on


def _fill(template: str, rng: random.Random) -> str:
    return template.format_map({k: rng.choice(v) for k, v in SLOTS.items()})


# --- Entities -------------------------------------------------------------------------------------

_URL_RE = re.compile(r"https?://[^\s<>\"'`]+")
_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
_HASHTAG_RE = re.compile(r"(?<![\w#&])[#＃](\w*[^\W\d_]\w*)")
_CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w$])")
_STATUS_RE = re.compile(r"^https://(?:x|twitter)\.com/\w{1,15}/status/(\d{1,19})$")
_LINK_INFO = {url: (title, description, unwound) for url, title, description, unwound in LINKS}
_TCO_ALPHABET = string.ascii_letters + string.digits


def tco(rng: random.Random) -> str:
    return "https://t.co/" + "".join(rng.choices(_TCO_ALPHABET, k=10))


def display_url(url: str) -> str:
    shown = re.sub(r"^https?://(www\.)?", "", url)
    return shown if len(shown) <= 26 else shown[:25] + "…"


def linkify(
    raw: str, *, user_ids: dict[str, int], rng: random.Random
) -> tuple[str, dict, list[str]]:
    """Do what X does to a sent text: wrap each URL in a t.co link, and find mentions, hashtags and
    cashtags. Returns (text, entities, ids of posts linked). Indices count code points."""
    parts, urls, posts, pos = [], [], [], 0
    for match in _URL_RE.finditer(raw):
        url = match.group(0).rstrip(".,!?:;)")
        parts.append(raw[pos : match.start()])
        start = sum(len(p) for p in parts)
        short = tco(rng)
        parts.append(short)
        urls.append(_url_entity(start, short, url))
        status = _STATUS_RE.match(url)
        if status:
            posts.append(status.group(1))
        pos = match.start() + len(url)
    parts.append(raw[pos:])
    text = "".join(parts)
    taken = [(u["start"], u["end"]) for u in urls]

    def free(m: re.Match) -> bool:
        return not any(s < m.end() and m.start() < e for s, e in taken)

    mentions = [
        {
            "start": m.start(),
            "end": m.end(),
            "username": m.group(1),
            "id": str(user_ids[m.group(1)]),
        }
        for m in _MENTION_RE.finditer(text)
        if m.group(1) in user_ids and free(m)
    ]
    hashtags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)}
        for m in _HASHTAG_RE.finditer(text)
        if free(m)
    ]
    cashtags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)}
        for m in _CASHTAG_RE.finditer(text)
        if free(m)
    ]
    found = {"urls": urls, "mentions": mentions, "hashtags": hashtags, "cashtags": cashtags}
    return text, {k: v for k, v in found.items() if v}, posts


def _url_entity(start: int, short: str, url: str) -> dict:
    entity = {
        "start": start,
        "end": start + len(short),
        "url": short,
        "expanded_url": url,
        "display_url": display_url(url),
    }
    if _STATUS_RE.match(url):
        return entity
    title, description, unwound = _LINK_INFO.get(url, ("", "", ""))
    entity["unwound_url"] = unwound or url
    entity["status"] = 200
    if title:
        entity["title"] = title
        entity["images"] = card_images(url)
    if description:
        entity["description"] = description
    return entity


def card_images(url: str) -> list[dict]:
    """The pictures of a link's card, as X sends them in a url entity: the original and a 150px
    square (pbs.twimg.com/news_img/…?name=orig|150x150). Paths on the sandbox's own /media/ route,
    made absolute when rendered (render.with_card_images), like every other media URL."""
    name = f"card_{zlib.crc32(url.encode()):08x}.jpg"
    return [
        {"url": f"/media/{name}?format=jpg&name=orig", "width": 1200, "height": 675},
        {"url": f"/media/{name}?format=jpg&name=thumb", "width": 150, "height": 150},
    ]


def attach_media_link(text: str, entities: dict, rng: random.Random, media_key: str) -> str:
    """X appends a t.co link to the media to a DM's text (the docs' "Another photo
    https://t.co/J5KotyeIyd"); its url entity carries the media_key. expanded_url needs the event
    id, so it is filled in by _finish_media_links once ids are minted."""
    short = tco(rng)
    text = f"{text} {short}" if text else short
    entities.setdefault("urls", []).append(
        {
            "start": len(text) - len(short),
            "end": len(text),
            "url": short,
            "expanded_url": "",
            "display_url": "pic.x.com/" + short.rsplit("/", 1)[1],
            "media_key": media_key,
        }
    )
    return text


def _finish_media_links(event: Event) -> None:
    for entity in event.entities.get("urls", []):
        if "media_key" in entity:
            entity["expanded_url"] = f"https://x.com/messages/media/{event.id}"


# --- Media ----------------------------------------------------------------------------------------

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
        resource_id="".join(rng.choices(_TCO_ALPHABET, k=8)) + ext,
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
            return _fill(rng.choice(TEMPLATES), rng)
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
        self.users = {u.username: u for u in _build_users()}
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


def mint_events(world: World) -> tuple[list[Conversation], list[Event], list[Media]]:
    """Give every draft a snowflake in created_at order across all conversations, then name each
    conversation: pairs by their members' ids, groups by their first event's id minus 4."""
    rng = random.Random(f"{SEED}:events")
    anchor_ms = to_ms(world.anchor)
    drafts = sorted(
        (d for plan in world.plans for d in plan.drafts),
        key=lambda d: d.at,
    )
    events, media, previous_ms = [], [], 0
    for draft in drafts:
        ms = max(anchor_ms + int(draft.at * 1000), previous_ms + 1)
        previous_ms = ms
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
        _finish_media_links(event)
        events.append(event)
        if draft.media:
            draft.media.event_id = event_id
            media.append(draft.media)
    conversations = [Conversation(id=p.conversation_id, is_group=p.is_group) for p in world.plans]
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
        _finish_media_links(event)
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
