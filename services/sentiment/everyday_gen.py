"""Generated everyday sentences: praise, complaints and plain facts about products,
service, food, travel, events, apps, deliveries, hotels and repairs.

Why: the rated sentences are tweets, movie snippets and editorials. There, praise and
complaints come as opinion words. Everyday text often states them as facts ("it lasts
all day", "nobody called back", "they refunded me"), and words such as "charges",
"leak" or "refund" lean negative in editorials and tweets. These templates teach the
word head those facts, their negations ("never broke", "never arrived"), intensifiers,
hedges and "X but Y" clauses (the clause after "but" decides), beside neutral facts
that use the same nouns and verbs.

    generate(n, seed) -> [data.Item]   # fixed seed, label rating -2 / 0 / +2

The templates and word lists were written from general knowledge of such text, never
from the everyday test file (evalsets/everyday_test.tsv). Domain name: ``everyday_gen``.
"""

from __future__ import annotations

import random

from services.sentiment import data

DOMAIN = "everyday_gen"
TRAIN_SEED = 1234
RATING = {"negative": -2.0, "neutral": 0.0, "positive": 2.0}

# Each group: subjects (singular, with article) and clauses that fit all of them, in
# past tense so that any subject agrees. pos/neg: facts that are good/bad news;
# bad_events/good_events: (past, participle) verbs whose negation flips the label.
GROUPS = {
    "device": {
        "subjects": ["the phone", "the laptop", "the tablet", "my new watch", "the speaker",
                     "the camera", "the e-reader", "the router", "the headset", "the console",
                     "the drone", "the smart plug", "the power bank", "the printer"],
        "pos": ["lasted all day on one charge", "charged fully in under an hour",
                "charged quickly", "started up in a few seconds", "connected on the first try",
                "worked straight out of the box", "still runs like new after two years",
                "survived a fall onto concrete", "kept its charge for a week",
                "did everything I needed", "paired with my car instantly",
                "updated itself overnight without a problem", "ran quietly and stayed cool",
                "held up through a whole winter outside", "was set up in two minutes",
                "lasts for days between charges", "charges in no time", "boots up in seconds",
                "takes crisp pictures at night", "never needs a restart",
                "still holds its charge after three years", "picks up every word clearly"],
        "neg": ["died after a week", "stopped charging after a month", "drained in a few hours",
                "kept restarting for no reason", "overheated on the first day",
                "lost signal every few minutes", "arrived with a cracked screen",
                "took ages to charge", "would not turn on after the update",
                "dropped the connection all the time", "needed a repair within a month",
                "broke the second time I used it", "made a buzzing noise from day one",
                "kept freezing in the middle of calls", "lasted barely half a day",
                "keeps dropping the wifi", "runs out of battery by lunchtime",
                "gets hot after ten minutes", "takes a whole night to charge",
                "shuts down at random", "hisses and crackles when it gets loud"],
        "bad_events": [("crashed", "crashed"), ("froze", "frozen"), ("broke", "broken"),
                       ("overheated", "overheated"), ("failed", "failed"),
                       ("lost a charge overnight", "lost a charge overnight")],
        "good_events": [("worked", "worked"), ("charged", "charged"), ("turned on", "turned on"),
                        ("connected", "connected"), ("held a charge", "held a charge")],
        "neu": ["comes in black, white and blue", "weighs about {n}0 grams",
                "charges over a USB-C cable", "has a {n}-inch screen", "ships with a charger",
                "runs on the latest software", "was released last {season}",
                "has two buttons on the side", "charges from a standard wall socket",
                "uses the same cable as my old one", "is sold in most electronics shops"],
    },
    "home": {
        "subjects": ["the blender", "the kettle", "the vacuum cleaner", "the washing machine",
                     "the fridge", "the heater", "the coffee machine", "the dishwasher",
                     "the toaster", "the mattress", "the sofa", "the desk lamp", "the fan",
                     "the pan", "the tent", "the backpack", "the jacket", "the umbrella"],
        "pos": ["did the job perfectly", "still looks new after a year", "cleaned up in seconds",
                "kept us warm all night", "fit perfectly in the kitchen",
                "was easy to assemble", "has not let me down once", "saved me a lot of time",
                "was worth every penny", "kept the rain out completely",
                "made the whole room feel cosy", "was sturdy and well made",
                "works as well as the day I bought it", "arrived well packed and in one piece",
                "was quieter than I expected", "keeps drinks hot for hours",
                "heats the room in minutes", "washes up in seconds", "gets out every stain",
                "folds up small and fits in a drawer"],
        "neg": ["leaked all over the floor", "fell apart after two weeks",
                "stopped working the day after the warranty ended", "was missing two screws",
                "rusted within a month", "smelled of burnt plastic", "made a terrible racket",
                "arrived dented", "tore the first time I wore it", "wobbled on every surface",
                "was much smaller than the picture", "broke when I first opened it",
                "let the water through at the seams", "lost its shape after one wash",
                "took three hours to put together", "drips every time I pour",
                "squeaks whenever I sit down", "smells of damp", "sheds fluff everywhere",
                "leaves stains on everything"],
        "bad_events": [("leaked", "leaked"), ("broke", "broken"), ("rusted", "rusted"),
                       ("tore", "torn"), ("wobbled", "wobbled"), ("jammed", "jammed")],
        "good_events": [("worked", "worked"), ("heated up", "heated up"),
                        ("fit", "fitted"), ("stayed dry", "stayed dry")],
        "neu": ["is made of steel and plastic", "comes in three sizes", "is {n}0 centimetres wide",
                "has a two-year warranty", "was delivered on {day}", "sits next to the window",
                "uses a standard plug", "is available in grey and green",
                "came with a printed manual", "was bought at the shop on the corner"],
    },
    "service": {
        "subjects": ["the plumber", "the electrician", "the mechanic", "the technician",
                     "the support agent", "the receptionist", "the nurse", "the dentist",
                     "the hairdresser", "the driver", "the tour guide", "the cleaner",
                     "the landlord", "the bank clerk", "the shop assistant"],
        "pos": ["arrived on time and fixed the leak in no time", "fixed it in ten minutes",
                "explained everything clearly", "called back within the hour",
                "sorted out the problem on the spot", "went out of their way to help us",
                "refunded me the same day", "gave us a fair price", "answered every question",
                "remembered my name", "stayed late to finish the job",
                "replaced the part for free", "got it working again straight away",
                "listened carefully and was very patient", "made the whole thing painless"],
        "neg": ["never showed up", "turned up three hours late", "walked off halfway through the work",
                "charged me twice", "ignored my emails for a week", "hung up on me",
                "overcharged us for a simple fix", "made the leak worse",
                "refused to give me a refund", "kept me on hold for an hour",
                "broke something else while fixing the sink", "talked down to me",
                "gave me the wrong information", "never called back",
                "blamed me for their own mistake"],
        "bad_events": [("was late", "been late"), ("rushed", "rushed"),
                       ("overcharged me", "overcharged me"), ("cancelled", "cancelled")],
        "good_events": [("showed up", "shown up"), ("called back", "called back"),
                        ("replied", "replied"), ("fixed it", "fixed it"),
                        ("turned up", "turned up")],
        "neu": ["comes on Tuesdays and Fridays", "works from nine to five",
                "charges by the hour", "is booked for {day} morning",
                "will need the address and a phone number", "started the job at {n} o'clock",
                "asked for the invoice number", "visits the building once a month",
                "works for a company in the next town", "took the measurements on {day}"],
    },
    "food": {
        "subjects": ["the pasta", "the soup", "the steak", "the pizza", "the curry", "the salad",
                     "the cake", "the coffee", "the burger", "the bread", "the fish",
                     "the dessert", "the breakfast", "the tea", "the sandwich"],
        "pos": ["was cooked to perfection", "tasted fresh and full of flavour",
                "came out hot and quickly", "was the best I have had in years",
                "melted in the mouth", "was generous and well seasoned",
                "disappeared in minutes, we loved it", "was perfectly crispy",
                "was made with fresh local ingredients", "had just the right amount of spice",
                "was worth the wait", "left everyone asking for more"],
        "neg": ["was cold when it arrived", "tasted stale", "was burnt on one side",
                "was swimming in oil", "came out raw in the middle", "was far too salty",
                "made me sick the next day", "had a hair in it", "took an hour to arrive",
                "was tiny for the price", "was bland and watery", "had gone off"],
        "bad_events": [("was cold", "been cold"), ("was burnt", "been burnt"),
                       ("was late", "been late"), ("tasted stale", "tasted stale")],
        "good_events": [("arrived", "arrived"), ("tasted of anything", "tasted of anything"),
                        ("came", "come"), ("was hot", "been hot")],
        "neu": ["is served with rice", "costs {n} euros", "contains nuts",
                "is on the lunch menu", "comes in a small and a large portion",
                "was ordered at {n} o'clock", "is made with tomatoes and onions",
                "is served until ten", "is listed under starters", "is baked every morning"],
    },
    "travel": {
        "subjects": ["the flight", "the train", "the bus", "the ferry", "the taxi",
                     "the hotel", "the room", "the check-in", "the airport transfer",
                     "the rental car", "the apartment", "the hostel", "the cruise",
                     "the tour", "the trip"],
        "pos": ["left and arrived exactly on time", "was smooth from start to finish",
                "went without a single hitch", "had a stunning view of the sea",
                "was spotless when we arrived", "got us there early",
                "was upgraded for free", "was quiet and comfortable",
                "took five minutes at the desk", "was everything the photos promised",
                "was the highlight of our holiday", "ran like clockwork"],
        "neg": ["was delayed by four hours", "was cancelled at the last minute",
                "smelled of smoke", "was dirty and noisy", "lost our luggage",
                "had no hot water", "left without us", "was overbooked",
                "broke down halfway", "was nothing like the photos",
                "had cockroaches in the bathroom", "was freezing all night"],
        "bad_events": [("was delayed", "been delayed"), ("was late", "been late"),
                       ("was cancelled", "been cancelled"), ("broke down", "broken down")],
        "good_events": [("arrived", "arrived"), ("left", "left"), ("came", "come"),
                        ("turned up", "turned up")],
        "neu": ["leaves from platform {n}", "takes about {n} hours", "stops in three towns",
                "departs at {n} o'clock", "was booked for {day}", "has {n}0 rooms",
                "is ten minutes from the station", "goes via the coast road",
                "includes breakfast", "was booked through the website"],
    },
    "delivery": {
        "subjects": ["my order", "the parcel", "the package", "the delivery",
                     "the shipment", "the replacement"],
        "pos": ["arrived a day early", "came well packed and undamaged",
                "turned up exactly when promised", "was processed within a day",
                "was left safely with my neighbour", "arrived in perfect condition",
                "was tracked every step of the way", "reached me in two days"],
        "neg": ["never arrived", "arrived two weeks late", "came damaged and soaked",
                "was left out in the rain", "went to the wrong address",
                "was lost somewhere in the system", "arrived with half the items missing",
                "still hasn't been processed after a month", "was returned to the sender"],
        "bad_events": [("was late", "been late"), ("was damaged", "been damaged"),
                       ("went missing", "gone missing")],
        "good_events": [("arrived", "arrived"), ("came", "come"), ("turned up", "turned up"),
                        ("showed up", "shown up")],
        "neu": ["is due on {day}", "was sent from the warehouse on {day}",
                "needs a signature", "weighs {n} kilos", "has a tracking number",
                "goes to the post office if nobody is home", "was dispatched this morning",
                "goes back to the card used for payment"],
    },
    "app": {
        "subjects": ["the app", "the website", "the update", "the game", "the new version",
                     "the booking site", "the online shop", "the software", "the checkout"],
        "pos": ["loads in a second", "makes booking really simple",
                "fixed every bug I had", "runs smoothly on my old phone",
                "saved me hours of work", "found exactly what I needed",
                "let me pay in two taps", "is clear and easy to use",
                "syncs instantly across my devices", "remembers my settings",
                "sends a reminder before every appointment"],
        "neg": ["crashes every time I open it", "logged me out every few minutes",
                "deleted all my notes", "takes forever to load", "drains the battery",
                "charged my card twice", "keeps showing errors",
                "lost my booking", "is full of pop-up ads", "keeps freezing on the login screen",
                "won't accept my password", "signs me out every day"],
        "bad_events": [("crashed", "crashed"), ("froze", "frozen"), ("lagged", "lagged"),
                       ("logged me out", "logged me out")],
        "good_events": [("worked", "worked"), ("loaded", "loaded"), ("saved my data", "saved my data"),
                        ("opened", "opened")],
        "neu": ["asks for an email address", "was updated on {day}", "is free to download",
                "has a dark mode", "works on phones and tablets", "is available in {n} languages",
                "charges a monthly fee", "needs an account to use"],
    },
    "experience": {
        "subjects": ["we", "my wife and I", "my parents", "the kids", "my friends and I"],
        "plural": True,
        "pos": ["got our money back within a day", "were seated straight away",
                "had a wonderful time", "were looked after from start to finish",
                "got a free upgrade", "were checked in within five minutes",
                "got the keys early", "had the whole beach to ourselves",
                "were helped the moment we walked in", "would happily go back tomorrow",
                "got exactly what we ordered", "saved a fortune compared with last year"],
        "neg": ["waited over an hour for a table", "had to ask three times for water",
                "were stuck on the runway for two hours", "sat in the cold for ages",
                "were ignored at the counter", "got food poisoning",
                "had to send the soup back", "paid for a sea view and got a car park",
                "queued for ninety minutes", "were turned away at the door",
                "phoned five times and no one picked up", "wasted the whole afternoon"],
        "bad_events": [("waited", "waited"), ("queued", "queued"), ("felt rushed", "felt rushed"),
                       ("had a problem", "had a problem")],
        "good_events": [("got a reply", "got a reply"), ("got our money back", "got our money back"),
                        ("heard back", "heard back"), ("received the refund", "received the refund")],
        "neu": ["arrived on {day} evening", "stayed for {n} nights", "paid by card",
                "booked the table a week ago", "took the bus into town", "ordered two coffees",
                "moved here last {season}", "asked about the opening times"],
    },
    "thing": {
        "subjects": ["it", "this one", "the new one", "mine", "the whole thing", "the cheaper model",
                     "the replacement part", "the second one"],
        "pos": ["does exactly what it says", "works like a charm", "paid for itself in a month",
                "stays sharp after months of use", "cuts through anything", "fits in my pocket",
                "survives the dishwasher every time", "cleans up with a quick wipe",
                "holds far more than it looks", "feels solid in the hand",
                "makes mornings so much easier", "gets better the more I use it",
                "still works perfectly after daily use", "handles heavy loads easily",
                "dries in an hour", "grips well even when wet", "keeps everything organised",
                "shows every detail clearly", "sounds rich and clear", "heats up evenly",
                "needs almost no maintenance", "uses very little power", "opens with one hand",
                "arrived fully charged and ready to go", "was cheaper than in the shops"],
        "neg": ["falls apart if you look at it", "stopped after ten minutes", "peeled off in a week",
                "cracked in the cold", "faded after one wash", "gives me a headache",
                "takes up half the desk", "won't stay charged", "wastes a lot of water",
                "is impossible to clean", "came with no instructions at all",
                "smells like chemicals", "rattles on every bump", "sticks every time",
                "slips out of my hand", "stains the moment anything touches it",
                "needs a new battery every week", "burns everything on the bottom",
                "cost twice what it is worth", "was already used when it came",
                "was sent in the wrong colour", "goes blank without warning",
                "hurts my ears after an hour", "ripped along the seam", "was a complete waste of money"],
        "bad_events": [("broke", "broken"), ("failed", "failed"), ("leaked", "leaked"),
                       ("jammed", "jammed"), ("cracked", "cracked"), ("faded", "faded")],
        "good_events": [("worked", "worked"), ("fit", "fitted"), ("arrived", "arrived"),
                        ("matched the description", "matched the description")],
        "neu": ["comes in a cardboard box", "is made in Portugal", "was on the top shelf",
                "has a serial number on the back", "is the same size as the old one",
                "was delivered to the office", "is sold in packs of {n}",
                "runs on two AA batteries", "is the {n}th one I have bought",
                "has a power button and a reset button", "is the blue version"],
    },
    "event": {
        "subjects": ["the concert", "the show", "the match", "the wedding", "the festival",
                     "the party", "the play", "the exhibition", "the lecture", "the gig",
                     "the conference", "the film", "the museum visit"],
        "pos": ["had the whole crowd singing", "was sold out and worth it",
                "kept us on the edge of our seats", "went on till late and we danced all night",
                "was the best night of the year", "had everyone in tears of joy",
                "started on time and ran smoothly", "left us talking about it for days"],
        "neg": ["started two hours late", "was cancelled without warning",
                "was so loud nobody could hear", "ran out of food by eight",
                "had half the seats empty", "ended early with no refund",
                "was badly organised and crowded", "sent most people home early"],
        "bad_events": [("dragged", "dragged"), ("was boring", "been boring"),
                       ("started late", "started late")],
        "good_events": [("started", "started"), ("happened", "happened"),
                        ("lived up to the hype", "lived up to the hype")],
        "neu": ["starts at {n} o'clock", "takes place on {day}", "lasts about two hours",
                "is held in the town hall", "has {n}00 seats", "is on every {day}",
                "was announced last {season}", "ends with a short speech"],
    },
}

ADJ = {
    "positive": ["friendly", "helpful", "delicious", "comfortable", "clean", "quick", "reliable",
                 "quiet", "fresh", "spacious", "tasty", "easy to use", "good value", "cosy",
                 "well made", "fantastic", "lovely", "brilliant", "excellent", "smooth"],
    "negative": ["rude", "slow", "dirty", "noisy", "greasy", "overpriced", "unreliable",
                 "cramped", "useless", "cold", "flimsy", "confusing", "terrible", "awful",
                 "disappointing", "broken", "filthy", "uncomfortable", "stale", "late"],
}
NOT_BAD = ["not bad", "not bad at all", "far from disappointing", "no problem at all",
           "nothing to complain about"]
NOT_GOOD = ["not great", "not good", "not worth the money", "nothing special",
            "not what I paid for"]
INTENSIFIERS = ["really", "very", "extremely", "incredibly", "super", "so", "truly", "quite"]
GOOD_OPENERS = ["Honestly,", "Happily,", "Luckily,", "To my surprise,", "Good news:",
                "I'm glad to say", "As promised,", ""]
BAD_OPENERS = ["Sadly,", "Unfortunately,", "Annoyingly,", "Once again,", "Of course,",
               "I'm sorry to say", "To be honest,", ""]
TIMES = ["after a week", "after a month", "within two days", "on the first day",
         "the second time", "after one use"]
SPANS = ["in two years", "in six months", "since I got it", "all year", "once"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SEASONS = ["spring", "summer", "autumn", "winter"]
NEUTRAL_FRAMES = ["{S} {neu}.", "I think {s} {neu}.", "According to the leaflet, {s} {neu}.",
                  "{S} {neu}, as far as I know.", "Just so you know, {s} {neu}.",
                  "We were told that {s} {neu}."]
NEUTRAL_PLAIN = ["The store moved to a bigger unit in {season}.", "The price went up by {n} euros.",
                 "The shop closes at {n} on {day}s.", "The delivery fee depends on the distance.",
                 "Refunds go back to the original card.", "The plumber is coming on {day}.",
                 "The battery is the same type as in the remote.", "The charger is sold separately.",
                 "We need to return it by {day}.", "The leak was reported on {day}.",
                 "I bought it on {day}.", "We arrived on {day} at {n} o'clock.",
                 "The receipt says {n} euros.", "I picked the larger size.",
                 "The shop is on the second floor.", "My brother recommended it.",
                 "The booking reference is on the email.", "We paid by card.",
                 "I have had it since last {season}.", "There were {n} of us at the table.",
                 "The office reopens on {day}.", "The manual is in English and French.",
                 "The invoice came by post.", "I asked for a receipt.",
                 "We took the {n} o'clock train.", "The menu changes every {season}."]


def _fill(text: str, rng: random.Random) -> str:
    """Replace {n}, {day} and {season} with seeded picks."""
    return text.format(n=rng.randint(2, 9), day=rng.choice(DAYS), season=rng.choice(SEASONS))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _opened(opener: str, clause: str) -> str:
    """'Sadly, the phone died.' or 'I'm sorry to say the phone died.'"""
    if not opener:
        return _cap(clause)
    return f"{opener} {clause}"


def _fact(g: dict, label: str, rng: random.Random) -> str:
    """A clause '<subject> <good/bad fact>' with no opener."""
    return f"{rng.choice(g['subjects'])} {rng.choice(g['pos' if label == 'positive' else 'neg'])}"


def _negated(g: dict, label: str, rng: random.Random) -> str:
    """A negation that flips a verb: 'never crashed' is good, 'never arrived' is bad."""
    s = rng.choice(g["subjects"])
    past, part = rng.choice(g["bad_events" if label == "positive" else "good_events"])
    has = "have" if g.get("plural") else "has"
    forms = [f"{s} never {past}", f"{s} {has} not {part} once {rng.choice(SPANS)}",
             f"{s} {has}n't {part} {rng.choice(SPANS)}", f"{s} didn't {_base(past)}"]
    return rng.choice(forms)


BASE = {"crashed": "crash", "froze": "freeze", "broke": "break", "overheated": "overheat",
        "failed": "fail", "lost": "lose", "worked": "work", "charged": "charge",
        "turned": "turn", "connected": "connect", "held": "hold", "leaked": "leak",
        "rusted": "rust", "tore": "tear", "wobbled": "wobble", "jammed": "jam",
        "heated": "heat", "fit": "fit", "stayed": "stay", "was": "be", "rushed": "rush",
        "overcharged": "overcharge", "cancelled": "cancel", "showed": "show", "called": "call",
        "replied": "reply", "fixed": "fix", "tasted": "taste", "arrived": "arrive",
        "came": "come", "left": "leave", "logged": "log", "lagged": "lag", "loaded": "load",
        "saved": "save", "opened": "open", "dragged": "drag", "started": "start",
        "happened": "happen", "lived": "live", "went": "go", "waited": "wait", "queued": "queue",
        "felt": "feel", "had": "have", "got": "get", "heard": "hear", "received": "receive", "cracked": "crack",
        "faded": "fade", "matched": "match"}


def _base(past: str) -> str:
    """Base form of a past-tense phrase's first verb (for 'didn't ...')."""
    head, _, rest = past.partition(" ")
    return f"{BASE[head]} {rest}".strip()


def _adjective(g: dict, label: str, rng: random.Random) -> str:
    """'the staff were really friendly', 'the room was not great', 'it was not bad'."""
    s = rng.choice(g["subjects"])
    roll = rng.random()
    if roll < 0.2:
        return f"{s} was {rng.choice(NOT_BAD if label == 'positive' else NOT_GOOD)}"
    adj = rng.choice(ADJ[label])
    if roll < 0.35:  # negated opposite: 'not dirty at all' is praise
        other = rng.choice(ADJ["negative" if label == "positive" else "positive"])
        return f"{s} was not {other}{' at all' if label == 'positive' else ''}"
    return f"{s} was {rng.choice(INTENSIFIERS + ['', ''])} {adj}".replace("  ", " ")


def _clause(g: dict, label: str, rng: random.Random) -> str:
    """One polar clause: a stated fact, a flipped negation or an adjective."""
    roll = rng.random()
    if roll < 0.5:
        return _fact(g, label, rng)
    if roll < 0.72 or g.get("plural"):  # "we was ..." would be wrong: no adjective frame
        return _negated(g, label, rng)
    return _adjective(g, label, rng)


def polar(label: str, rng: random.Random) -> str:
    """A positive or negative everyday sentence, maybe mixed with an opposite clause."""
    g = GROUPS[rng.choice(sorted(GROUPS))]
    main = _clause(g, label, rng)
    roll = rng.random()
    other = "negative" if label == "positive" else "positive"
    if roll < 0.15:  # the clause after "but" decides
        return _cap(f"{_clause(g, other, rng)}, but {main}.")
    if roll < 0.25:
        return _cap(f"although {_clause(g, other, rng)}, {main}.")
    if roll < 0.4:  # two clauses of the same sign
        second = _clause(g, label, rng)
        return _cap(f"{main} and {second}." if second != main else f"{main}.")
    opener = rng.choice(GOOD_OPENERS if label == "positive" else BAD_OPENERS)
    return _fill(_opened(opener, main) + ".", rng)


def neutral(rng: random.Random) -> str:
    """A plain factual statement with no praise or complaint."""
    if rng.random() < 0.3:
        return _fill(rng.choice(NEUTRAL_PLAIN), rng)
    g = GROUPS[rng.choice(sorted(GROUPS))]
    s = rng.choice(g["subjects"])
    frame = rng.choice(NEUTRAL_FRAMES)
    return _fill(frame.replace("{S}", _cap(s)).replace("{s}", s).replace(
        "{neu}", rng.choice(g["neu"])), rng)


def generate(n: int, seed: int = TRAIN_SEED) -> list[data.Item]:
    """n distinct sentences, a third of each class, reproducible for a seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    items: list[data.Item] = []
    labels = ("positive", "neutral", "negative")
    tries = 0
    while len(items) < n and tries < 50 * n:
        tries += 1
        label = labels[len(items) % 3]
        text = _fill(neutral(rng) if label == "neutral" else polar(label, rng), rng)
        text = " ".join(text.split())
        if text not in seen:
            seen.add(text)
            items.append(data.Item(f"{DOMAIN}:{seed}:{len(items)}", RATING[label], text, DOMAIN))
    return items
