"""The sandbox's people: the accounts of the seeded world (PEOPLE, the ones tests rely on first,
with fixed ids and creation dates), and the User rows built from them. Accounts are independent
of the anchor: the same ids whenever the sandbox is seeded. Accounts created before snowflake
user ids (about 2015) get the short sequential ids of that era, like X's own 944480690; the
crowd (crowd.py) mints its extra accounts the same way.
"""

# Seeded, reproducible randomness is the point here (S311), and the word lists are meant to be
# in many scripts (RUF001).
# ruff: noqa: S311, RUF001

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from xsandbox.ids import SEED, snowflake
from xsandbox.models import User

MAYA, JONAS, QUINN, THEO, VANISHED = (
    "maya_reads",
    "jonas_k",
    "quiet_quinn",
    "theo_park",
    "vanished_user",
)


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
OLD_ID_MARKS = (
    (datetime(2008, 1, 1, tzinfo=UTC), 11_000_000),
    (datetime(2009, 1, 1, tzinfo=UTC), 18_000_000),
    (datetime(2010, 1, 1, tzinfo=UTC), 100_000_000),
    (datetime(2011, 1, 1, tzinfo=UTC), 240_000_000),
    (datetime(2012, 1, 1, tzinfo=UTC), 460_000_000),
    (datetime(2013, 1, 1, tzinfo=UTC), 1_100_000_000),
    (datetime(2014, 1, 1, tzinfo=UTC), 2_300_000_000),
    (datetime(2015, 6, 1, tzinfo=UTC), 3_300_000_000),
)


def old_style_id(created: datetime, rng: random.Random) -> int:
    for (d0, id0), (d1, id1) in itertools.pairwise(OLD_ID_MARKS):
        if created < d1:
            share = max(0.0, (created - d0) / (d1 - d0))
            return int(id0 + share * (id1 - id0)) + rng.randrange(1000)
    raise ValueError("after snowflake user ids")


def build_users() -> list[User]:
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
        elif created < OLD_ID_MARKS[-1][0]:
            user_id = old_style_id(created, rng)
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
                public_metrics=user_metrics(rng, person),
                can_sign_in=person.can_sign_in,
                gone=person.gone,
            )
        )
    return users


def user_metrics(rng: random.Random, person: Person) -> dict:
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
