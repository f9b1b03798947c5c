"""What the seeded world's messages say, and what X makes of a sent text: the word lists the
writers draw from (chat, templates, paragraphs, lines in other languages, links, captions, alt
texts), and the entities X adds (t.co links, mentions, hashtags, cashtags, link cards, the link
to a DM's media). Used by seed.py's writers, by posts and by the control API's added events.
"""

# The word lists are meant to be in many scripts.
# ruff: noqa: RUF001

import random
import re
import string
import zlib

from xsandbox.models import Event

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


def fill(template: str, rng: random.Random) -> str:
    return template.format_map({k: rng.choice(v) for k, v in SLOTS.items()})


# --- Entities -------------------------------------------------------------------------------------

_URL_RE = re.compile(r"https?://[^\s<>\"'`]+")
_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
_HASHTAG_RE = re.compile(r"(?<![\w#&])[#＃](\w*[^\W\d_]\w*)")
_CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?![\w$])")
_STATUS_RE = re.compile(r"^https://(?:x|twitter)\.com/\w{1,15}/status/(\d{1,19})$")
_LINK_INFO = {url: (title, description, unwound) for url, title, description, unwound in LINKS}
TCO_ALPHABET = string.ascii_letters + string.digits


def tco(rng: random.Random) -> str:
    return "https://t.co/" + "".join(rng.choices(TCO_ALPHABET, k=10))


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
    id, so it is filled in by finish_media_links once ids are minted."""
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


def finish_media_links(event: Event) -> None:
    for entity in event.entities.get("urls", []):
        if "media_key" in entity:
            entity["expanded_url"] = f"https://x.com/messages/media/{event.id}"
