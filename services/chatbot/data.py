"""Generator of desk-assistant examples: a context paragraph, a question, an answer span.

A context describes a desk in blocks of facts (opening hours per day, people and their
roles, department phone numbers and emails, rooms and floors, prices), written either
as prose sentences or as "Key: value" lists, with headings, filler sentences and
several facts of each kind, so the facts not asked about are distractors. The question
asks about one fact through one of many paraphrase templates; the answer is always a
span of the context (character offsets are kept exactly).

Splits (all seeded and deterministic):

* ``train``: training question templates, training entity values;
* ``test_values``: training templates, held-out entity values (names, room names and
  numbers, times, phone numbers, prices, email domains never seen in training);
* ``test_templates``: held-out question templates, training entity values;
* ``test_both``: held-out templates and held-out values.

An entity value is held out when the CRC-32 of its text is 0 modulo 4 (:func:`held_out`),
so the partition is stable and needs no stored lists. Role, department, item and day
words are the desk's vocabulary and are shared by every split.
"""

from __future__ import annotations

import functools
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from services.chatbot.tokenizer import tokenize

DEFAULT_SEED = 1234
SPLITS: tuple[str, ...] = ("train", "test_values", "test_templates", "test_both")
CONTEXT_FILE = Path(__file__).resolve().parent / "context.txt"

# ---------------------------------------------------------------- entity pools
FIRST_NAMES = tuple("""Maria Tom Priya James Aisha Chen Olivia Liam Sofia Noah Emma Lucas Mia Ethan
Amara Yusuf Hannah Diego Fatima Oscar Grace Mateo Chloe Ravi Ingrid Kenji Zara Felix Nadia
Hugo Leila Samuel Ana Viktor Elena Omar Julia Tariq Rosa Daniel Mei Patrick Lena Ibrahim
Clara Marco Sara Jonas Aaliyah Pedro Helen Arjun Freya Dmitri Lucia Kwame Beatrice Theo
Nora Hassan Isla Andre Yuki Carmen Rahul Alice George Imani Luca Ruth Emil Maya Ahmed Jade
Tobias Selin Victor Paula Kofi Agnes Sean Lina Bruno Esther Hamza Iris Leon Dalia Malik
Wendy Stefan Nina Carlos Rebecca Adrian Eva Jamal Irene Martin Sana Pablo Greta Rowan
Tanya Simon Alma Henrik Noor Marcus Vera Ali Ursula Rafael Anya Dennis Zoe""".split())
LAST_NAMES = tuple("""Lopez Becker Shah Smith Okafor Nguyen Garcia Muller Rossi Kowalski Tanaka
Silva Johansson Patel Kim Dubois Haddad Novak Fischer Moreno Ahmed Wright Costa Ivanova
Larsen Mensah Rahman Schmidt Torres Yamamoto Brennan Chopra Eriksen Farouk Gallagher Hughes
Ibarra Jensen Kaur Lindqvist Mahmoud Nakamura Oliveira Petrov Quinn Reyes Sato Thompson
Ulrich Vargas Weber Xu Young Zhang Abbott Baptiste Castillo Dimitrov Edwards Fontaine
Grant Horvat Ito Jovanovic Keller Lambert Marsh Nielsen Osei Park Romero Santos Takahashi
Underwood Vogel Walsh Adeyemi Bianchi Carter Delgado Evans Fleming Gomez Hayes Ionescu
Jackson Kruger Lund Moss Nash Ortiz Pereira Russo Stone Tran Vance Wolfe Yilmaz Ziegler
Barker Coleman Doyle Ferreira Hale Kaplan Mercer Nolan Pryce Sutton""".split())
ROOM_WORDS = tuple("""Oak Maple Cedar Willow Birch Aspen Elm Pine Hazel Rowan Juniper Cypress Alder
Linden Magnolia Laurel Sequoia Chestnut Poplar Spruce Holly Ivy Lotus Orchid Heather Thistle
Fern Daisy Tulip Jasmine Atlas Orion Phoenix Harbor Summit Meadow Lakeside Garden Sunrise
Horizon Aurora Beacon Canyon Delta Ember Falcon Glacier Hawthorn Indigo Kestrel Lagoon
Mistral Nimbus Olive Prairie Quartz Raven Sierra Tundra Vista Zephyr Amber Coral Jade Onyx
Pearl Ruby Sapphire Topaz Violet Cobalt Crimson Saffron Sterling""".split())
ROOM_KINDS = ("Room", "Suite", "Hall", "Lounge", "Studio")
DOMAIN_WORDS = tuple("""riverside northgate eastfield westbrook southport hillcrest lakeview
oakridge pinewood brookside clearwater greenfield stonebridge fairview meadowbank
kingsway harbourside ashford millbrook redcliff silverdale highgate lowfield elmstead
crossway bellview marshfield thornbury willowdale granite bayside""".split())
DOMAIN_KINDS = ("library", "college", "hub", "centre", "campus", "council", "clinic")
TLDS = ("org", "com", "edu", "net", "co.uk", "org.uk")

# ---------------------------------------------------------------- shared keys
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROLES = ("manager", "assistant manager", "receptionist", "IT technician", "librarian",
         "head librarian", "security officer", "volunteer coordinator", "events coordinator",
         "facilities manager", "office manager", "duty officer", "desk supervisor",
         "accountant", "caretaker", "nurse", "director", "deputy director",
         "customer service lead", "careers adviser", "youth worker", "IT manager")
# (name, article): "the help desk" but "IT support"
DEPARTMENTS = (("help desk", "the"), ("front desk", "the"), ("IT support", ""),
               ("security", ""), ("lost and found", ""), ("reception", ""),
               ("bookings office", "the"), ("billing", ""), ("cafeteria", "the"),
               ("maintenance team", "the"), ("first aid room", "the"),
               ("customer service", ""), ("membership office", "the"),
               ("events team", "the"), ("print shop", "the"), ("careers service", "the"),
               ("accounts office", "the"), ("parking office", "the"))
FACILITIES = ("computer lab", "quiet study area", "printer room", "cafeteria",
              "reading room", "staff room", "training room", "main hall", "meeting room",
              "kitchen", "locker area", "children's corner", "music room", "exhibition space",
              "prayer room", "server room", "photocopy room", "lecture theatre")
FLOORS = ("ground floor", "first floor", "second floor", "third floor", "fourth floor",
          "fifth floor", "1st floor", "2nd floor", "3rd floor", "4th floor", "top floor")
# (item, article, unit): the article is "" for mass nouns ("printing costs ...")
ITEMS = (("day pass", "a", ""), ("week pass", "a", ""), ("guest pass", "a", ""),
         ("monthly membership", "a", ""), ("annual membership", "an", ""),
         ("replacement card", "a", ""), ("late fee", "the", " per day"),
         ("locker rental", "", " per day"), ("printing", "", " per page"),
         ("colour printing", "", " per page"), ("photocopy", "a", ""),
         ("parking", "", " per hour"), ("coffee", "a", ""), ("sandwich", "a", ""),
         ("meeting room booking", "a", " per hour"), ("laptop loan", "a", " per day"),
         ("umbrella", "an", ""), ("USB stick", "a", ""), ("notebook", "a", ""),
         ("tote bag", "a", ""), ("bike rental", "", " per hour"), ("scanning", "", " per page"),
         ("room hire", "", " per hour"), ("headset", "a", ""))
FILLERS = ("Please keep noise to a minimum.", "Free wifi is available for all visitors.",
           "Dogs are not allowed inside, except guide dogs.",
           "We are closed on public holidays.",
           "Children under 12 must be accompanied by an adult.",
           "Lost items are kept for 30 days.",
           "Bookings can be made up to two weeks in advance.",
           "Please show your card at the entrance.", "Food is not allowed in the reading rooms.",
           "The car park has 40 spaces.", "Accessible toilets are on every floor.",
           "Our staff are happy to help.", "Payment by card is preferred.",
           "Membership is free for students.", "Please return books within 21 days.")
INTROS = ("Welcome to the {org} help desk.", "Welcome to {org}!",
          "This is the information desk of {org}.", "{org} visitor information.",
          "Information for visitors of {org}.")
ORG_KINDS = ("Library", "Community Centre", "College", "Town Hall", "Sports Centre",
             "Museum", "Health Clinic", "Business Hub")
HEADINGS = {"hours": ("Opening hours", "Hours", "When we are open"),
            "people": ("People", "Staff", "Who is who"),
            "contacts": ("Phone and email", "Contact", "Contacts"),
            "places": ("Rooms", "Where to find us", "Rooms and floors"),
            "prices": ("Prices", "Fees", "Price list")}


def held_out(value: str) -> bool:
    """Whether an entity value belongs to the test pools (about a quarter of values)."""
    return zlib.crc32(value.lower().encode("utf-8")) % 4 == 0


@functools.lru_cache(maxsize=None)
def pool(values: tuple[str, ...], test: bool) -> tuple[str, ...]:
    """The values of one side of the held-out partition."""
    return tuple(v for v in values if held_out(v) == test)


def sample(rng: random.Random, make: Callable[[random.Random], str], test: bool) -> str:
    """Draw generated values until one falls on the wanted side of the partition."""
    while True:
        value = make(rng)
        if held_out(value) == test:
            return value


# ---------------------------------------------------------------- value makers
def make_time(rng: random.Random, hour: int) -> str:
    """A time of day in one of several common formats."""
    minute = rng.choice((0, 0, 0, 30, 30, 15, 45))
    style = rng.random()
    if style < 0.6:
        return f"{hour}:{minute:02d}"
    suffix = rng.choice(("am", "pm", " am", " pm", " a.m.", " p.m."))
    suffix = suffix.replace("a", "p") if hour >= 12 else suffix.replace("p", "a")
    twelve = hour - 12 if hour > 12 else hour
    if minute == 0 and style < 0.8:
        return f"{twelve}{suffix}"
    return f"{twelve}:{minute:02d}{suffix}"


def make_phone(rng: random.Random) -> str:
    """A phone number in one of several formats."""
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    style = rng.randrange(5)
    if style == 0:
        return f"555-{d(4)}"
    if style == 1:
        return f"({rng.choice(('020', '0161', '0117', '312', '617'))}) {d(3)}-{d(4)}"
    if style == 2:
        return f"+{rng.choice(('1', '44', '49', '33', '31'))} {d(2)} {d(4)} {d(4)}"
    if style == 3:
        return f"{d(3)}.{d(3)}.{d(4)}"
    return f"{d(3)}-{d(3)}-{d(4)}"


def make_price(rng: random.Random) -> str:
    """A price such as "$12.50", "€3", "£0.20"."""
    whole = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60,
                        75, 80, 90, 99, 120, 150))
    cents = rng.choice((None, 0, 10, 20, 25, 50, 75, 95, 99, 5, 40))
    if whole == 0 and not cents:
        cents = 50
    currency = rng.choice("$$$€£")
    return f"{currency}{whole}" if cents is None else f"{currency}{whole}.{cents:02d}"


def make_room(rng: random.Random) -> str:
    """A room number ("204") or code ("B12")."""
    if rng.random() < 0.7:
        return str(rng.randrange(1, 10) * 100 + rng.randrange(0, 40))
    return f"{rng.choice('ABCDEFGHJKLMN')}{rng.randrange(1, 40)}"


def make_domain(rng: random.Random) -> str:
    """An email domain such as "riverside-library.org"."""
    sep = rng.choice(("-", "", "."))
    return f"{rng.choice(DOMAIN_WORDS)}{sep}{rng.choice(DOMAIN_KINDS)}.{rng.choice(TLDS)}"


def make_email(rng: random.Random, local: str, test: bool) -> str:
    """An email address with a local part derived from a department or a person."""
    local = re.sub(r"[^a-z0-9.]+", rng.choice((".", "", "-")), local.lower()).strip(".-")
    return f"{local}@{sample(rng, make_domain, test)}"


def make_name(rng: random.Random, test: bool) -> str:
    """A full name whose first and last names both come from one side of the split."""
    return f"{rng.choice(pool(FIRST_NAMES, test))} {rng.choice(pool(LAST_NAMES, test))}"


def make_room_name(rng: random.Random, test: bool) -> str:
    """A named room such as "Oak Room" from one side of the split."""
    return f"{rng.choice(pool(ROOM_WORDS, test))} {rng.choice(ROOM_KINDS)}"


# ---------------------------------------------------------------- templates
# Context sentences per fact kind: (prose, list). Slots in braces; a capitalised slot
# ("{Dept}") is the value with its first letter upper-cased.
FACT_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "open_day": (
        ("On {day} we are open from {open} to {close}.",
         "On {day} the desk is open from {open} until {close}.",
         "We open at {open} and close at {close} on {day}.",
         "{day} hours are {open} to {close}.",
         "On {day}, opening hours are {open} - {close}.",
         "The desk opens at {open} on {day} and closes at {close}."),
        ("{day}: {open} - {close}", "{day}: {open} to {close}", "{day} {open} - {close}",
         "{day}: {open}-{close}", "{day}s: {open} - {close}")),
    "closed_day": (
        ("On {day} we are {closed}.", "We are {closed} on {day}.",
         "The desk is {closed} on {day}."),
        ("{day}: {closed}", "{day}: {Closed}", "{day} {closed}", "{day}s: {closed}")),
    "person": (
        ("The {role} is {name}.", "Our {role} is {name}.", "{name} is the {role}.",
         "{name} works as our {role}.", "You can ask {name}, our {role}, for help.",
         "{name} is our {role}."),
        ("{Role}: {name}", "{name} ({role})", "{name} - {role}")),
    "phone": (
        ("The {dept} phone number is {phone}.", "You can call {the_dept} at {phone}.",
         "To reach {the_dept}, call {phone}.", "Call {phone} for {the_dept}.",
         "{The_dept} can be reached on {phone}.", "Phone {the_dept} on {phone}."),
        ("{Dept}: {phone}", "{Dept} phone: {phone}", "{Dept} - tel. {phone}")),
    "email": (
        ("You can email {the_dept} at {email}.", "The {dept} email address is {email}.",
         "Write to {email} to contact {the_dept}.", "Send an email to {email} for {the_dept}.",
         "{The_dept} can be reached by email at {email}."),
        ("{Dept} email: {email}", "{Dept}: {email}", "Email ({dept}): {email}")),
    "place": (
        ("{The_place} is in {room} on the {floor}.",
         "You will find {the_place} in {room}, {floor}.",
         "{The_place} is on the {floor}, {room}.",
         "{The_place} is located in {room} on the {floor}.",
         "Go to {room} on the {floor} for {the_place}."),
        ("{Place}: {room}, {floor}", "{Place} - {Room} ({floor})", "{Place}: {Room}, {floor}")),
    "price": (
        ("{A_item} costs {price}{unit}.", "{A_item} is {price}{unit}.",
         "The price of {a_item} is {price}{unit}.", "We charge {price}{unit} for {a_item}.",
         "{A_item} will cost you {price}{unit}."),
        ("{Item}: {price}{unit}", "{Item} - {price}{unit}", "{Item} {price}{unit}")),
}

# Question templates per intent: (training templates, held-out templates).
QUESTION_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hours.open": (
        ("When do you open on {day}?", "What time do you open on {day}?",
         "What time does the desk open on {day}?", "What time does the desk open {day}s?",
         "When does the desk open on {day}?", "At what time do you open on {day}?",
         "What is the opening time on {day}?", "When do you start on {day}?"),
        ("How early are you open on {day}?", "What time do your doors open on {day}?")),
    "hours.close": (
        ("When do you close on {day}?", "What time do you close on {day}?",
         "What time does the desk close on {day}?", "When does the desk close {day}s?",
         "What is the closing time on {day}?", "Until when are you open on {day}?",
         "How late are you open on {day}?"),
        ("Until what time can I come on {day}?", "When do you shut on {day}?")),
    "hours.span": (
        ("What are your hours on {day}?", "What are the opening hours on {day}?",
         "When are you open on {day}?", "Are you open on {day}?",
         "What are the desk's hours on {day}?", "What hours is the desk open on {day}?",
         "When can I visit on {day}?"),
        ("What are {day}'s opening times?", "Tell me the hours for {day}.")),
    "person.who": (
        ("Who is the {role}?", "Who's the {role}?", "What is the name of the {role}?",
         "Who is your {role}?", "Who works as the {role}?", "Can you tell me who the {role} is?",
         "What's the {role}'s name?"),
        ("Which person is the {role}?", "Who is the current {role}?")),
    "person.role": (
        ("What does {name} do?", "What is {name}'s job?", "What is the role of {name}?",
         "What is {name}'s role?", "Who is {name}?", "What position does {name} have?"),
        ("What is {name}'s position?", "What job does {name} do?")),
    "dept.phone": (
        ("What's the phone number of {the_dept}?", "What is the phone number for {the_dept}?",
         "How do I call {the_dept}?", "What number do I call for {the_dept}?",
         "What's the {dept} phone number?", "How can I reach {the_dept} by phone?",
         "Phone number of {the_dept}?"),
        ("Which number should I dial for {the_dept}?",
         "Could you give me the telephone number of {the_dept}?")),
    "dept.email": (
        ("What is the email of {the_dept}?", "What's the {dept} email address?",
         "How can I email {the_dept}?", "What is the email address for {the_dept}?",
         "Where do I send an email for {the_dept}?", "How do I contact {the_dept} by email?"),
        ("Which address do I write to for {the_dept}?", "What's the e-mail of {the_dept}?")),
    "place.room": (
        ("Where is {the_place}?", "Which room is {the_place} in?", "Where can I find {the_place}?",
         "What room is {the_place}?", "In which room is {the_place}?", "Where's {the_place}?"),
        ("How do I get to {the_place}?", "What is the room number of {the_place}?")),
    "place.floor": (
        ("What floor is {the_place} on?", "Which floor is {the_place} on?",
         "On which floor is {the_place}?", "What floor do I go to for {the_place}?",
         "Which level is {the_place} on?"),
        ("On what floor can I find {the_place}?", "Which storey is {the_place} on?")),
    "room.floor": (
        ("Where is {room}?", "Which floor is {room} on?", "What floor is {room} on?",
         "Where can I find {room}?", "On which floor is {room}?"),
        ("How do I find {room}?", "Which level is {room} on?")),
    "item.price": (
        ("How much does {a_item} cost?", "How much is {a_item}?", "What's the price of {a_item}?",
         "What does {a_item} cost?", "What is the cost of {a_item}?",
         "How much do you charge for {a_item}?", "What do I pay for {a_item}?",
         "Price of {a_item}?"),
        ("How expensive is {a_item}?", "What will {a_item} cost me?")),
}
# intent -> (block, fact kinds it can ask about, answer slots (first, last) per kind)
INTENTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "hours.open": ("hours", {"open_day": ("open", "open"), "closed_day": ("closed", "closed")}),
    "hours.close": ("hours", {"open_day": ("close", "close"), "closed_day": ("closed", "closed")}),
    "hours.span": ("hours", {"open_day": ("open", "close"), "closed_day": ("closed", "closed")}),
    "person.who": ("people", {"person": ("name", "name")}),
    "person.role": ("people", {"person": ("role", "role")}),
    "dept.phone": ("contacts", {"phone": ("phone", "phone")}),
    "dept.email": ("contacts", {"email": ("email", "email")}),
    "place.room": ("places", {"place": ("room", "room")}),
    "place.floor": ("places", {"place": ("floor", "floor")}),
    "room.floor": ("places", {"place": ("floor", "floor")}),
    "item.price": ("prices", {"price": ("price", "price")}),
}
BLOCKS: tuple[str, ...] = ("hours", "people", "contacts", "places", "prices")


@dataclass(frozen=True)
class Example:
    """One question about one context; ``answer == context[start:start + len(answer)]``."""

    question: str
    context: str
    answer: str
    start: int
    intent: str
    template: str


@dataclass
class Fact:
    """One fact of a context: its kind, slot values and, once placed, slot spans."""

    kind: str
    values: dict[str, str]
    spans: dict[str, tuple[int, int]] | None = None


# ---------------------------------------------------------------- rendering
_SLOT = re.compile(r"\{(\w+)\}")


def slot_value(slot: str, values: dict[str, str]) -> tuple[str, str]:
    """(key, text) for a slot; "{Dept}" is values["dept"] with a capital first letter."""
    if slot in values:
        return slot, values[slot]
    key = slot[0].lower() + slot[1:]
    text = values[key]
    return key, text[:1].upper() + text[1:]


def render(template: str, values: dict[str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    """Fill a template; returns the text and each slot's [start, end) span in it."""
    out, spans, pos = [], {}, 0
    for match in _SLOT.finditer(template):
        out.append(template[pos:match.start()])
        key, text = slot_value(match.group(1), values)
        start = sum(len(p) for p in out)
        spans.setdefault(key, (start, start + len(text)))
        out.append(text)
        pos = match.end()
    out.append(template[pos:])
    return "".join(out), spans


def with_article(article: str, noun: str) -> str:
    """"a day pass", "the help desk", or the bare noun."""
    return f"{article} {noun}" if article else noun


# ---------------------------------------------------------------- facts per block
def hours_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Opening hours for a sorted subset of the week's days."""
    days = sorted(rng.sample(range(7), rng.randint(2, 7)))
    facts = []
    for day in days:
        if rng.random() < (0.5 if day == 6 else 0.12):
            facts.append(Fact("closed_day", {"day": DAYS[day], "closed": "closed"}))
            continue
        opening = rng.randint(6, 11)
        values = {"day": DAYS[day], "open": sample(rng, lambda r: make_time(r, opening), test)}
        closing = rng.randint(max(opening + 3, 12), 22)
        values["close"] = sample(rng, lambda r: make_time(r, closing), test)
        facts.append(Fact("open_day", values))
    return facts


def people_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Distinct roles held by distinct people."""
    roles = rng.sample(ROLES, rng.randint(1, 5))
    names: list[str] = []
    while len(names) < len(roles):
        name = make_name(rng, test)
        if name not in names:
            names.append(name)
    return [Fact("person", {"role": r, "name": n}) for r, n in zip(roles, names)]


def contact_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Phone numbers and emails of distinct departments."""
    facts = []
    for dept, article in rng.sample(DEPARTMENTS, rng.randint(1, 5)):
        base = {"dept": dept, "the_dept": with_article(article, dept)}
        has_phone = rng.random() < 0.75
        if has_phone:
            facts.append(Fact("phone", {**base, "phone": sample(rng, make_phone, test)}))
        if not has_phone or rng.random() < 0.45:
            facts.append(Fact("email", {**base, "email": make_email(rng, dept, test)}))
    return facts


def place_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Named rooms and facilities with distinct room numbers and a floor each."""
    facts, rooms, places = [], set(), set()
    for _ in range(rng.randint(1, 5)):
        named = rng.random() < 0.5
        place = make_room_name(rng, test) if named else rng.choice(FACILITIES)
        room = sample(rng, make_room, test)
        if place in places or room in rooms:
            continue
        places.add(place)
        rooms.add(room)
        facts.append(Fact("place", {"place": place, "the_place": f"the {place}",
                                    "room": f"room {room}", "floor": rng.choice(FLOORS)}))
    return facts


def price_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Prices of distinct items."""
    facts = []
    for item, article, unit in rng.sample(ITEMS, rng.randint(1, 6)):
        facts.append(Fact("price", {"item": item, "a_item": with_article(article, item),
                                    "unit": unit, "price": sample(rng, make_price, test)}))
    return facts


BLOCK_FACTS: dict[str, Callable[[random.Random, bool], list[Fact]]] = {
    "hours": hours_facts, "people": people_facts, "contacts": contact_facts,
    "places": place_facts, "prices": price_facts,
}


# ---------------------------------------------------------------- contexts
class ContextBuilder:
    """Appends text pieces and records where each fact's slots end up."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.facts: list[Fact] = []

    def add(self, text: str) -> None:
        """Append plain text."""
        self.parts.append(text)
        self.length += len(text)

    def add_fact(self, fact: Fact, template: str) -> None:
        """Append a rendered fact, keeping its slot spans in context coordinates."""
        text, spans = render(template, fact.values)
        fact.spans = {k: (a + self.length, b + self.length) for k, (a, b) in spans.items()}
        self.facts.append(fact)
        self.add(text)

    def text(self) -> str:
        """The context so far."""
        return "".join(self.parts)


def add_block(builder: ContextBuilder, rng: random.Random, block: str, facts: list[Fact]) -> bool:
    """Render one block as prose sentences or a "Key: value" list (returns: is a list)."""
    as_list = rng.random() < 0.5
    if rng.random() < (0.8 if as_list else 0.3):
        builder.add(rng.choice(HEADINGS[block]) + rng.choice(("\n", ":\n", "\n\n")))
    sep = "\n" if as_list or rng.random() < 0.4 else " "
    # A block mostly repeats one or two sentence shapes, as real notices do.
    chosen = {k: rng.sample(FACT_TEMPLATES[k][as_list], min(2, len(FACT_TEMPLATES[k][as_list])))
              for k in sorted({f.kind for f in facts})}
    for i, fact in enumerate(facts):
        if i:
            builder.add(sep)
        builder.add_fact(fact, rng.choice(chosen[fact.kind]))
    return as_list


def build_context(rng: random.Random, need: str, test: bool) -> ContextBuilder:
    """A context with the block `need` and some other blocks, fillers and an intro."""
    full = rng.random() < 0.25  # a whole desk notice like context.txt
    others = [b for b in BLOCKS if b != need]
    blocks = others if full else rng.sample(others, rng.randint(0, 3))
    blocks = [need] + blocks
    rng.shuffle(blocks)
    if "hours" in blocks and rng.random() < 0.6:  # notices usually start with the hours
        blocks.remove("hours")
        blocks.insert(0, "hours")
    builder = ContextBuilder()
    if rng.random() < 0.5:
        org = f"{rng.choice(DOMAIN_WORDS).capitalize()} {rng.choice(ORG_KINDS)}"
        builder.add(rng.choice(INTROS).format(org=org) + rng.choice(("\n\n", " ", "\n")))
    after_list = False
    for i, block in enumerate(blocks):
        if i:  # a list line is never followed by more text on the same line
            builder.add(rng.choice(("\n\n", "\n") if after_list else ("\n\n", "\n", " ")))
        if rng.random() < 0.2:
            builder.add(rng.choice(FILLERS) + rng.choice((" ", "\n")))
        after_list = add_block(builder, rng, block, BLOCK_FACTS[block](rng, test))
    return builder


# ---------------------------------------------------------------- questions
_COURTESY = ("Hi, ", "Hello! ", "Excuse me, ", "Sorry, ", "Quick question: ", "Hey, ")


def noisy(rng: random.Random, question: str) -> str:
    """Surface noise users add: greetings, missing "?", all lower case, "please"."""
    if rng.random() < 0.15:
        question = rng.choice(_COURTESY) + question[:1].lower() + question[1:]
    if rng.random() < 0.1 and question.endswith("?"):
        question = question[:-1] + rng.choice((", please?", " please?", ", thanks?"))
    if rng.random() < 0.15:
        question = question.rstrip("?")
    if rng.random() < 0.1:
        question = question.lower()
    return question


def question_values(fact: Fact) -> dict[str, str]:
    """Slot values a question template may use for `fact`."""
    return dict(fact.values)


def make_example(rng: random.Random, split: str) -> Example:
    """One example of `split` (see the module docstring)."""
    test_values = split in ("test_values", "test_both")
    test_templates = split in ("test_templates", "test_both")
    intent = rng.choice(tuple(INTENTS))
    block, answer_slots = INTENTS[intent]
    while True:
        builder = build_context(rng, block, test_values)
        candidates = [f for f in builder.facts if f.kind in answer_slots]
        if candidates:
            break
    fact = rng.choice(candidates)
    templates = QUESTION_TEMPLATES[intent][int(test_templates)]
    index = rng.randrange(len(templates))
    question, _ = render(templates[index], question_values(fact))
    first, last = answer_slots[fact.kind]
    start, end = fact.spans[first][0], fact.spans[last][1]
    context = builder.text()
    template_id = f"{intent}/{'test' if test_templates else 'train'}/{index}"
    return Example(noisy(rng, question), context, context[start:end], start, intent, template_id)


def generate(n: int, split: str = "train", seed: int = DEFAULT_SEED) -> list[Example]:
    """`n` examples of `split`; the same (n, split, seed) always gives the same list."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    rng = random.Random(f"{seed}/{split}")
    return [make_example(rng, split) for _ in range(n)]


def answer_token_span(example: Example) -> tuple[int, int]:
    """Indices [first, last] of the context tokens that make up the answer."""
    end = example.start + len(example.answer)
    inside = [i for i, t in enumerate(tokenize(example.context))
              if t.start >= example.start and t.end <= end]
    if not inside:
        raise ValueError(f"answer {example.answer!r} is not a token span")
    return inside[0], inside[-1]


# ---------------------------------------------------------------- default context
def default_context() -> str:
    """The deployer's context file (services/chatbot/context.txt)."""
    return CONTEXT_FILE.read_text(encoding="utf-8")


# Questions about context.txt and their expected answers. Whoever edits context.txt
# updates these too (evaluate.py skips, and reports, the ones whose answer is gone).
DEFAULT_CONTEXT_QA: tuple[tuple[str, str], ...] = (
    ("When do you open on Monday?", "9:00"),
    ("What time does the desk open Mondays?", "9:00"),
    ("What time do you close on Wednesday?", "20:00"),
    ("When do you close on Friday?", "17:00"),
    ("When does the desk open on Saturday?", "10:00"),
    ("What are your hours on Saturday?", "10:00 - 14:00"),
    ("Are you open on Sunday?", "closed"),
    ("What are the opening hours on Tuesday?", "9:00 - 18:00"),
    ("Who is the manager?", "Maria Lopez"),
    ("Who's the receptionist?", "Tom Becker"),
    ("What is the name of the IT technician?", "Priya Shah"),
    ("What does Tom Becker do?", "receptionist"),
    ("What's the phone number of the help desk?", "555-0142"),
    ("How do I call IT support?", "555-0187"),
    ("What number do I call for lost and found?", "555-0110"),
    ("What is the email address for the help desk?", "helpdesk@riverside-library.org"),
    ("Where is the Oak Room?", "room 204"),
    ("Which floor is the Oak Room on?", "second floor"),
    ("What floor is the computer lab on?", "first floor"),
    ("Which room is the quiet study area in?", "room 310"),
    ("Where is room 310?", "third floor"),
    ("How much does a day pass cost?", "$5.00"),
    ("How much is printing?", "$0.10"),
    ("What's the price of a replacement card?", "$3.50"),
    ("How much does locker rental cost?", "$2.00"),
)
