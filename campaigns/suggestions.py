"""Message suggestions for a campaign's objective (`POST /campaigns/ai/message-
suggestions/`): ready-to-send templates in the product's template language
(`{{ first_name|default:"there" }}`, `{{ account.name }}`, and `{{ unsubscribe_url }}`
in every email), never a bracketed placeholder to fill in, SMS at most 160 characters.

The offline generator reads the objective's intent (win-back, welcome, promotion with
the percentage it names, new product, event, feedback, loyalty, birthday, or generic)
and its audience (VIPs, loyal customers), and writes each suggestion from the intent's
bodies and the tone's greetings, calls to action and sign-offs. The choice is
deterministic (the same request gives the same suggestions) and the suggestions of one
answer differ from each other. With `LLM_URL` set the model is asked first; each of its
suggestions must compile in the sandbox, render for a sample recipient and pass the
same checks, and the offline generator fills what it did not give."""

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from campaigns.errors import InvalidRequest, InvalidTemplate, LlmUnavailable
from campaigns.llm import llm_configured, llm_json
from campaigns.nlp.tokens import fold
from campaigns.templates import SAMPLE_CONTEXT, render_text

logger = logging.getLogger("campaigns.suggestions")

EMAIL, SMS = "email", "sms"
CHANNELS = (EMAIL, SMS)
TONES = ("friendly", "formal", "urgent", "playful")
MIN_COUNT, MAX_COUNT = 1, 10
MAX_OBJECTIVE = 1000
SMS_LIMIT = 160
MAX_SUBJECT = 150

NAME = '{{ first_name|default:"there" }}'
FORMAL_NAME = '{{ first_name|default:"valued customer" }}'
SHOP = "{{ account.name }}"
UNSUBSCRIBE = "Unsubscribe: {{ unsubscribe_url }}"
STOP = "Reply STOP to opt out."

_PLACEHOLDER = re.compile(r"\[[^\]]*\]|<[A-Z_ ]+>|\{[A-Z_]+\}|\bX{2,}\b")


@dataclass(frozen=True)
class Suggestion:
    message: str
    subject: str | None = None

    def as_dict(self) -> dict[str, str]:
        if self.subject is None:
            return {"message": self.message}
        return {"subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class Objective:
    """What the generator reads in an objective."""

    intent: str
    offer: str  # "20% off", or words without a number
    percent: str | None
    vip: bool
    free_shipping: bool
    product: str | None  # a quoted name


# --- Reading the objective ------------------------------------------------------------

_INTENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("birthday", ("birthday", "anniversary", "bday")),
    (
        "winback",
        (
            "win back",
            "win-back",
            "winback",
            "reactivat",
            "re-engag",
            "reengag",
            "lapsed",
            "inactive",
            "dormant",
            "churn",
            "come back",
            "haven't ordered",
            "have not ordered",
            "miss you",
            "lost customer",
            "bring back",
            "return to",
        ),
    ),
    (
        "welcome",
        (
            "welcome",
            "onboard",
            "new customer",
            "new subscriber",
            "new member",
            "sign up",
            "signup",
            "signed up",
            "first purchase",
            "first order",
            "newly",
            "just joined",
        ),
    ),
    ("feedback", ("feedback", "review", "survey", "rating", "rate ", "opinion", "nps")),
    (
        "event",
        (
            "event",
            "webinar",
            "workshop",
            "opening",
            "invite",
            "invitation",
            "party",
            "meetup",
            "conference",
            "open day",
            "open house",
            "tasting",
        ),
    ),
    (
        "new_product",
        (
            "new product",
            "launch",
            "new collection",
            "arrival",
            "release",
            "introduc",
            "new range",
            "new line",
            "latest",
            "just dropped",
            "back in stock",
            "restock",
        ),
    ),
    (
        "promotion",
        (
            "discount",
            "% off",
            "percent",
            "sale",
            "promo",
            "coupon",
            "offer",
            "deal",
            "voucher",
            "save",
            "black friday",
            "clearance",
            "free shipping",
            "free delivery",
            "code",
            "cheaper",
            "price",
        ),
    ),
    (
        "loyalty",
        (
            "loyal",
            "vip",
            "reward",
            "points",
            "thank",
            "appreciat",
            "repeat",
            "retention",
            "retain",
            "best customer",
            "top customer",
        ),
    ),
)
_PERCENT = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s*(?:%|percent\b|per cent\b)")
_QUOTED = re.compile(r"[\"“”']([^\"“”']{2,40})[\"“”']")


def read_objective(objective: str) -> Objective:
    text = fold(objective)
    intent = next(
        (name for name, words in _INTENTS if any(word in text for word in words)), "generic"
    )
    percent_match = _PERCENT.search(text)
    percent = percent_match.group(1).replace(",", ".") if percent_match else None
    if percent is not None and intent in ("generic", "loyalty"):
        intent = "promotion"
    free_shipping = "free shipping" in text or "free delivery" in text
    offer = f"{percent}% off" if percent else ("free shipping" if free_shipping else "")
    product_match = _QUOTED.search(objective)
    product = product_match.group(1).strip() if product_match else None
    if product and _PLACEHOLDER.search(product):
        product = None
    vip = any(word in text for word in ("vip", "loyal", "best customer", "top customer"))
    return Objective(intent, offer, percent, vip, free_shipping, product)


# --- The generator --------------------------------------------------------------------

_GREETINGS = {
    "friendly": (f"Hi {NAME},", f"Hello {NAME},", f"Hey {NAME},"),
    "formal": (f"Dear {FORMAL_NAME},", f"Dear {FORMAL_NAME},", f"Hello {FORMAL_NAME},"),
    "urgent": (f"Hi {NAME}, quick heads-up:", f"{NAME}, don't miss this:", f"Hi {NAME},"),
    "playful": (f"Hey {NAME}!", f"Psst, {NAME}!", f"Well hello, {NAME}!"),
}
_SIGN_OFFS = {
    "friendly": ("See you soon,", "Warm wishes,", "Cheers,"),
    "formal": ("Kind regards,", "Sincerely,", "Best regards,"),
    "urgent": ("Don't wait,", "Be quick,", "See you soon,"),
    "playful": ("High fives,", "Stay awesome,", "Catch you soon,"),
}
_CALLS = {
    "friendly": (
        "Come and take a look whenever you like.",
        "We'd love to see you soon.",
        "Have a look, we think you'll like it.",
    ),
    "formal": (
        "We would be delighted to welcome you.",
        "We look forward to serving you.",
        "Please do not hesitate to visit us.",
    ),
    "urgent": (
        "It won't last long, so act now.",
        "Time is running out: don't miss it.",
        "Only a few days left, so be quick.",
    ),
    "playful": (
        "Go on, treat yourself!",
        "Your future self will thank you.",
        "Ready, set, shop!",
    ),
}

# Bodies by intent: {offer}, {product} and {audience} are filled from the objective.
_BODIES: dict[str, tuple[str, ...]] = {
    "winback": (
        "It's been a while, and we've missed you at {shop}. {offer_sentence}",
        "A lot has changed since your last visit: new products, new favourites. {offer_sentence}",
        "We haven't seen you in some time and wanted to say we're still here for you. "
        "{offer_sentence}",
        "Your favourites are waiting for you. {offer_sentence}",
        "We'd love to welcome you back. {offer_sentence}",
    ),
    "welcome": (
        "Welcome to {shop}! We're so glad you're here. {offer_sentence}",
        "Thanks for joining us. Here is what to expect: great products, friendly "
        "service and news from us now and then. {offer_sentence}",
        "Welcome aboard! Your first order is the start of something great. {offer_sentence}",
        "It's great to have you with us. {offer_sentence}",
        "Thank you for signing up. We can't wait to show you around. {offer_sentence}",
    ),
    "promotion": (
        "{audience_sentence}Enjoy {offer_or_discount} on your next order.",
        "{audience_sentence}Here is {offer_or_discount}, just for you.",
        "{audience_sentence}Treat yourself: {offer_or_discount} is waiting for you.",
        "{audience_sentence}Your next order comes with {offer_or_discount}.",
        "{audience_sentence}Good news: {offer_or_discount} on our favourites, for a limited time.",
    ),
    "new_product": (
        "Meet {product}, just arrived at {shop}. {offer_sentence}",
        "Something new is here: {product}. Be among the first to try it. {offer_sentence}",
        "We've been working on {product} for a while, and it's finally ready. {offer_sentence}",
        "Fresh in store: {product}. We think you'll love it. {offer_sentence}",
        "{product} has landed, and you get the first look. {offer_sentence}",
    ),
    "event": (
        "You're invited to {product} at {shop}. {offer_sentence}",
        "Join us for {product}: an occasion to meet the team and discover what's new. "
        "{offer_sentence}",
        "Save the date for {product}. We'd love to see you there. {offer_sentence}",
        "We're hosting {product} and you're on the guest list. {offer_sentence}",
        "Come along to {product}. It won't be the same without you. {offer_sentence}",
    ),
    "feedback": (
        "How did we do? Your opinion helps us get better, and it only takes a minute to reply.",
        "We'd love to hear about your last order. Just reply to this message with your thoughts.",
        "Your feedback matters to us. Tell us what you loved and what we could improve.",
        "Got a minute? Tell us about your experience with {shop}.",
        "Help us serve you better: reply with a quick rating from 1 to 5.",
    ),
    "loyalty": (
        "{audience_sentence}Thank you for being part of the {shop} family. {offer_sentence}",
        "{audience_sentence}Customers like you are the reason we do what we do. {offer_sentence}",
        "{audience_sentence}We see every order you place and we're grateful. {offer_sentence}",
        "{audience_sentence}Your loyalty means a lot to us. {offer_sentence}",
        "{audience_sentence}A little thank-you for sticking with us. {offer_sentence}",
    ),
    "birthday": (
        "Happy birthday from all of us at {shop}! {offer_sentence}",
        "It's your special day, and we wanted to celebrate with you. {offer_sentence}",
        "Another year, another reason to celebrate. Happy birthday! {offer_sentence}",
        "Wishing you a wonderful birthday. {offer_sentence}",
        "Birthdays deserve a treat. {offer_sentence}",
    ),
    "generic": (
        "We have news we think you'll like. {offer_sentence}",
        "Here's what's new at {shop} this season. {offer_sentence}",
        "We picked a few things we think you'll love. {offer_sentence}",
        "There's always something new to discover at {shop}. {offer_sentence}",
        "Thank you for being with us. {offer_sentence}",
    ),
}
# SMS bodies: short, one idea each.
_SMS_BODIES: dict[str, tuple[str, ...]] = {
    "winback": (
        "we miss you! {offer_short}",
        "it's been a while. Come back and see what's new. {offer_short}",
        "your favourites are waiting. {offer_short}",
        "we'd love to see you again. {offer_short}",
        "long time no see! {offer_short}",
    ),
    "welcome": (
        "welcome to {shop}! {offer_short}",
        "thanks for joining us! {offer_short}",
        "great to have you with us. {offer_short}",
        "welcome aboard! {offer_short}",
        "you're in! Welcome. {offer_short}",
    ),
    "promotion": (
        "enjoy {offer_or_discount} on your next order.",
        "{offer_or_discount}, just for you.",
        "treat yourself: {offer_or_discount} today.",
        "your next order: {offer_or_discount}.",
        "{offer_or_discount} on our favourites, for a short time.",
    ),
    "new_product": (
        "{product} just arrived! {offer_short}",
        "meet {product}, new in store. {offer_short}",
        "something new: {product}. {offer_short}",
        "be first to try {product}. {offer_short}",
        "{product} has landed! {offer_short}",
    ),
    "event": (
        "you're invited to {product}! {offer_short}",
        "join us for {product}. {offer_short}",
        "save the date: {product}. {offer_short}",
        "you're on the list for {product}. {offer_short}",
        "see you at {product}? {offer_short}",
    ),
    "feedback": (
        "how was your last order? Reply with a rating from 1 to 5.",
        "we'd love your feedback. Reply and tell us how we did.",
        "got a minute? Tell us about your experience.",
        "how did we do? Your reply helps us improve.",
        "rate your last order from 1 to 5 by replying.",
    ),
    "loyalty": (
        "thank you for being a loyal customer! {offer_short}",
        "you're one of our best customers. {offer_short}",
        "a little thank-you for sticking with us. {offer_short}",
        "your loyalty means a lot. {offer_short}",
        "thanks for every order! {offer_short}",
    ),
    "birthday": (
        "happy birthday! {offer_short}",
        "it's your day! {offer_short}",
        "happy birthday from {shop}! {offer_short}",
        "wishing you a great birthday. {offer_short}",
        "birthdays deserve a treat. {offer_short}",
    ),
    "generic": (
        "we have news for you. {offer_short}",
        "new things to discover at {shop}. {offer_short}",
        "we picked something for you. {offer_short}",
        "come see what's new. {offer_short}",
        "thanks for being with us. {offer_short}",
    ),
}
_SUBJECTS: dict[str, tuple[str, ...]] = {
    "winback": (
        f"We miss you, {NAME}",
        "It's been a while",
        "Come back and see what's new",
        "Your favourites are waiting",
        "We saved something for you",
    ),
    "welcome": (
        f"Welcome to {SHOP}, {NAME}",
        "Welcome aboard!",
        "Thanks for joining us",
        "Great to have you with us",
        "Let's get started",
    ),
    "promotion": (
        "{offer_title} just for you",
        f"{NAME}, here is {{offer_or_discount}}",
        "A treat for your next order",
        "Don't miss {offer_or_discount}",
        "Your exclusive offer is here",
    ),
    "new_product": (
        "New: {product_title}",
        "Just arrived: {product_title}",
        f"{NAME}, meet {{product}}",
        "Be the first to try it",
        "Something new is here",
    ),
    "event": (
        "You're invited",
        f"{NAME}, join us",
        "Save the date",
        "You're on the guest list",
        "We'd love to see you there",
    ),
    "feedback": (
        "How did we do?",
        f"{NAME}, we'd love your opinion",
        "One minute of your time?",
        "Tell us about your order",
        "Help us get better",
    ),
    "loyalty": (
        f"Thank you, {NAME}",
        "A thank-you for you",
        "You're one of our best",
        "Because you're a loyal customer",
        "Something special for you",
    ),
    "birthday": (
        f"Happy birthday, {NAME}!",
        "It's your special day",
        "A birthday treat for you",
        "Celebrate with us",
        "Happy birthday from all of us",
    ),
    "generic": (
        f"News from {SHOP}",
        "Something we think you'll like",
        f"{NAME}, have a look",
        "What's new this season",
        "Picked for you",
    ),
}
_TONE_SUBJECT_SUFFIX = {"friendly": "", "formal": "", "urgent": " (ends soon)", "playful": " 🎉"}


def _fields(objective: Objective, tone: str) -> dict[str, str]:
    offer = objective.offer
    default_product = "our new collection" if objective.intent == "new_product" else "our event"
    product = objective.product or default_product
    audience = ""
    if objective.vip:
        audience = (
            "As one of our most valued customers, you deserve something special. "
            if tone == "formal"
            else "As one of our VIPs, you get something special. "
        )
    discount = "an exclusive discount" if objective.intent == "promotion" else "a special offer"
    return {
        "shop": SHOP,
        "offer": offer,
        "offer_or_discount": offer or discount,
        "offer_title": (offer[:1].upper() + offer[1:]) if offer else "A special offer",
        "offer_sentence": f"Enjoy {offer} on your next order." if offer else "",
        "offer_short": f"Enjoy {offer}." if offer else "",
        "product": product,
        "product_title": product[:1].upper() + product[1:],
        "audience_sentence": audience,
    }


_FIELD = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def _fill(text: str, fields: dict[str, str]) -> str:
    """`{name}` replaced by its field; the template language's `{{ ... }}` untouched."""
    return _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), text)


def _clean(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text).strip()
    return re.sub(r"\s+([.,!?])", r"\1", text)


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def offline_suggestions(
    *, objective: str, channel: str = EMAIL, tone: str = "friendly", count: int = 3
) -> list[Suggestion]:
    """`count` distinct suggestions, the same for the same request."""
    read = read_objective(objective)
    fields = _fields(read, tone)
    seed = _seed(fold(objective).strip(), channel, tone)
    write = _sms if channel == SMS else _email
    suggestions: list[Suggestion] = []
    seen: set[str] = set()
    for variant in range(count * 20):
        if len(suggestions) == count:
            break
        suggestion = write(read, fields, tone, _Choice(seed, variant))
        if (
            suggestion is None
            or suggestion.message in seen
            or not suggestion_is_valid(suggestion, channel)
        ):
            continue
        seen.add(suggestion.message)
        suggestions.append(suggestion)
    return suggestions


@dataclass(frozen=True)
class _Choice:
    """The `variant`-th combination of a body and the tone's pieces: the body changes
    at each variant; after each round of bodies, the (greeting, call) pair moves on
    through all nine pairs before any repeats."""

    seed: int
    variant: int

    def body(self, options: tuple[str, ...]) -> str:
        return options[(self.seed + self.variant) % len(options)]

    def piece(self, options: tuple[str, ...], bodies: int, *, second: bool = False) -> str:
        round_ = self.variant // bodies
        step = round_ + round_ // len(options) if second else round_
        return options[(self.seed // 7 + step) % len(options)]


def _email(read: Objective, fields: dict[str, str], tone: str, choice: _Choice) -> Suggestion:
    bodies = _BODIES[read.intent]
    body = _clean(_fill(choice.body(bodies), fields))
    greeting = choice.piece(_GREETINGS[tone], len(bodies))
    call = choice.piece(_CALLS[tone], len(bodies), second=True)
    sign_off = choice.piece(_SIGN_OFFS[tone], len(bodies))
    if read.intent == "feedback":
        call = "Thank you for your time."
    message = f"{greeting}\n\n{body} {call}\n\n{sign_off}\n{SHOP}\n\n{UNSUBSCRIBE}"
    subject = _clean(_fill(choice.body(_SUBJECTS[read.intent]), fields))
    subject += _TONE_SUBJECT_SUFFIX[tone]
    return Suggestion(_clean_lines(message), subject)


def _clean_lines(message: str) -> str:
    return "\n".join(_clean(line) for line in message.split("\n"))


def _sms(read: Objective, fields: dict[str, str], tone: str, choice: _Choice) -> Suggestion | None:
    bodies = _SMS_BODIES[read.intent]
    body = _clean(_fill(choice.body(bodies), fields))
    opener = {
        "friendly": f"Hi {NAME}, ",
        "formal": f"Dear {FORMAL_NAME}, ",
        "urgent": f"{NAME}, ",
        "playful": f"Hey {NAME}! ",
    }[tone]
    if tone == "playful":
        body = body[:1].upper() + body[1:]
    call = choice.piece(_SMS_CALLS[tone], len(bodies))
    # The longest version that fits: name of the shop, the call, the opt-out.
    for parts in (
        (f"{SHOP}: ", opener, body, f" {call}", f" {STOP}"),
        (f"{SHOP}: ", opener, body, f" {call}"),
        (opener, body, f" {call}"),
        (f"{SHOP}: ", opener, body),
        (opener, body),
    ):
        message = _clean("".join(parts))
        if len(message) <= SMS_LIMIT:
            return Suggestion(message)
    return None


_SMS_CALLS = {
    "friendly": ("See you soon!", "Come say hi!", "Have a look!"),
    "formal": ("We look forward to seeing you.", "Kind regards.", "Thank you."),
    "urgent": ("Ends soon!", "Don't miss out!", "Be quick!"),
    "playful": ("Go on, treat yourself!", "Ready, set, shop!", "You know you want to!"),
}


# --- Checks, the API's entry point ------------------------------------------------------


def suggestion_is_valid(suggestion: Suggestion, channel: str) -> bool:
    """A suggestion a campaign can use as it is: it compiles in the sandbox, renders
    for a sample recipient, has no bracketed placeholder, fits an SMS, and carries the
    unsubscribe link in an email."""
    texts = [suggestion.message] + ([suggestion.subject] if suggestion.subject else [])
    try:
        rendered = [render_text(text, SAMPLE_CONTEXT, html=False) for text in texts]
    except InvalidTemplate:
        return False
    if any(_PLACEHOLDER.search(text) for text in texts + rendered):
        return False
    if any("{" in text or "}" in text for text in rendered):
        return False
    if not rendered[0].strip():
        return False
    if channel == SMS:
        return (
            suggestion.subject is None
            and len(suggestion.message) <= SMS_LIMIT
            and len(rendered[0]) <= SMS_LIMIT
        )
    subject = suggestion.subject
    return (
        subject is not None
        and bool(subject.strip())
        and "\n" not in subject
        and len(subject) <= MAX_SUBJECT
        and "unsubscribe_url" in suggestion.message
    )


def clean_request(
    objective: Any, channel: Any = EMAIL, tone: Any = "friendly", count: Any = 3
) -> tuple[str, str, str, int]:
    """The request's values, or InvalidRequest naming the one that is wrong."""
    if not isinstance(objective, str) or not objective.strip():
        raise InvalidRequest("Describe the objective of the campaign.", attr="objective")
    if "\x00" in objective or len(objective) > MAX_OBJECTIVE:
        raise InvalidRequest(
            f"The objective is text of at most {MAX_OBJECTIVE} characters.", attr="objective"
        )
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel is one of: {', '.join(CHANNELS)}.", attr="channel")
    if tone not in TONES:
        raise InvalidRequest(f"tone is one of: {', '.join(TONES)}.", attr="tone")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidRequest("count is a whole number.", attr="count")
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise InvalidRequest(f"count is between {MIN_COUNT} and {MAX_COUNT}.", attr="count")
    return objective.strip(), channel, tone, count


def suggest_messages(
    *, objective: Any, channel: Any = EMAIL, tone: Any = "friendly", count: Any = 3
) -> list[Suggestion]:
    """`count` suggestions for the objective: the model's valid ones first (with
    `LLM_URL`), then the offline generator's."""
    objective, channel, tone, count = clean_request(objective, channel, tone, count)
    suggestions: list[Suggestion] = []
    if llm_configured():
        try:
            suggestions = llm_suggestions(
                objective=objective, channel=channel, tone=tone, count=count
            )
        except LlmUnavailable as exc:
            logger.info("message suggestions fall back to the offline generator: %s", exc)
    if len(suggestions) < count:
        known = {s.message for s in suggestions}
        for suggestion in offline_suggestions(
            objective=objective, channel=channel, tone=tone, count=count
        ):
            if len(suggestions) < count and suggestion.message not in known:
                suggestions.append(suggestion)
    return suggestions


def llm_suggestions(*, objective: str, channel: str, tone: str, count: int) -> list[Suggestion]:
    """The model's suggestions that pass suggestion_is_valid (possibly none)."""
    system = (
        f"You write {channel} marketing messages for a shop. Answer one JSON object: "
        '{"messages": [{"subject": "...", "message": "..."}]}'
        f" with {count} different messages in a {tone} tone. Messages are Django "
        'templates: greet with {{ first_name|default:"there" }}, sign with '
        "{{ account.name }}. Never use placeholders in brackets or invented codes and "
        "links. "
        + (
            'Each email has a subject and ends with a line "Unsubscribe: {{ unsubscribe_url }}".'
            if channel == EMAIL
            else f"SMS have no subject and at most {SMS_LIMIT} characters."
        )
    )
    answer = llm_json(system=system, user=objective)
    raw = answer.get("messages")
    if not isinstance(raw, list):
        raise LlmUnavailable("no messages")
    result: list[Suggestion] = []
    for item in raw[:MAX_COUNT]:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            continue
        subject = item.get("subject") if channel == EMAIL else None
        if subject is not None and not isinstance(subject, str):
            continue
        suggestion = Suggestion(item["message"].strip(), subject.strip() if subject else None)
        if suggestion_is_valid(suggestion, channel) and suggestion not in result:
            result.append(suggestion)
    return result[:count]
