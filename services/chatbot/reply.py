"""The reply sentence: the answer span said back as a short sentence, or an abstention.

    reply("When do you open on Monday?", "9:00")   # "We open at 9:00 on Monday."
    reply("Who is the manager?", "Maria Lopez")     # "Maria Lopez is the manager."
    reply("Is there a discount for students?", None)  # NO_ANSWER

The sentence is built from the question's form (what it asks and about what) and the
exact answer span, with a few templates; it states nothing that is not in the span or
the question, so it cannot invent a fact. NumPy-free and TensorFlow-free (pure text).
"""

from __future__ import annotations

import re

from services.chatbot.tokenizer import DAY_NAMES, match_key, shape, words

NO_ANSWER = ("Sorry, I can't find that in the information I have. "
             "Please ask a member of staff.")
_COURTESY = re.compile(r"^(?:hi|hello|hey|excuse me|sorry|good (?:morning|afternoon|evening)"
                       r"|quick question|could you tell me|please)\b[\s,!:.]*", re.I)
_WE = re.compile(r"\b(?:you|your|desk|office|shop|library|reception|doors|front desk|store|"
                 r"practice|surgery|workshop|centre|center|it)\b", re.I)
_CLOSE = re.compile(r"\b(?:close|closing|shut|until|till|late|finish|end|ends)\b", re.I)
_OPEN = re.compile(r"\b(?:open|opening|start|starts|begin|begins|early|from)\b", re.I)
_SUBJECT_TIME = re.compile(r"^(?:when|what time|at what time)(?: does| do| is|'s| are)? "
                           r"(?P<s>.+?)(?: (?:open|close|start|begin|finish|end|shut))?"
                           r"(?: at)?$", re.I)
_PRICE_HEAD = re.compile(r"^(?:how much (?:is it for|does it cost to get|does it cost to|is it to|do you charge for|"
                         r"are you for|would|will|is|does|do|are)|what(?:'s| is) the "
                         r"(?:price|cost|charge|fee) (?:of|for)|what do i pay for|what does|"
                         r"what will|price of|how expensive is)\s+", re.I)
_PRICE_TAIL = re.compile(r"\s+(?:cost(?: me)?|be)$", re.I)
_SUBJECT_PLACE = re.compile(r"^(?:where(?: is|'s| are| can i find| do i find)"
                            r"|(?:which|what|in which) (?:room|floor|level|storey) (?:is|holds)"
                            r"|how do i (?:get to|find)"
                            r"|on (?:which|what) floor (?:is|can i find))"
                            r" (?P<s>.+?)(?: (?:in|on))?$", re.I)
_ROLE = re.compile(r"^(?:who(?: is|'s)|what is the name of|which person is|"
                   r"can you tell me who|do you know who)(?: (?P<det>the|your|our|my))? (?P<r>.+?)"
                   r"(?: is| here)?$", re.I)
_PERSON = re.compile(r"^(?:what does|what is|who is|what position does|what job does)"
                     r" (?P<n>.+?)(?:'s (?:job|role|position|job title)| do| have)?$", re.I)
# The verbs a duration question may end with, and each in the third person, after "does":
# "How long does it last?" -> "lasts". The pattern below is built from these keys.
_THIRD_PERSON = {"take": "takes", "last": "lasts", "run": "runs", "go on for": "goes on for"}
_DURATION = re.compile(r"^how long(?: (?P<v>does|do|will|is|are)|'s) (?P<s>.+?)"
                       rf"(?: (?P<verb>{'|'.join(_THIRD_PERSON)}))?(?: for)?$", re.I)
_NOT_A_SUBJECT = re.compile(r"^(?:i|we|you)\b|\b(?:be|need|needs|have|has|take|takes|last|lasts|runs|goes|"
                            r"open|closed|on)\b|[?!]", re.I)
_YOURS = {"my": "your", "me": "you", "with us": "with you"}
_BRING = re.compile(r"^what (?P<modal>do|should|must|shall) (?:i|we) (?:need to |have to )?bring"
                    r"(?P<rest>(?: with (?:me|us))?(?: (?:to|for) .+)?)$", re.I)
_PURPOSE = re.compile(r"\bto (?!reach\b|call\b|ring\b)(?P<p>.+)$", re.I)
_DEPT = (re.compile(r"^what(?:'s| is) (?P<d>the (?!phone\b|telephone\b).+?) (?:phone |telephone )?number$", re.I),
         re.compile(r"\b(?:for|of) (?P<d>.+?)(?: by phone)?$", re.I),
         re.compile(r"\b(?:call|ring|phone|reach|get hold of) (?!number\b)(?P<d>.+?)(?: by phone)?$", re.I))


def reply(question: str, answer: str | None) -> str:
    """A sentence to say or show: the answer in a short sentence, or :data:`NO_ANSWER`."""
    if not answer or not answer.strip():
        return NO_ANSWER
    q = _clean(question)
    kinds = {shape(t) for t in words(answer)}
    for test, build in _RULES:
        if test(q, answer, kinds):
            text = build(q, answer)
            if text:
                return _sentence(text)
    return _sentence(f"The answer is {answer}")


def _clean(question: str) -> str:
    """The question without greetings, "please" and the final punctuation."""
    q = " ".join(question.split())  # one space between words: no runs for the regexes
    while True:
        cut = _COURTESY.sub("", q)
        if cut == q:
            break
        q = cut
    q = re.sub(r"[,\s]*(?:please|thanks|thank you)?[?.!\s]*$", "", q, flags=re.I)
    return q.strip()


def _day(q: str) -> str:
    """" on Monday" when the question names a day, else ""."""
    for word in words(q):
        key = match_key(word)
        if key in DAY_NAMES:
            return f" on {key.capitalize()}"
    return ""


def _the(phrase: str) -> str:
    """A subject phrase as it starts a sentence ("the Oak Room" -> "The Oak Room")."""
    return phrase[:1].upper() + phrase[1:]


def _hours(q: str, a: str) -> str:
    day = _day(q)
    if a.lower() == "closed":
        return f"We are closed{day or ' then'}"
    subject = _SUBJECT_TIME.match(q)
    who = subject.group("s") if subject else ""
    we = not who or _WE.search(who) or who.lower().startswith(("i ", "we "))
    if _CLOSE.search(q):
        return f"We close at {a}{day}" if we else f"{_the(who)} ends at {a}"
    if _OPEN.search(q) and not _is_range(a):
        return f"We open at {a}{day}" if we else f"{_the(who)} starts at {a}"
    if _is_range(a):
        return f"We are open {a}{day}" if we else f"{_the(who)} is {a}"
    return f"{_the(who)} is at {a}" if who and not we else f"It is at {a}{day}"


def _is_range(a: str) -> bool:
    return len([t for t in words(a) if shape(t) in ("time", "number")]) >= 2


def _price(q: str, a: str) -> str:
    subject, n = _PRICE_HEAD.subn("", q)
    subject = _PRICE_TAIL.sub("", subject)
    if n and re.match(r"how much (?:does it cost|is it) to ", q, re.I):
        return f"It costs {a} to {subject}"
    return f"{_the(subject)} costs {a}" if n and subject else f"It costs {a}"


def _phone(q: str, a: str) -> str:
    purpose = _PURPOSE.search(q)
    if purpose:  # "... to move my appointment" -> "... to move your appointment"
        return f"You can call {a} to " + re.sub(r"\bmy\b", "your", purpose.group("p"),
                                                 flags=re.I)
    for pattern in _DEPT:
        m = pattern.search(q)
        if m:
            return f"You can call {m.group('d')} on {a}"
    return f"You can call {a}"


def _place(q: str, a: str) -> str:
    m = _SUBJECT_PLACE.match(q)
    subject = _the(m.group("s")) if m else "It"
    floor = re.search(r"\b(?:floor|level|basement|mezzanine|storey)\b", a, re.I)
    if floor:
        article = "" if re.match(r"(?:the |level )", a, re.I) else "the "
        return f"{subject} is on {article}{a}"
    return f"{subject} is in {a}"


def _person(q: str, a: str) -> str:
    m = _ROLE.match(q)
    # "Who is Dr. Silva?" answered by a name: "Dr. Ana Silva is the Dr. Silva" says nothing;
    # "Who is the Practice Manager?" has a determiner, so its capitals are a role's
    if not m or (not m.group("det") and _is_name(m.group("r"))):
        return f"It's {a}"
    determiner = "your " if (m.group("det") or "").lower() == "my" else _article(m.group("r"))
    return f"{a} is {determiner}{m.group('r')}"


def _role(q: str, a: str) -> str:
    m = _PERSON.match(q)  # "What does Tom Becker do?": only about a person's name
    return f"{m.group('n')} is {_article(a)}{a}" if m and _is_name(m.group("n")) else ""


def _duration(q: str, a: str) -> str:
    """"How long does a check-up take?" -> "A check-up takes 40 minutes"; "How long is
    the notice period?" -> "The notice period is 4 weeks"; "How long does it take to
    cut a key?" -> "It takes 5 mins to cut a key"."""
    m = _DURATION.match(q)
    subject, rest = _split_verb(m.group("s"))
    if _NOT_A_SUBJECT.search(subject):
        return ""  # "How long do I have to cancel?", "How long will my dog be there?"
    valid = re.match(r"(?P<s>.+) (?P<adj>valid|available)$", subject)
    subject = _the(_your(valid.group("s") if valid else subject))
    verb = _duration_verb(m.group("v"), m.group("verb") or ("take" if rest else None))
    if valid and verb in ("is", "are"):  # "How long is a return ticket valid for?"
        return f"{subject} {verb} {valid.group('adj')} for {a}"
    return f"{subject} {verb} {a}{_your(rest)}"


def _duration_verb(auxiliary: str | None, verb: str | None) -> str:
    """The question's own verb said of the subject: ("does", "last") -> "lasts"."""
    aux = (auxiliary or "is").casefold()  # casefold: "doeſ" -> "does"
    if aux not in ("does", "do", "will"):  # "is", "are", "'s", or a casefold oddity ("wi̇ll")
        return "are" if aux == "are" else "is"
    verb = (verb or "take").casefold()  # one of _THIRD_PERSON's keys: the pattern says so
    if aux == "does":
        return _THIRD_PERSON[verb]
    return f"will {verb}" if aux == "will" else verb


def _split_verb(phrase: str) -> tuple[str, str]:
    """"it take to cut a key" -> ("it", " to cut a key"): the subject, and what follows
    its verb."""
    parts = re.split(r"\s(?:take|takes)(?=\sto\s)", phrase, maxsplit=1, flags=re.I)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _bring(q: str, a: str) -> str:
    """"What do I need to bring to join?" -> "You need to bring proof of address to join";
    "What should I bring?" -> "You should bring …"."""
    m = _BRING.match(q)
    if re.search(r"[?!]", m.group("rest")):
        return ""  # a second question after the first: say only the answer
    modal = "should" if m.group("modal").casefold() == "should" else "need to"
    return f"You {modal} bring {a}{_your(m.group('rest'))}"


def _your(phrase: str) -> str:
    """The visitor's words turned to the desk's: "my" -> "your", "me" -> "you"."""
    return re.sub(r"\b(?:my|me|with us)\b", lambda m: _YOURS.get(m.group().casefold(), "you"),
                  phrase, flags=re.I)


def _article(phrase: str) -> str:
    """"the " before a role, unless the span brings its own ("our hygienist")."""
    return "" if _DETERMINER.match(phrase) else "the "


def _is_name(a: str) -> bool:
    return all(shape(t) in ("capital", "title", "upper") for t in words(a))


_DETERMINER = re.compile(r"(?:the|a|an|our|your|my|their|his|her|its)\s", re.I)  # not "A&E"
_WIFI = re.compile(r"\b(?:wi-?fi|wireless|internet)\b", re.I)
_WIFI_PASSWORD = re.compile(r"\b(?:password|passcode|pass code|code|key)\b", re.I)
_WIFI_NETWORK = re.compile(r"\b(?:network|name|called|ssid)\b", re.I)


def _asks_wifi(q: str, kinds: set[str]) -> bool:
    """A question for the Wi-Fi's password or network name (not its speed, price or
    whom to ask), answered by a span that is no time, price, phone, email or URL."""
    return bool(_WIFI.search(q) and (_WIFI_PASSWORD.search(q) or _WIFI_NETWORK.search(q))
                and not kinds & {"time", "price", "phone", "email", "url"})


def _wifi(q: str, a: str) -> str:
    """"wifi password?" -> "The Wi-Fi password is latte2026"; network names alike."""
    return f"The Wi-Fi {'password' if _WIFI_PASSWORD.search(q) else 'network'} is {a}"


_PLACE_ANSWER = re.compile(r"^(?:room|unit|suite)\b|\b(?:floor|level|basement|mezzanine)\b",
                           re.I)
_AMOUNT = re.compile(r"\d|\b(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                     r"twelve|twenty|thirty|half|few|several|couple)\b", re.I)
_UNIT = re.compile(r"\b(?:min|mins|minutes?|hrs?|hours?|days?|weeks?|months?|years?|nights?)\b"
                   r"|\d(?:-| )?(?:minute|hour|day|week|month|year)\b", re.I)
_RULES = (
    (lambda q, a, k: bool(_SUBJECT_PLACE.match(q) or _PLACE_ANSWER.search(a)), _place),
    (lambda q, a, k: bool(_DURATION.match(q) and _UNIT.search(a) and _AMOUNT.search(a)),
     _duration),
    (lambda q, a, k: bool(_BRING.match(q)), _bring),
    (lambda q, a, k: _asks_wifi(q, k), _wifi),
    (lambda q, a, k: a.lower() == "closed" or "time" in k, _hours),
    (lambda q, a, k: "price" in k, _price),
    (lambda q, a, k: "phone" in k, _phone),
    (lambda q, a, k: "email" in k, lambda q, a: f"You can email {a}"),
    (lambda q, a, k: "url" in k, lambda q, a: f"You can find it at {a}"),
    (lambda q, a, k: _is_name(a) and bool(_ROLE.match(q)), _person),
    (lambda q, a, k: not _is_name(a) and bool(_PERSON.match(q)), _role),
    (lambda q, a, k: _is_name(a), lambda q, a: f"It's {a}"),
)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
