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
import json
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
TRAINSETS = Path(__file__).resolve().parent / "trainsets"  # written_*.json: notices written apart

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
TITLES = ("Dr. ", "Prof. ", "Mr. ", "Mrs. ", "Ms. ", "Dr ", "Mr ", "Ms ", "Mrs ")

# ---------------------------------------------------------------- shared keys
# The desk's vocabulary, shared by every split. Contexts mix desks of many kinds
# (libraries, dentists, clinics, bike shops, hotels, university offices, co-working
# spaces, restaurants, gyms, shops), so the words around a fact vary as in real notices.
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ROLES = ("manager", "assistant manager", "receptionist", "IT technician", "librarian",
         "head librarian", "security officer", "volunteer coordinator", "events coordinator",
         "facilities manager", "office manager", "duty officer", "desk supervisor",
         "accountant", "caretaker", "nurse", "director", "deputy director",
         "customer service lead", "careers adviser", "youth worker", "IT manager",
         "dentist", "dental nurse", "hygienist", "practice manager", "head mechanic",
         "mechanic", "owner", "shop manager", "general manager", "concierge",
         "head concierge", "duty manager", "head chef", "sous chef", "head waiter",
         "personal trainer", "gym manager", "head coach", "course administrator",
         "programme director", "head of department", "student adviser", "dean",
         "community manager", "building manager", "events manager", "pharmacist",
         "practice nurse", "physiotherapist", "store manager", "sales assistant",
         "children's librarian", "archivist", "housekeeper", "night manager",
         "administrator", "secretary", "operations manager", "front of house manager")
# (name, article, what you call it for): "the help desk" but "IT support"
DEPARTMENTS = (
    ("help desk", "the", ("get help", "ask a question")),
    ("front desk", "the", ("ask a question", "speak to someone")),
    ("IT support", "", ("report a computer problem", "reset my password")),
    ("security", "", ("report an incident",)),
    ("lost and found", "", ("report a lost item", "find something I lost")),
    ("reception", "", ("book an appointment", "speak to someone")),
    ("bookings office", "the", ("make a booking", "book a room")),
    ("billing", "", ("pay a bill", "ask about an invoice")),
    ("cafeteria", "the", ("order lunch",)),
    ("maintenance team", "the", ("report a fault",)),
    ("first aid room", "the", ("get first aid",)),
    ("customer service", "", ("make a complaint", "return an item")),
    ("membership office", "the", ("renew my membership", "join")),
    ("events team", "the", ("book an event",)),
    ("print shop", "the", ("order prints",)),
    ("careers service", "the", ("book a careers appointment",)),
    ("accounts office", "the", ("pay a bill",)),
    ("parking office", "the", ("get a parking permit",)),
    ("appointments line", "the", ("book an appointment", "change an appointment",
                                  "cancel an appointment", "move my appointment")),
    ("emergency line", "the", ("report an emergency",)),
    ("workshop", "the", ("book a repair", "book a service")),
    ("reservations", "", ("make a reservation", "book a table", "book a room")),
    ("concierge desk", "the", ("book a taxi",)),
    ("student office", "the", ("ask about my course",)),
    ("admissions office", "the", ("apply",)),
    ("renewals line", "the", ("renew a book", "renew my loans")),
    ("sales team", "the", ("order a product",)),
    ("pharmacy", "the", ("order a prescription",)),
    ("enquiries line", "the", ("ask a question",)),
    ("community team", "the", ("book a tour",)),
)
FACILITIES = ("computer lab", "quiet study area", "printer room", "cafeteria",
              "reading room", "staff room", "training room", "main hall", "meeting room",
              "kitchen", "locker area", "children's corner", "music room", "exhibition space",
              "prayer room", "server room", "photocopy room", "lecture theatre",
              "hygiene suite", "waiting room", "treatment room", "x-ray room", "spa",
              "gym", "restaurant", "bar", "parts counter", "workshop", "showroom",
              "undergraduate office", "student hub", "admissions office", "phone booths",
              "changing rooms", "sauna", "studio", "local history collection",
              "study room", "breakfast room", "luggage room", "pharmacy counter",
              "fitting rooms", "customer service desk", "event space")
FLOORS = ("ground floor", "first floor", "second floor", "third floor", "fourth floor",
          "fifth floor", "1st floor", "2nd floor", "3rd floor", "4th floor", "top floor",
          "lower ground floor", "basement", "mezzanine", "level 1", "level 2", "level 3")
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
         ("room hire", "", " per hour"), ("headset", "a", ""),
         ("check-up", "a", ""), ("routine check-up", "a", ""), ("filling", "a", ""),
         ("scale and polish", "a", ""), ("x-ray", "an", ""),
         ("puncture repair", "a", ""), ("full service", "a", ""), ("basic service", "a", ""),
         ("brake adjustment", "a", ""), ("bike hire", "", " per day"),
         ("single room", "a", " per night"), ("double room", "a", " per night"),
         ("family room", "a", " per night"), ("breakfast", "", ""), ("late check-out", "a", ""),
         ("hot desk", "a", " a day"), ("dedicated desk", "a", " a month"),
         ("private office", "a", " a month"), ("meeting room", "a", " per hour"),
         ("replacement ID card", "a", ""), ("transcript", "a", ""), ("locker", "a", " a term"),
         ("main course", "a", ""), ("set lunch", "the", ""), ("glass of wine", "a", ""),
         ("personal training session", "a", ""), ("yoga class", "a", ""),
         ("swim", "a", ""), ("consultation", "a", ""), ("flu jab", "a", ""),
         ("gift card", "a", ""), ("delivery", "", ""), ("screen repair", "a", ""))
# events of the day: (name, article); "breakfast" but "the yoga class"
EVENTS = (("check-in", ""), ("check-out", ""), ("breakfast", ""), ("lunch", ""),
          ("dinner", ""), ("last orders", ""), ("last entry", ""), ("storytime", ""),
          ("happy hour", ""), ("yoga class", "the"), ("spin class", "the"),
          ("morning session", "the"), ("afternoon session", "the"), ("guided tour", "the"),
          ("drop-in clinic", "the"), ("walk-in session", "the"), ("quiz night", "the"),
          ("late opening", "the"), ("delivery", ""), ("collection", ""))
FILLERS = ("Please keep noise to a minimum.", "Free wifi is available for all visitors.",
           "Dogs are not allowed inside, except guide dogs.",
           "We are closed on public holidays.",
           "Children under 12 must be accompanied by an adult.",
           "Lost items are kept for 30 days.",
           "Bookings can be made up to two weeks in advance.",
           "Please show your card at the entrance.", "Food is not allowed in the reading rooms.",
           "The car park has 40 spaces.", "Accessible toilets are on every floor.",
           "Our staff are happy to help.", "Payment by card is preferred.",
           "Membership is free for students.", "Please return books within 21 days.",
           "Please arrive ten minutes before your appointment.",
           "Children are seen free of charge.", "All repairs come with a 3 month guarantee.",
           "Reception is staffed 24 hours a day.", "Towels are provided.",
           "Essay deadlines are posted on the noticeboard.", "Pets are welcome.",
           "We accept cash and all major cards.", "Please book at least 24 hours ahead.")
INTROS = ("Welcome to the {org} help desk.", "Welcome to {org}!",
          "This is the information desk of {org}.", "{org} visitor information.",
          "Information for visitors of {org}.", "{org}", "{org} - useful information",
          "Thanks for choosing {org}.", "About {org}")
ORG_KINDS = ("Library", "Community Centre", "College", "Town Hall", "Sports Centre",
             "Museum", "Health Clinic", "Business Hub", "Dental Practice", "Dental Care",
             "Cycles", "Bike Workshop", "Hotel", "Guest House", "Inn",
             "Undergraduate Office", "Student Services", "Co-working", "Workspace",
             "Kitchen", "Bistro", "Gym", "Fitness", "Medical Centre", "Pharmacy",
             "Bookshop", "Hardware Store", "Leisure Centre")
HEADINGS = {"hours": ("Opening hours", "Hours", "When we are open", "OPENING TIMES",
                      "Opening times"),
            "people": ("People", "Staff", "Who is who", "Our team", "Team"),
            "contacts": ("Phone and email", "Contact", "Contacts", "Get in touch",
                         "CONTACT US"),
            "places": ("Rooms", "Where to find us", "Rooms and floors", "Finding your way"),
            "prices": ("Prices", "Fees", "Price list", "Charges", "Our prices"),
            "events": ("Times", "Daily schedule", "Timetable", "What's on")}


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
    """A time of day in one of many common formats ("9:30", "8.30am", "6pm", "10.00")."""
    minute = rng.choice((0, 0, 0, 30, 30, 15, 45))
    style = rng.random()
    if style < 0.4:
        return f"{hour}:{minute:02d}" if rng.random() < 0.8 else f"{hour:02d}:{minute:02d}"
    if style < 0.5:
        return f"{hour}.{minute:02d}"  # UK style 24 h: "10.00", "16.30"
    suffix = rng.choice(("am", "pm", " am", " pm", " a.m.", " p.m.", "am", "pm"))
    suffix = suffix.replace("a", "p") if hour >= 12 else suffix.replace("p", "a")
    twelve = hour - 12 if hour > 12 else hour
    if minute == 0 and style < 0.8:
        return f"{twelve}{suffix}"
    return f"{twelve}{rng.choice(':.')}{minute:02d}{suffix}"


def make_phone(rng: random.Random) -> str:
    """A phone number in one of several formats (US, UK with spaces, international)."""
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    style = rng.randrange(9)
    if style == 0:
        return f"555-{d(4)}"
    if style == 1:
        return f"({rng.choice(('020', '0161', '0117', '312', '617'))}) {d(3)}{rng.choice('- ')}{d(4)}"
    if style == 2:
        return f"+{rng.choice(('1', '44', '49', '33', '31', '353'))} {d(2)} {d(4)} {d(4)}"
    if style == 3:
        return f"{d(3)}.{d(3)}.{d(4)}"
    if style == 4:
        return f"{d(3)}-{d(3)}-{d(4)}"
    if style == 5:
        return f"020 {d(4)} {d(4)}"
    if style == 6:
        return f"0{rng.choice(('161', '113', '131', '800', '845', '300'))} {d(3)} {d(4)}"
    if style == 7:
        return f"01{d(3)} {d(3)} {d(3)}"
    return f"08{d(1)} {d(3)} {d(4)}"


def make_price(rng: random.Random) -> str:
    """A price such as "$12.50", "€3", "£0.20"."""
    whole = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60,
                        65, 75, 80, 90, 99, 120, 129, 150, 220, 350))
    cents = rng.choice((None, None, 0, 10, 20, 25, 50, 75, 95, 99, 5, 40))
    if whole == 0 and not cents:
        cents = 50
    currency = rng.choice("$$€£££")
    return f"{currency}{whole}" if cents is None else f"{currency}{whole}.{cents:02d}"


def make_room(rng: random.Random) -> str:
    """A room number ("204"), code ("B12", "4B") or dotted code ("G.14", "2.31", "LG.3")."""
    style = rng.random()
    if style < 0.45:
        return str(rng.randrange(1, 10) * 100 + rng.randrange(0, 40))
    if style < 0.65:
        return f"{rng.choice('ABCDEFGHJKLMN')}{rng.randrange(1, 40)}"
    if style < 0.75:
        return f"{rng.randrange(1, 9)}{rng.choice('ABCDEF')}"
    if style < 0.9:
        return f"{rng.choice(('G', 'B', 'LG', 'M', 'A', 'C'))}.{rng.randrange(1, 40):02d}"
    return f"{rng.randrange(1, 6)}.{rng.randrange(1, 40):02d}"


def make_domain(rng: random.Random) -> str:
    """An email domain such as "riverside-library.org"."""
    sep = rng.choice(("-", "", "."))
    return f"{rng.choice(DOMAIN_WORDS)}{sep}{rng.choice(DOMAIN_KINDS)}.{rng.choice(TLDS)}"


def make_email(rng: random.Random, local: str, test: bool) -> str:
    """An email address with a local part derived from a department or a person."""
    if rng.random() < 0.3:
        local = rng.choice(("hello", "info", "enquiries", "contact", "office", "team"))
    local = re.sub(r"[^a-z0-9.]+", rng.choice((".", "", "-")), local.lower()).strip(".-")
    return f"{local}@{sample(rng, make_domain, test)}"


def make_name(rng: random.Random, test: bool) -> str:
    """A full name (sometimes with a title: "Prof. ...") from one side of the split."""
    title = rng.choice(TITLES) if rng.random() < 0.25 else ""
    return f"{title}{rng.choice(pool(FIRST_NAMES, test))} {rng.choice(pool(LAST_NAMES, test))}"


def make_room_name(rng: random.Random, test: bool) -> str:
    """A named room such as "Oak Room" from one side of the split."""
    return f"{rng.choice(pool(ROOM_WORDS, test))} {rng.choice(ROOM_KINDS)}"


def day_range_text(rng: random.Random, first: int, last: int) -> str:
    """"Monday to Friday", "Mon-Fri", "Tuesday through Saturday", "Weekdays"..."""
    if (first, last) == (0, 4) and rng.random() < 0.25:
        return rng.choice(("weekdays", "Weekdays", "every weekday"))
    if (first, last) == (0, 6) and rng.random() < 0.6:
        return rng.choice(("every day", "daily", "7 days a week", "Every day"))
    full = rng.random() < 0.55
    a, b = (DAYS if full else DAY_ABBR)[first], (DAYS if full else DAY_ABBR)[last]
    link = rng.choice((" to ", " - ", "-", " through ", " – ", " to ") if full
                      else ("-", " - ", " to ", "–"))
    return f"{a}{link}{b}"


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
         "The desk opens at {open} on {day} and closes at {close}.",
         "Doors open at {open} on {day} and shut at {close}.",
         "Our {day} hours: {open} to {close}."),
        ("{day}: {open} - {close}", "{day}: {open} to {close}", "{day} {open} - {close}",
         "{day}: {open}-{close}", "{day}s: {open} - {close}", "{day} {open}–{close}")),
    "closed_day": (
        ("On {day} we are {closed}.", "We are {closed} on {day}.",
         "The desk is {closed} on {day}.", "We are {closed} on {day}s.",
         "{day}s: {closed}."),
        ("{day}: {closed}", "{day}: {Closed}", "{day} {closed}", "{day}s: {closed}")),
    "open_range": (
        ("We are open {days} from {open} to {close}.", "Open {days}, {open} to {close}.",
         "{Days} we open at {open} and close at {close}.",
         "Our hours are {open} to {close}, {days}.",
         "The office is open {days} {open}-{close}.",
         "Opening hours are {days} from {open} until {close}.",
         "You can visit us {days} between {open} and {close}.",
         "Doors open at {open} {days} and shut at {close}."),
        ("{Days}: {open} - {close}", "{Days} {open}-{close}", "{Days}: {open} to {close}",
         "{Days} {open} – {close}", "Open {days}, {open}-{close}")),
    "late_day": (  # an exception to a range: "Mon-Fri 9-5; late opening Thursday until 8pm"
        ("Late opening on {day}s until {close}.", "On {day}s we open late, till {close}.",
         "On {day} we stay open until {close}.", "We are open late on {day}, until {close}.",
         "Except {day}, when we close at {close}.", "({day}s: open until {close}.)"),
        ("{day} late opening until {close}", "{day}: late opening until {close}",
         "Late night {day}: until {close}", "{day}: open late, till {close}",
         "except {day} (until {close})")),
    "closed_range": (
        ("We are {closed} {days}.", "{Days} we are {closed}.", "The desk is {closed} {days}."),
        ("{Days}: {closed}", "{Days}: {Closed}", "{Days} {closed}")),
    "person": (
        ("The {role} is {name}.", "Our {role} is {name}.", "{name} is the {role}.",
         "{name} works as our {role}.", "You can ask {name}, our {role}, for help.",
         "{name} is our {role}.", "Our {role}, {name}, is happy to help.",
         "Your {role} will be {name}."),
        ("{Role}: {name}", "{name} ({role})", "{name} - {role}", "{Role} - {name}",
         "{Role} — {name}", "{Role}: {name} — {email}", "{Role}: {name} ({email})",
         "{Role}: {name}, {email}")),
    "phone": (
        ("The {dept} phone number is {phone}.", "You can call {the_dept} at {phone}.",
         "To reach {the_dept}, call {phone}.", "Call {phone} for {the_dept}.",
         "{The_dept} can be reached on {phone}.", "Phone {the_dept} on {phone}.",
         "To {purpose}, please ring {phone}.", "Call {phone} to {purpose}.",
         "If you want to {purpose}, call {the_dept} on {phone}.",
         "Ring {the_dept} on {phone}."),
        ("{Dept}: {phone}", "{Dept} phone: {phone}", "{Dept} - tel. {phone}",
         "{Dept}: tel {phone}", "{Dept} {phone}")),
    "email": (
        ("You can email {the_dept} at {email}.", "The {dept} email address is {email}.",
         "Write to {email} to contact {the_dept}.", "Send an email to {email} for {the_dept}.",
         "{The_dept} can be reached by email at {email}.",
         "Drop {the_dept} a line at {email}."),
        ("{Dept} email: {email}", "{Dept}: {email}", "Email ({dept}): {email}")),
    "place": (
        ("{The_place} is in {room} on the {floor}.",
         "You will find {the_place} in {room}, {floor}.",
         "{The_place} is on the {floor}, {room}.",
         "{The_place} is located in {room} on the {floor}.",
         "Go to {room} on the {floor} for {the_place}.",
         "{The_place} ({room}) is on the {floor}."),
        ("{Place}: {room}, {floor}", "{Place} - {Room} ({floor})", "{Place}: {Room}, {floor}")),
    "price": (
        ("{A_item} costs {price}{unit}.", "{A_item} is {price}{unit}.",
         "The price of {a_item} is {price}{unit}.", "We charge {price}{unit} for {a_item}.",
         "{A_item} will cost you {price}{unit}.", "{A_item} comes to {price}{unit}."),
        ("{Item}: {price}{unit}", "{Item} - {price}{unit}", "{Item} {price}{unit}",
         "{Item} | {price}{unit}")),
    "event": (
        ("{The_event} is at {time}.", "{The_event} starts at {time}.",
         "{The_event} from {time}.", "{The_event} by {time}.",
         "Please note {the_event} is at {time}."),
        ("{Event}: {time}", "{Event} - {time}", "{Event} from {time}", "{Event}: from {time}",
         "{Event}: by {time}", "{Event}: before {time}", "{Event} no later than {time}")),
    "event_span": (
        ("{The_event} is from {start} to {end}.", "{The_event} runs from {start} until {end}.",
         "{The_event} is served from {start} to {end}.",
         "{The_event} takes place between {start} and {end}."),
        ("{Event}: {start} - {end}", "{Event} {start}-{end}", "{Event}: {start} to {end}")),
}

# Question templates per intent: (training templates, held-out templates).
QUESTION_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hours.open": (
        ("When do you open on {day}?", "What time do you open on {day}?",
         "What time does the desk open on {day}?", "What time does the desk open {day}s?",
         "When does the desk open on {day}?", "At what time do you open on {day}?",
         "What is the opening time on {day}?", "When do you start on {day}?",
         "What time do your doors open on {day}?", "What time does the office open on {day}?",
         "When does the shop open on {day}?", "What time does the library open on {day}?",
         "What time do you open {day}?", "When are you open from on {day}?",
         "What time can I come in on {day}?", "When does reception open on {day}?"),
        ("How early are you open on {day}?", "When do the doors open on {day}?",
         "What time does it open on {day}?")),
    "hours.close": (
        ("When do you close on {day}?", "What time do you close on {day}?",
         "What time does the desk close on {day}?", "When does the desk close {day}s?",
         "What is the closing time on {day}?", "Until when are you open on {day}?",
         "How late are you open on {day}?", "When do you shut on {day}?",
         "What time does the office close on {day}?", "When does the shop close on {day}?",
         "What time do you close {day}?", "Until what time are you open on {day}?",
         "When does the library close on {day}?", "What time do you finish on {day}?"),
        ("Until what time can I come on {day}?", "How late can I come in on {day}?",
         "When do the doors close on {day}?")),
    "hours.span": (
        ("What are your hours on {day}?", "What are the opening hours on {day}?",
         "When are you open on {day}?", "Are you open on {day}?",
         "What are the desk's hours on {day}?", "What hours is the desk open on {day}?",
         "When can I visit on {day}?", "What are your opening times on {day}?",
         "Are you open {day}?", "What are the hours for {day}?",
         "Tell me the opening hours for {day}."),
        ("What are {day}'s opening times?", "Tell me the hours for {day}.",
         "Is the office open on {day}?")),
    "person.who": (
        ("Who is the {role}?", "Who's the {role}?", "What is the name of the {role}?",
         "Who is your {role}?", "Who works as the {role}?", "Can you tell me who the {role} is?",
         "What's the {role}'s name?", "Who is our {role}?", "Which person is the {role}?",
         "Who should I ask for the {role}?", "Who is the {role} here?",
         "Do you know who the {role} is?"),
        ("Who is the current {role}?", "Who do you have as {role}?",
         "Could you tell me the {role}'s name?")),
    "person.role": (
        ("What does {name} do?", "What is {name}'s job?", "What is the role of {name}?",
         "What is {name}'s role?", "Who is {name}?", "What position does {name} have?",
         "What is {name}'s job title?"),
        ("What is {name}'s position?", "What job does {name} do?")),
    "dept.phone": (
        ("What's the phone number of {the_dept}?", "What is the phone number for {the_dept}?",
         "How do I call {the_dept}?", "What number do I call for {the_dept}?",
         "What's the {dept} phone number?", "How can I reach {the_dept} by phone?",
         "Phone number of {the_dept}?", "What number do I ring to {purpose}?",
         "Which number do I call to {purpose}?", "What number should I call to {purpose}?",
         "Who do I ring to {purpose}?", "What's the number to {purpose}?",
         "Which number should I dial for {the_dept}?", "What is the {dept} number?",
         "How do I phone {the_dept}?", "What's the telephone number for {the_dept}?"),
        ("Could you give me the telephone number of {the_dept}?",
         "What number can I ring to {purpose}?", "How can I get hold of {the_dept}?")),
    "dept.email": (
        ("What is the email of {the_dept}?", "What's the {dept} email address?",
         "How can I email {the_dept}?", "What is the email address for {the_dept}?",
         "Where do I send an email for {the_dept}?", "How do I contact {the_dept} by email?",
         "What's the e-mail of {the_dept}?", "What address do I email for {the_dept}?",
         "Email address of {the_dept}?"),
        ("Which address do I write to for {the_dept}?",
         "What email should I use for {the_dept}?")),
    "place.room": (
        ("Where is {the_place}?", "Which room is {the_place} in?", "Where can I find {the_place}?",
         "What room is {the_place}?", "In which room is {the_place}?", "Where's {the_place}?",
         "What is the room number of {the_place}?", "Which room holds {the_place}?",
         "Where do I find {the_place}?"),
        ("How do I get to {the_place}?", "What's the room for {the_place}?")),
    "place.floor": (
        ("What floor is {the_place} on?", "Which floor is {the_place} on?",
         "On which floor is {the_place}?", "What floor do I go to for {the_place}?",
         "Which level is {the_place} on?", "What level is {the_place} on?"),
        ("On what floor can I find {the_place}?", "Which storey is {the_place} on?")),
    "room.floor": (
        ("Where is {room}?", "Which floor is {room} on?", "What floor is {room} on?",
         "Where can I find {room}?", "On which floor is {room}?"),
        ("How do I find {room}?", "Which level is {room} on?")),
    "item.price": (
        ("How much does {a_item} cost?", "How much is {a_item}?", "What's the price of {a_item}?",
         "What does {a_item} cost?", "What is the cost of {a_item}?",
         "How much do you charge for {a_item}?", "What do I pay for {a_item}?",
         "Price of {a_item}?", "How much is it for {a_item}?", "How much are you for {a_item}?",
         "What is the charge for {a_item}?", "How much would {a_item} be?",
         "How much does it cost to get {a_item}?"),
        ("How expensive is {a_item}?", "What will {a_item} cost me?",
         "What's the fee for {a_item}?")),
    "event.time": (
        ("What time is {the_event}?", "When is {the_event}?", "At what time is {the_event}?",
         "When's {the_event}?", "What time is {the_event} at?"),
        ("Tell me when {the_event} is.", "What are the times for {the_event}?")),
    "event.start": (
        ("When does {the_event} start?", "What time does {the_event} begin?",
         "What time does {the_event} start?", "When does {the_event} begin?"),
        ("From what time is {the_event}?", "How early is {the_event}?")),
    "event.end": (
        ("When does {the_event} end?", "What time does {the_event} finish?",
         "Until when is {the_event}?", "When does {the_event} finish?"),
        ("How late is {the_event}?", "Until what time is {the_event}?")),
}
# Templates that name no key: asked only when the context holds a single fact of the kind.
GENERIC_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hours.open": (("What time do you open?", "When do you open?",
                    "What time does the front desk open?", "When does the office open?"),
                   ("What are your opening times?",)),
    "hours.close": (("What time do you close?", "When do you close?",
                     "When does the front desk close?", "Until when are you open?"),
                    ("How late are you open?",)),
    "dept.phone": (("What is your phone number?", "What number can I call?",
                    "How can I call you?", "What's your number?", "What is the phone number?"),
                   ("How do I reach you by phone?",)),
    "dept.email": (("What is your email address?", "What's the email address?",
                    "How can I email you?", "What is the email?"),
                   ("Where can I write to you?",)),
}
# intent -> (block, fact kinds it can ask about, answer slots (first, last) per kind)
INTENTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "hours.open": ("hours", {"open_day": ("open", "open"), "closed_day": ("closed", "closed"),
                             "open_range": ("open", "open"),
                             "closed_range": ("closed", "closed")}),
    "hours.close": ("hours", {"open_day": ("close", "close"), "late_day": ("close", "close"),
                              "closed_day": ("closed", "closed"),
                              "open_range": ("close", "close"),
                              "closed_range": ("closed", "closed")}),
    "hours.span": ("hours", {"open_day": ("open", "close"), "closed_day": ("closed", "closed"),
                             "open_range": ("open", "close"),
                             "closed_range": ("closed", "closed")}),
    "person.who": ("people", {"person": ("name", "name")}),
    "person.role": ("people", {"person": ("role", "role")}),
    "dept.phone": ("contacts", {"phone": ("phone", "phone")}),
    "dept.email": ("contacts", {"email": ("email", "email")}),
    "place.room": ("places", {"place": ("room", "room")}),
    "place.floor": ("places", {"place": ("floor", "floor")}),
    "room.floor": ("places", {"place": ("floor", "floor")}),
    "item.price": ("prices", {"price": ("price", "price")}),
    "event.time": ("events", {"event": ("time", "time"), "event_span": ("start", "end")}),
    "event.start": ("events", {"event_span": ("start", "start")}),
    "event.end": ("events", {"event_span": ("end", "end")}),
}
BLOCKS: tuple[str, ...] = ("hours", "people", "contacts", "places", "prices", "events")
# The slot that says which fact a question is about: a question about a key the context
# lacks (a role nobody holds, an item with no price) is unanswerable.
KEY_SLOT = {"person.who": "role", "person.role": "name", "dept.phone": "dept",
            "dept.email": "dept", "place.room": "place", "place.floor": "place",
            "room.floor": "room", "item.price": "item", "event.time": "event",
            "event.start": "event", "event.end": "event"}
UNANSWERABLE_SHARE = 0.25
# Questions no desk notice of ours answers with a span (yes/no, policies, things not
# listed). (training, held-out); `topic` words: skipped when the context mentions them.
OFF_TOPIC = (
    ("Do you have wifi?", "Can I bring my dog?",
     "Do you sell gift cards?", "Is there a lift?", "Do you accept cash?",
     "Is there a car park?", "Can I pay by card?", "Do you have a toilet?",
     "Is the building wheelchair accessible?", "Can I eat inside?", "Do you deliver?",
     "Are children allowed?", "Do I need to book?", "Is there a waiting list?",
     "What is the wifi password?", "Do you do home visits?", "Can I park outside?",
     "Is there a cash machine?", "Do you have lockers?", "Can I smoke here?",
     "Do you offer refunds?", "Is breakfast included?", "Do you take walk-ins?",
     "Can I get a receipt?", "Do you have vegetarian options?", "Is there a dress code?",
     "Do you repair laptops?", "Is there a gym?",
     "Can I print here?", "What is the weather like?",
     "Who won the match last night?", "How old is the building?", "Can I bring a friend?",
     "Do you accept NHS patients?", "Is there free parking?", "Do you open on holidays?",
     "When is the next bus?", "Where is the nearest station?", "Do you have a loyalty card?",
     "Can I cancel online?", "What is your refund policy?", "Do you sell stamps?",
     "Are pets allowed?", "Can I book online?",
     "Is there a cafe nearby?", "How do I join the book club?", "Is there a senior discount?",
     "Who founded the company?", "What is the best dish on the menu?",
     "Can I hire a bike for a week?"),
    ("Do you have a fax number?", "Can I bring my children?", "Do you offer gift vouchers?",
     "Is the car park free at weekends?", "Is there a family discount?",
     "Do you have charging points?", "Can I leave my luggage?", "Is there a baby changing room?",
     "Do you have a hearing loop?", "Can I pay in instalments?"),
)
OFF_TOPIC_WORDS = ("wifi", "dog", "pets", "lift", "cash", "card", "car park", "parking",
                   "children", "book", "refund", "breakfast", "discount", "student",
                   "coffee", "pool", "gym", "print")


@dataclass(frozen=True)
class Example:
    """One question about one context; ``answer == context[start:start + len(answer)]``.

    An unanswerable question has ``answer == ""`` and ``start == -1``.
    """

    question: str
    context: str
    answer: str
    start: int
    intent: str
    template: str

    @property
    def answerable(self) -> bool:
        """Whether the context holds the answer."""
        return self.start >= 0


@dataclass
class Fact:
    """One fact of a context: its kind, slot values, the days it covers (hours) and,
    once placed, slot spans."""

    kind: str
    values: dict[str, str]
    spans: dict[str, tuple[int, int]] | None = None
    days: tuple[str, ...] = ()
    close_hour: int = -1  # hours facts: the closing hour, so an exception can be later


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
    """Opening hours: one line per day, or day ranges ("Mon-Fri 9am-5pm") plus singles."""
    if rng.random() < 0.5:
        days = sorted(rng.sample(range(7), rng.randint(2, 7)))
        return [day_fact(rng, test, (d,)) for d in days]
    first = rng.choice((0, 0, 0, 1))
    last = rng.choice((3, 4, 4, 4, 5)) if rng.random() < 0.85 else 6
    facts = [day_fact(rng, test, tuple(range(first, last + 1)), closed_ok=False)]
    if last - first >= 2 and facts[0].close_hour <= 21 and rng.random() < 0.3:
        facts.append(late_day_fact(rng, test, facts[0], rng.randint(first + 1, last)))
    rest = [d for d in range(7) if not first <= d <= last]
    if rest and rng.random() < 0.4:  # "Saturday and Sunday: closed"
        facts.append(Fact("closed_range", {"days": " and ".join(DAYS[d] for d in rest[:2]),
                                           "closed": "closed"}, days=tuple(DAYS[d] for d in rest[:2])))
        rest = rest[2:]
    facts += [day_fact(rng, test, (d,)) for d in rest if rng.random() < 0.8]
    return facts


def day_fact(rng: random.Random, test: bool, days: tuple[int, ...],
             closed_ok: bool = True) -> Fact:
    """Open/close times (or closed) for one day or a range of days."""
    names = tuple(DAYS[d] for d in days)
    if closed_ok and rng.random() < (0.5 if days[-1] >= 5 else 0.12):
        return Fact("closed_day", {"day": names[0], "closed": "closed"}, days=names)
    opening = rng.randint(6, 11)
    closing = rng.randint(max(opening + 3, 12), 22)
    values = {"open": sample(rng, lambda r: make_time(r, opening), test),
              "close": sample(rng, lambda r: make_time(r, closing), test)}
    if len(days) == 1:
        return Fact("open_day", {"day": names[0], **values}, days=names, close_hour=closing)
    return Fact("open_range", {"days": day_range_text(rng, days[0], days[-1]), **values},
                days=names, close_hour=closing)


def late_day_fact(rng: random.Random, test: bool, span: Fact, day: int) -> Fact:
    """A day of `span` (a range) that closes one to three hours later than the rest ("late
    opening on Thursdays until 8pm"); the range no longer answers for that day."""
    span.days = tuple(d for d in span.days if d != DAYS[day])
    closing = rng.randint(span.close_hour + 1, min(span.close_hour + 3, 22))
    return Fact("late_day", {"day": DAYS[day],
                             "close": sample(rng, lambda r: make_time(r, closing), test)},
                days=(DAYS[day],), close_hour=closing)


def people_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Distinct roles held by distinct people."""
    roles = rng.sample(ROLES, rng.randint(1, 5))
    names: list[str] = []
    while len(names) < len(roles):
        name = make_name(rng, test)
        if name not in names:
            names.append(name)
    return [Fact("person", {"role": r, "name": n, "email": make_email(rng, n.split()[-2], test)})
            for r, n in zip(roles, names)]


def contact_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Phone numbers and emails of distinct departments."""
    facts = []
    for dept, article, purposes in rng.sample(DEPARTMENTS, rng.randint(1, 5)):
        base = {"dept": dept, "the_dept": with_article(article, dept),
                "purpose": rng.choice(purposes)}
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
        named = rng.random() < 0.4
        place = make_room_name(rng, test) if named else rng.choice(FACILITIES)
        room = sample(rng, make_room, test)
        if place in places or room in rooms:
            continue
        places.add(place)
        rooms.add(room)
        facts.append(Fact("place", {"place": place, "the_place": f"the {place}",
                                    "room": f"{rng.choice(('room', 'room', 'Room', 'unit'))} {room}",
                                    "floor": rng.choice(FLOORS)}))
    return facts


def price_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Prices of distinct items."""
    facts = []
    for item, article, unit in rng.sample(ITEMS, rng.randint(1, 6)):
        facts.append(Fact("price", {"item": item, "a_item": with_article(article, item),
                                    "unit": unit, "price": sample(rng, make_price, test)}))
    return facts


def event_facts(rng: random.Random, test: bool) -> list[Fact]:
    """Times of the day's events (check-in at 3pm, breakfast from 7:00 to 10:30)."""
    facts = []
    for event, article in rng.sample(EVENTS, rng.randint(1, 4)):
        start = rng.randint(6, 19)
        base = {"event": event, "the_event": with_article(article, event)}
        if rng.random() < 0.5:
            time = sample(rng, lambda r: make_time(r, start), test)
            facts.append(Fact("event", {**base, "time": time}))
            continue
        end = min(23, start + rng.randint(1, 4))
        facts.append(Fact("event_span", {**base,
                                         "start": sample(rng, lambda r: make_time(r, start), test),
                                         "end": sample(rng, lambda r: make_time(r, end), test)}))
    return facts


BLOCK_FACTS: dict[str, Callable[[random.Random, bool], list[Fact]]] = {
    "hours": hours_facts, "people": people_facts, "contacts": contact_facts,
    "places": place_facts, "prices": price_facts, "events": event_facts,
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
    # lists on one line with "|" or ";" or ". " between items, as on small shop notices
    sep = rng.choice(("\n", "\n", "\n", " | ", "; ", ". ")) if as_list else \
        ("\n" if rng.random() < 0.4 else " ")
    # A block mostly repeats one or two sentence shapes, as real notices do.
    chosen = {k: rng.sample(FACT_TEMPLATES[k][as_list], min(2, len(FACT_TEMPLATES[k][as_list])))
              for k in sorted({f.kind for f in facts})}
    for i, fact in enumerate(facts):
        if i:
            builder.add(sep)
        builder.add_fact(fact, rng.choice(chosen[fact.kind]))
    if as_list and sep != "\n" and rng.random() < 0.5:
        builder.add(".")
    return as_list


def build_context(rng: random.Random, need: str, test: bool) -> ContextBuilder:
    """A context with the block `need` and some other blocks, fillers and an intro."""
    full = rng.random() < 0.2  # a whole desk notice like context.txt
    others = [b for b in BLOCKS if b != need]
    blocks = others if full else rng.sample(others, rng.randint(0, 3))
    blocks = [need] + blocks
    rng.shuffle(blocks)
    if "hours" in blocks and rng.random() < 0.6:  # notices usually start with the hours
        blocks.remove("hours")
        blocks.insert(0, "hours")
    builder = ContextBuilder()
    if rng.random() < 0.6:
        org = f"{rng.choice(DOMAIN_WORDS).capitalize()} {rng.choice(ORG_KINDS)}"
        intro = rng.choice(INTROS).format(org=org)
        builder.add(intro.upper() if rng.random() < 0.1 else intro)
        builder.add(rng.choice(("\n\n", " ", "\n")))
    after_list = False
    for i, block in enumerate(blocks):
        if i:  # a list line is never followed by more text on the same line
            builder.add(rng.choice(("\n\n", "\n") if after_list else ("\n\n", "\n", " ")))
        if rng.random() < 0.25:
            builder.add(rng.choice(FILLERS) + rng.choice((" ", "\n")))
        after_list = add_block(builder, rng, block, BLOCK_FACTS[block](rng, test))
    return builder


# ---------------------------------------------------------------- questions
_COURTESY = ("Hi, ", "Hello! ", "Excuse me, ", "Sorry, ", "Quick question: ", "Hey, ",
             "Good morning, ", "Could you tell me: ")


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


def question_values(rng: random.Random, fact: Fact) -> dict[str, str]:
    """Slot values a question template may use for `fact` (a range: one of its days;
    a department: sometimes another reason to call it)."""
    values = dict(fact.values)
    if fact.days:
        values["day"] = rng.choice(fact.days)
    if "purpose" in values:
        purposes = next(p for d, _, p in DEPARTMENTS if d == values["dept"])
        values["purpose"] = rng.choice(purposes)
    return values


def pick_template(rng: random.Random, intent: str, test_templates: bool,
                  generic_ok: bool) -> tuple[str, str]:
    """(template, id): generic ones ("What is your phone number?") only when allowed."""
    if generic_ok and intent in GENERIC_TEMPLATES and rng.random() < 0.4:
        templates, kind = GENERIC_TEMPLATES[intent][int(test_templates)], "generic"
    else:
        templates, kind = QUESTION_TEMPLATES[intent][int(test_templates)], "key"
    index = rng.randrange(len(templates))
    split = "test" if test_templates else "train"
    return templates[index], f"{intent}/{split}/{kind}{index}"


def make_example(rng: random.Random, split: str) -> Example:
    """One example of `split` (see the module docstring)."""
    test_values = split in ("test_values", "test_both")
    test_templates = split in ("test_templates", "test_both")
    if rng.random() < UNANSWERABLE_SHARE:
        return unanswerable_example(rng, test_values, test_templates)
    intent = rng.choice(tuple(INTENTS))
    block, answer_slots = INTENTS[intent]
    while True:
        builder = build_context(rng, block, test_values)
        candidates = [f for f in builder.facts if f.kind in answer_slots]
        if candidates:
            break
    fact = rng.choice(candidates)
    same_kind = [f for f in builder.facts if INTENTS[intent][0] == block and
                 f.kind in answer_slots and f.kind not in ("closed_day", "closed_range")]
    generic_ok = len(same_kind) == 1 and fact is same_kind[0] and intent in GENERIC_TEMPLATES \
        and (not fact.days or len(builder_days(builder)) == len(fact.days))
    template, template_id = pick_template(rng, intent, test_templates, generic_ok)
    question, _ = render(template, question_values(rng, fact))
    first, last = answer_slots[fact.kind]
    start, end = fact.spans[first][0], fact.spans[last][1]
    context = builder.text()
    return Example(noisy(rng, question), context, context[start:end], start, intent, template_id)


def builder_days(builder: ContextBuilder) -> set[str]:
    """Every day some hours fact of the context covers."""
    return {d for f in builder.facts for d in f.days}


def unanswerable_example(rng: random.Random, test_values: bool,
                         test_templates: bool) -> Example:
    """A question the context cannot answer: about a key it lacks (a day it does not
    list, a role nobody holds, an item with no price, often next to similar ones), or a
    question off the desk's topics."""
    split = "test" if test_templates else "train"
    if rng.random() < 0.3:
        questions = OFF_TOPIC[int(test_templates)]
        while True:
            builder = build_context(rng, rng.choice(BLOCKS), test_values)
            index = rng.randrange(len(questions))
            text = builder.text().lower()
            if not any(w in text and w in questions[index].lower() for w in OFF_TOPIC_WORDS):
                break
        return Example(noisy(rng, questions[index]), builder.text(), "", -1, "none",
                       f"none/{split}/offtopic{index}")
    intent = rng.choice(tuple(INTENTS))
    block, answer_slots = INTENTS[intent]
    while True:
        builder = build_context(rng, block, test_values)
        phantom = phantom_fact(rng, builder, intent, test_values)
        if phantom is not None:
            break
    template, template_id = pick_template(rng, intent, test_templates, False)
    question, _ = render(template, question_values(rng, phantom))
    return Example(noisy(rng, question), builder.text(), "", -1, "none",
                   template_id.replace(intent, f"none:{intent}", 1))


def phantom_fact(rng: random.Random, builder: ContextBuilder, intent: str,
                 test: bool) -> Fact | None:
    """A fact of the intent's kind whose key the context does not hold (None: no luck)."""
    block, answer_slots = INTENTS[intent]
    if block == "hours":
        free = [d for d in DAYS if d not in builder_days(builder)]
        if not free or not any(f.days for f in builder.facts):
            return None  # "open on Sunday?" needs hours of other days to be a fair trap
        return Fact("open_day", {"day": rng.choice(free), "open": "", "close": ""},
                    days=(rng.choice(free),))
    key = KEY_SLOT[intent]
    present = {f.values.get(key, "").lower() for f in builder.facts}
    present |= {f.values.get("purpose", "").lower() for f in builder.facts}
    for fact in BLOCK_FACTS[block](rng, test):
        if fact.kind in answer_slots and fact.values[key].lower() not in present:
            if "purpose" in fact.values and fact.values["purpose"].lower() in present:
                continue
            return fact
    return None


def generate(n: int, split: str = "train", seed: int = DEFAULT_SEED) -> list[Example]:
    """`n` examples of `split`; the same (n, split, seed) always gives the same list."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    rng = random.Random(f"{seed}/{split}")
    return [make_example(rng, split) for _ in range(n)]


EVAL_DIR = Path(__file__).resolve().parent / "eval"
RUN_WORDS = 6  # a training notice may share no run this long with an evaluation notice


def word_runs(text: str, n: int = RUN_WORDS) -> set[tuple[str, ...]]:
    """Every run of n lower-case words (letters and digits) of a text."""
    words_ = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words_[i:i + n]) for i in range(len(words_) - n + 1)}


def evaluation_runs(paths: list[Path] | None = None) -> set[tuple[str, ...]]:
    """The word runs of every context of the evaluation sets (default: eval/*.json)."""
    runs: set[tuple[str, ...]] = set()
    for path in paths if paths is not None else sorted(EVAL_DIR.glob("*.json")):
        for notice in json.loads(path.read_text(encoding="utf-8"))["contexts"]:
            runs |= word_runs(notice["context"])
    return runs


def written_examples() -> list[Example]:
    """The questions of the written training notices (trainsets/written_*.json), in file
    order: ``{"contexts": [{"name", "context", "questions": [[q, answer|null, start]]}]}``.

    Why: however many templates the generator has, real notices are written in more ways
    than it knows; these notices were written apart from it (see MODEL.md). A question
    whose answer is not at its offset, or is not a whole-token span, is skipped."""
    out = []
    for path in sorted(TRAINSETS.glob("written_*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for c, notice in enumerate(document["contexts"]):
            for q, (question, answer, start) in enumerate(notice["questions"]):
                example = written_example(notice["context"], question, answer, start,
                                          f"written/{path.stem}/{c}/{q}")
                if example is not None:
                    out.append(example)
    return out


def written_example(context: str, question: str, answer: str | None, start: int,
                    template: str) -> Example | None:
    """One written question as an Example, or None when its span does not check out."""
    if answer is None:
        return Example(question, context, "", -1, "none", template)
    if context[start:start + len(answer)] != answer:
        return None
    example = Example(question, context, answer, start, "written", template)
    try:
        answer_token_span(example)
    except ValueError:
        return None
    return example


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
