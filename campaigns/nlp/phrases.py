"""The vocabulary of the segment grammar's constructions: the phrases each one reads
(folded words: lower case, no accents), longest first where they are phrase lists."""

from collections.abc import Iterable

from campaigns.nlp import lexicon as lex
from segments.rules.vocabulary import BOOLEAN, DATE, FIELDS, NUMBER, TEXT


def phrase_list(*groups: Iterable[str]) -> list[tuple[str, ...]]:
    """Phrases as word tuples, longest first (so "at least" wins over "at")."""
    result = {tuple(phrase.split()) for group in groups for phrase in group}
    return sorted(result, key=len, reverse=True)


def phrase_list_of(text: str) -> list[tuple[str, ...]]:
    """Phrases written "a | b c | d", longest first."""
    return phrase_list(phrase.strip() for phrase in text.split("|"))


def _fields_of(kind: str) -> frozenset[str]:
    return frozenset(name for name, spec in FIELDS.items() if spec.type == kind)


SPEND_WORDS = phrase_list_of(
    "spent | spend | spends | spending | have spent | has spent | total spend |"
    " total spent | total spending | lifetime spend | lifetime spending |"
    " lifetime spent | lifetime value | ltv | clv | customer lifetime value | revenue |"
    " total revenue | lifetime revenue | total order value | total amount spent |"
    " amount spent | money spent | total purchases amount | total purchase amount"
)
SPEND_AFTER_AMOUNT = phrase_list_of(
    "spent | spend | in spend | in spending | of spend | of spending | in purchases |"
    " in sales | in revenue | in orders | lifetime spend | lifetime value |"
    " in lifetime spend | in lifetime value | in total spend | total spend"
)
SPEND_TAILS = phrase_list_of(
    "in total | total | overall | altogether | in all | so far | to date | with us |"
    " on orders | on purchases | on products | on shopping | in purchases | in orders |"
    " in our shop | in our store | at our store | on our store | on the store |"
    " in lifetime | lifetime"
)
PER_ORDER_TAILS = phrase_list_of(
    "per order | an order | a order | each order | per purchase | a purchase |"
    " per transaction | per visit | per basket | per ticket | on average | in average |"
    " each time | average"
)
AVERAGE_WORDS = phrase_list_of(
    "average order value | average order | average order amount | average order size |"
    " average order total | average basket | average basket size |"
    " average basket value | average cart | average cart value |"
    " average spend per order | average spend | average spending | average purchase |"
    " average purchase value | average purchase amount | average ticket |"
    " average transaction | average transaction value | average transaction amount |"
    " avg order value | avg order | avg. order value | avg. order | avg basket | aov |"
    " mean order value | basket size | order average"
)
POINTS_WORDS = phrase_list_of(
    "loyalty points | points | point | point balance | points balance |"
    " loyalty balance | loyalty point balance | loyalty points balance | reward points |"
    " rewards points | loyalty point"
)
ORDER_VERBS = phrase_list_of(
    "ordered | order | bought | buy | buys | purchased | purchase | shopped | shop |"
    " shops | transacted | made a purchase | made purchases | made an order |"
    " made orders | placed an order | placed orders | placed a order |"
    " made a transaction | came back | returned | have ordered | have bought |"
    " have purchased | has ordered | has bought | has purchased"
)
LAST_ORDER_WORDS = phrase_list_of(
    "last ordered | last purchased | last bought | last shopped | last order |"
    " last purchase | last transaction | last visit | last order date |"
    " last purchase date | most recent order | most recent purchase | latest order |"
    " latest purchase | last ordered on | last purchased on | last bought on |"
    " last seen | last active"
)
FIRST_ORDER_WORDS = phrase_list_of(
    "first ordered | first purchased | first bought | first order | first purchase |"
    " first transaction | first order date | first purchase date | first ordered on |"
    " first purchased on"
)
ORDER_NOUNS = frozenset(
    {"orders", "order", "purchases", "purchase", "transactions", "transaction", "buys", "visits"}
)
COUNT_FIELD_WORDS = phrase_list_of(
    "total orders | order count | orders count | number of orders |"
    " number of purchases | purchase count | total purchases | number of transactions |"
    " transaction count | total transactions | orders total"
)
COUNT_PREFIX = frozenset({"with", "placed", "made", "having", "placing", "making", "has", "have"})
JOIN_WORDS = phrase_list_of(
    "joined | signed up | sign up | signed-up | registered | became a customer |"
    " became customers | became a client | became clients | became a member |"
    " became members | were created | was created | created | were added | was added |"
    " added | onboarded | enrolled | acquired | subscribed | customer since |"
    " customers since | client since | clients since | member since | members since |"
    " created at | creation date | registration date | signup date | sign-up date |"
    " date joined | join date"
)
NEW_WORDS = phrase_list_of(
    "new | newly registered | newly signed up | newly acquired | recently registered |"
    " recently joined | recent signups | recent sign-ups | new signups | new sign-ups |"
    " newcomers | new joiners"
)
TENURE_WORDS = phrase_list_of(
    "been with us for | with us for | been a customer for | been customers for |"
    " been a client for | been clients for | been a member for | been members for |"
    " customers for | customer for | clients for | members for | member for"
)
BIRTHDAY_WORDS = phrase_list_of("birthday | birthdays | birth day | bday | b-day | bdays")
REGISTRATION_ANNIVERSARY_WORDS = phrase_list_of(
    "registration anniversary | signup anniversary | sign-up anniversary |"
    " membership anniversary | customer anniversary | joining anniversary |"
    " anniversary | anniversaries | registration anniversaries"
)
BORN_WORDS = phrase_list_of("born | were born | was born")
AGE_MARKERS = phrase_list_of("aged | age | ages | of age | whose age is | age is | with age")
AGE_SUFFIXES = phrase_list_of(
    "years old | year old | year olds | year-olds | year-old | yo | y/o | y.o |"
    " yrs old | years of age | yr old | yr olds"
)
GENERATIONS: dict[tuple[str, ...], tuple[int, int]] = {
    ("millennials",): (1981, 1996),
    ("millennial",): (1981, 1996),
    ("gen", "z"): (1997, 2012),
    ("generation", "z"): (1997, 2012),
    ("zoomers",): (1997, 2012),
    ("gen", "x"): (1965, 1980),
    ("generation", "x"): (1965, 1980),
    ("gen", "y"): (1981, 1996),
    ("generation", "y"): (1981, 1996),
    ("baby", "boomers"): (1946, 1964),
    ("boomers",): (1946, 1964),
}
# Life stages as ages: (op, low, high).
LIFE_STAGES: dict[tuple[str, ...], tuple[str, int, int | None]] = {
    ("teenagers",): ("between", 13, 19),
    ("teens",): ("between", 13, 19),
    ("adults",): (">=", 18, None),
    ("adult",): (">=", 18, None),
    ("minors",): ("<", 18, None),
    ("seniors",): (">=", 65, None),
    ("senior", "citizens"): (">=", 65, None),
    ("elderly",): (">=", 65, None),
    ("retirees",): (">=", 65, None),
    ("pensioners",): (">=", 65, None),
    ("young", "adults"): ("between", 18, 24),
}
GENDERS: dict[str, str] = {
    "women": "female",
    "woman": "female",
    "female": "female",
    "females": "female",
    "ladies": "female",
    "lady": "female",
    "girls": "female",
    "gals": "female",
    "f": "female",
    "men": "male",
    "man": "male",
    "male": "male",
    "males": "male",
    "gentlemen": "male",
    "gentleman": "male",
    "guys": "male",
    "boys": "male",
    "lads": "male",
    "m": "male",
    "non-binary": "other",
    "nonbinary": "other",
    "other": "other",
    "unknown": "unknown",
}
GENDER_NOUNS = frozenset(k for k in GENDERS if len(k) > 1 and k not in ("other", "unknown"))
OPT_IN_WORDS = phrase_list_of(
    "opted in | opted-in | opt in | opt-in | opted into | optin | opted | subscribed |"
    " subscribe | subscribes | consented | consent | gave consent | agreed |"
    " agreed to receive | accept | accepts | accepted | allow | allows | want | wants |"
    " receive | receives | can receive | signed up | registered | enrolled | joined"
)
OPT_IN_NEEDS_CHANNEL = frozenset(
    {
        ("accept",),
        ("accepts",),
        ("accepted",),
        ("allow",),
        ("allows",),
        ("want",),
        ("wants",),
        ("receive",),
        ("receives",),
        ("can", "receive"),
        ("signed", "up"),
        ("registered",),
        ("enrolled",),
        ("joined",),
        ("agreed",),
        ("consented",),
        ("consent",),
        ("opted",),
        ("subscribe",),
        ("subscribes",),
    }
)
OPT_OUT_WORDS = phrase_list_of(
    "opted out | opted-out | opt out | opt-out | optout | unsubscribed | unsubscribe |"
    " have unsubscribed | refused | declined | withdrew consent"
)
CHANNEL_WORDS: dict[tuple[str, ...], str] = {
    **{
        tuple(p.split()): "sms"
        for p in (
            "sms",
            "text",
            "texts",
            "text messages",
            "text message",
            "texting",
            "sms messages",
            "sms marketing",
            "mobile messages",
        )
    },
    **{
        tuple(p.split()): "email"
        for p in (
            "email",
            "emails",
            "e-mail",
            "e-mails",
            "mail",
            "mails",
            "mailing",
            "mailings",
            "newsletter",
            "newsletters",
            "mailing list",
            "marketing emails",
            "marketing email",
            "email marketing",
            "email list",
            "marketing",
            "email campaigns",
            "promotional emails",
        )
    },
}
CHANNEL_PHRASES = phrase_list(" ".join(k) for k in CHANNEL_WORDS)
OPT_SUFFIX_IN = phrase_list_of(
    "opt-in | opt in | opted in | opted-in | optin | opt-ins | subscribers |"
    " subscriber | subscribed | consent | permission | opt ins"
)
OPT_SUFFIX_OUT = phrase_list_of(
    "opt-out | opt out | opted out | opted-out | optout | unsubscribes | unsubscribed"
)
CHANNEL_TAILS = phrase_list_of(
    "marketing | messages | communications | campaigns | updates | notifications |"
    " list | offers | promotions"
)
REACHABLE_WORDS = phrase_list_of(
    "reachable by | contactable by | reachable via | contactable via | reachable on"
)
TAG_MARKERS = phrase_list_of(
    "tagged | tagged as | tagged with | tagged with the | with the tag | with tag |"
    " with the tags | with tags | having the tag | having tag | having the tags |"
    " has the tag | has tag | have the tag | have tag | labelled | labeled |"
    " labelled as | labeled as | with label | with the label | tag | tags include |"
    " tags contain | tags containing | tag is | tags are | marked as | flagged as |"
    " flagged"
)
VIP_WORDS = frozenset({"vip", "vips", "v.i.p", "v.i.p.", "vip's"})
STATUS_WORDS: dict[str, str] = {"active": "active", "inactive": "inactive", "blocked": "blocked"}
STATUS_WORDS.update({"banned": "blocked", "suspended": "blocked", "disabled": "inactive"})
TYPE_WORDS: dict[tuple[str, ...], str] = {
    ("business",): "business",
    ("businesses",): "business",
    ("companies",): "business",
    ("company", "accounts"): "business",
    ("b2b",): "business",
    ("corporate",): "business",
    ("corporates",): "business",
    ("enterprise",): "business",
    ("enterprises",): "business",
    ("professional",): "business",
    ("professionals",): "business",
    ("organisations",): "business",
    ("organizations",): "business",
    ("individual",): "individual",
    ("private",): "individual",
    ("b2c",): "individual",
    ("retail", "customers"): "individual",
    ("private", "individuals"): "individual",
}
# (operator, days) on last_order_date, or (operator, days) on created_at for "new".
LIFECYCLE_WORDS: dict[tuple[str, ...], tuple[str, str, int]] = {
    ("churned",): ("last_order_date", "more_than_days_ago", 365),
    ("lost",): ("last_order_date", "more_than_days_ago", 365),
    ("lapsed",): ("last_order_date", "more_than_days_ago", 90),
    ("dormant",): ("last_order_date", "more_than_days_ago", 90),
    ("sleeping",): ("last_order_date", "more_than_days_ago", 90),
    ("at", "risk"): ("last_order_date", "more_than_days_ago", 90),
    ("at-risk",): ("last_order_date", "more_than_days_ago", 90),
    ("recent", "customers"): ("last_order_date", "within_last_days", 30),
    ("recent", "buyers"): ("last_order_date", "within_last_days", 30),
    ("recent", "shoppers"): ("last_order_date", "within_last_days", 30),
    ("recent", "purchasers"): ("last_order_date", "within_last_days", 30),
}
REPEAT_WORDS = phrase_list_of(
    "repeat | returning | recurring | regular | repeat buyers | multi-buyers"
)
ONE_TIME_WORDS = phrase_list_of(
    "one-time | one time | first-time | first time | single-purchase | one-off | one off"
)
PROVIDERS: dict[str, str] = {
    "gmail": "@gmail.com",
    "googlemail": "@googlemail.com",
    "yahoo": "@yahoo.com",
    "hotmail": "@hotmail.com",
    "outlook": "@outlook.com",
    "icloud": "@icloud.com",
    "aol": "@aol.com",
    "protonmail": "@protonmail.com",
    "proton": "@proton.me",
    "gmx": "@gmx.com",
    "laposte": "@laposte.net",
    "wanadoo": "@wanadoo.fr",
}
PROVIDER_TAILS = frozenset(
    {"address", "addresses", "email", "emails", "account", "accounts", "mail", "users", "user"}
)
PLACE_MARKERS_STRONG = phrase_list_of(
    "living in | who live in | who lives in | live in | lives in | based in |"
    " located in | residing in | reside in | resident in | residents of | resident of |"
    " inhabitants of | in the city of | from the city of | in the country of |"
    " who are from | coming from"
)
PLACE_MARKERS = phrase_list_of("in | from")
PLACE_OUTSIDE = phrase_list_of("outside | outside of | not in | not from | out of")
PLACE_JOINERS = frozenset(
    {
        "de",
        "del",
        "la",
        "le",
        "les",
        "sur",
        "upon",
        "am",
        "en",
        "da",
        "do",
        "dos",
        "van",
        "von",
        "der",
        "den",
        "di",
        "du",
        "des",
        "el",
        "al",
        "of",
    }
)
STORE_WORDS = frozenset(
    {"store", "stores", "shop", "shops", "boutique", "branch", "outlet", "location", "pos", "mall"}
)
BRAND_MARKERS = phrase_list_of(
    "brand | the brand | brands | the brands | products from | products by |"
    " products of | items from | items by | from the brand | from brand | made by |"
    " something from | anything from | from | of | by | of the brand | by the brand"
)
BRAND_TAILS = frozenset({"products", "items", "goods", "stuff", "brand", "articles", "gear"})
SKU_MARKERS = phrase_list_of(
    "sku | skus | the sku | product | the product | products | item | the item |"
    " items | article | product code | product codes | ref | reference | product sku"
)
OBJECT_FILLERS = frozenset(
    {"something", "anything", "from", "us", "with", "online", "again", "only", "just"}
)

# Fields a prompt may name ("whose city is", "with email ending in").
FIELD_NAMES: dict[tuple[str, ...], str] = {
    tuple(k.split()): v
    for k, v in {
        "first name": "first_name",
        "firstname": "first_name",
        "given name": "first_name",
        "last name": "last_name",
        "lastname": "last_name",
        "surname": "last_name",
        "family name": "last_name",
        "email": "email",
        "email address": "email",
        "e-mail": "email",
        "e-mail address": "email",
        "mail": "email",
        "emails": "email",
        "phone": "phone",
        "phone number": "phone",
        "mobile": "phone",
        "mobile number": "phone",
        "cell": "phone",
        "cell phone": "phone",
        "telephone": "phone",
        "telephone number": "phone",
        "phones": "phone",
        "company": "company",
        "company name": "company",
        "employer": "company",
        "customer type": "type",
        "type": "type",
        "account type": "type",
        "status": "status",
        "customer status": "status",
        "account status": "status",
        "gender": "gender",
        "sex": "gender",
        "city": "city",
        "town": "city",
        "state": "state",
        "region": "state",
        "province": "state",
        "zip": "zip",
        "zip code": "zip",
        "zipcode": "zip",
        "postcode": "zip",
        "postal code": "zip",
        "post code": "zip",
        "country": "country",
        "address": "street",
        "street": "street",
        "street address": "street",
        "tag": "tags",
        "tags": "tags",
        "date of birth": "date_of_birth",
        "birth date": "date_of_birth",
        "birthdate": "date_of_birth",
        "dob": "date_of_birth",
        "lifetime spend": "lifetime_spend",
        "total spend": "lifetime_spend",
        "spend": "lifetime_spend",
        "total spent": "lifetime_spend",
        "lifetime value": "lifetime_spend",
        "total orders": "total_orders",
        "order count": "total_orders",
        "number of orders": "total_orders",
        "orders": "total_orders",
        "average order value": "average_order_value",
        "average order": "average_order_value",
        "aov": "average_order_value",
        "loyalty points": "loyalty_points",
        "points": "loyalty_points",
        "point balance": "loyalty_points",
        "points balance": "loyalty_points",
        "email opt-in": "email_opt_in",
        "email opt in": "email_opt_in",
        "email_opt_in": "email_opt_in",
        "sms opt-in": "sms_opt_in",
        "sms opt in": "sms_opt_in",
        "sms_opt_in": "sms_opt_in",
        "last order date": "last_order_date",
        "last order": "last_order_date",
        "last purchase": "last_order_date",
        "last purchase date": "last_order_date",
        "first order date": "first_order_date",
        "first order": "first_order_date",
        "first purchase": "first_order_date",
        "created": "created_at",
        "created at": "created_at",
        "created_at": "created_at",
        "creation date": "created_at",
        "signup date": "created_at",
        "registration date": "created_at",
        "first_name": "first_name",
        "last_name": "last_name",
        "lifetime_spend": "lifetime_spend",
        "total_orders": "total_orders",
        "average_order_value": "average_order_value",
        "loyalty_points": "loyalty_points",
        "date_of_birth": "date_of_birth",
        "last_order_date": "last_order_date",
        "first_order_date": "first_order_date",
    }.items()
}
FIELD_PHRASES = phrase_list(" ".join(k) for k in FIELD_NAMES)
# The rule language's fields by type: segments.rules owns them ("street" is not one).
TEXT_FIELDS = _fields_of(TEXT)
NUMBER_FIELDS = _fields_of(NUMBER)
DATE_FIELDS = _fields_of(DATE)
BOOLEAN_FIELDS = _fields_of(BOOLEAN)
PRESENCE_FIELDS = phrase_list_of(
    "email | email address | e-mail | e-mail address | phone | phone number | mobile |"
    " mobile number | cell phone | telephone | telephone number | company |"
    " company name | zip | zip code | postcode | postal code | city | country |"
    " date of birth | birth date | birthdate | birthday | dob | first name | last name |"
    " state"
)
PRESENCE_FIELD_NAMES = {**FIELD_NAMES, ("birthday",): "date_of_birth"}
PRESENCE_LEADS = phrase_list_of(
    "with | with a | with an | with their | having | having a | having an | who have |"
    " who have a | who have an | has a | has an | have a | have an | that have a |"
    " with a valid | with valid | with a known | with known"
)
ABSENCE_LEADS = phrase_list_of(
    "without | without a | without an | with no | missing | missing a | missing an |"
    " lacking | lacking a | lacking an | no | with missing | with an empty |"
    " with empty | with a missing | no known"
)
COPULA_EQ = phrase_list_of(
    "is | = | == | : | equals | equal to | is equal to | of | set to | is set to |"
    " matches | matching | was | are | being | as"
)
COPULA_NE = phrase_list_of(
    "is not | isn't | isnt | != | ≠ | not | not equal to | is not equal to | was not |"
    " wasn't | are not | aren't | other than | is anything but | <>"
)
TEXT_OPERATOR_WORDS: dict[str, tuple[str, ...]] = {
    "contains": (
        "contains",
        "containing",
        "includes",
        "including",
        "include",
        "contain",
        "has",
        "with",
    ),
    "not_contains": (
        "does not contain",
        "doesn't contain",
        "doesnt contain",
        "not containing",
        "does not include",
        "doesn't include",
        "without",
        "excludes",
    ),
    "starts_with": (
        "starts with",
        "starting with",
        "begins with",
        "beginning with",
        "start with",
        "begin with",
        "starts",
        "begins",
        "prefixed with",
    ),
    "ends_with": (
        "ends with",
        "ending with",
        "ending in",
        "ends in",
        "end with",
        "end in",
        "ends",
        "finishing with",
        "suffixed with",
        "at",
    ),
    "is_empty": (
        "is empty",
        "is blank",
        "is missing",
        "is unknown",
        "is not set",
        "is null",
        "is none",
        "missing",
        "empty",
        "blank",
        "unknown",
        "not set",
        "is not known",
        "isn't set",
        "is not provided",
        "is not filled",
        "is unset",
    ),
    "is_not_empty": (
        "is not empty",
        "is set",
        "is known",
        "is present",
        "is filled",
        "exists",
        "is provided",
        "is not blank",
        "isn't empty",
        "is not null",
        "not empty",
        "set",
        "known",
        "present",
        "is available",
    ),
    "in": ("is one of", "is in", "in", "one of", "is any of", "any of", "among"),
    "not_in": (
        "is not one of",
        "not one of",
        "is not in",
        "not in",
        "is none of",
        "none of",
        "isn't one of",
        "isn't in",
    ),
}
TEXT_OPERATOR_PHRASES = phrase_list(*TEXT_OPERATOR_WORDS.values())
TEXT_OPERATOR_OF = {
    tuple(p.split()): op for op, phrases in TEXT_OPERATOR_WORDS.items() for p in phrases
}
VALUE_STOP = frozenset(
    {
        "and",
        "or",
        "but",
        "who",
        "that",
        "which",
        "whose",
        "where",
        "with",
        "without",
        "from",
        "since",
        "before",
        "after",
        "in",
        "during",
        "not",
        "&",
        "|",
        "while",
        "plus",
        "except",
        "excluding",
        "living",
        "based",
        "located",
        "tagged",
        "aged",
        "born",
        "spent",
        "ordered",
        "bought",
        "purchased",
        "having",
        "has",
        "have",
        "are",
        "is",
        "between",
        "whom",
    }
)
TRUE_WORDS = frozenset({"true", "yes", "on", "1", "y", "enabled", "checked", "opted-in"})
FALSE_WORDS = frozenset({"false", "no", "off", "0", "n", "disabled", "unchecked", "opted-out"})
ASSIGNED_WORDS = phrase_list_of(
    "assigned | assigned to an agent | assigned to someone | assigned to anyone |"
    " with an agent | with an account manager | have an account manager |"
    " with a sales rep | with an owner | assigned to a rep | with an assigned agent"
)
UNASSIGNED_WORDS = phrase_list_of(
    "unassigned | without an agent | with no agent | without an account manager |"
    " with no account manager | without an owner | with no owner | not assigned |"
    " not assigned to anyone | without a sales rep | not yet assigned"
)
WINDOW_LEADS = phrase_list_of(
    "in | within | during | over | for | from | in the course of | throughout |"
    " across | at any point in | sometime in | any time in | anytime in"
)
DATE_WORD_RANGES = frozenset({"today", "yesterday"})

# Words the constructions know: never read as a place, a brand, a tag or a custom field.
KNOWN_WORDS = (
    lex.FILLERS
    | lex.NEGATORS
    | lex.CONNECTORS_AND
    | lex.CONNECTORS_OR
    | set(lex.MONTHS)
    | set(lex.UNITS)
    | set(lex.NUMBER_WORDS)
    | set(lex.TIMES_WORDS)
    | set(lex.MULTIPLIERS)
    | lex.CURRENCY_WORDS
    | lex.RECENT_WORDS
    | set(GENDERS)
    | set(STATUS_WORDS)
    | ORDER_NOUNS
    | STORE_WORDS
    | VIP_WORDS
    | set(lex.DECADE_WORDS)
    | {word for phrases in lex.PREFIX_COMPARATORS.values() for p in phrases for word in p.split()}
    | {word for phrases in lex.POSTFIX_COMPARATORS.values() for p in phrases for word in p.split()}
    | {
        word
        for phrases in (
            SPEND_WORDS,
            AVERAGE_WORDS,
            POINTS_WORDS,
            ORDER_VERBS,
            LAST_ORDER_WORDS,
            FIRST_ORDER_WORDS,
            JOIN_WORDS,
            BIRTHDAY_WORDS,
            BORN_WORDS,
            AGE_MARKERS,
            OPT_IN_WORDS,
            OPT_OUT_WORDS,
            TAG_MARKERS,
            WINDOW_LEADS,
        )
        for phrase in phrases
        for word in phrase
    }
    | {
        "between",
        "since",
        "before",
        "after",
        "until",
        "till",
        "ago",
        "this",
        "next",
        "today",
        "yesterday",
        "tomorrow",
        "recently",
        "lately",
        "whose",
        "where",
        "with",
        "without",
        "times",
        "time",
        "on",
        "at",
        "to",
        "of",
        "by",
        "per",
        "who",
        "and",
        "or",
        "not",
        "no",
        "year",
        "week",
        "month",
        "day",
        "upcoming",
        "coming",
        "soon",
    }
)
# Words that cannot start a custom field's name.
FIELD_KEY_STOP = (
    KNOWN_WORDS - {word for phrase in FIELD_NAMES for word in phrase} - {"tier"} - VIP_WORDS
)
CUSTOM_FIELD_WORDS = phrase_list_of(
    "metadata | the metadata | custom field | the custom field | custom | attribute"
)
# Fields whose value may follow their name with no verb ("with status active").
IMPLICIT_VALUE_FIELDS = frozenset({"status", "gender", "type", "country", "tags"})
# Custom fields named by these nouns may too ("with loyalty tier gold").
METADATA_NOUNS = frozenset(
    {
        "tier",
        "level",
        "plan",
        "membership",
        "rank",
        "grade",
        "category",
        "class",
        "program",
        "subscription",
        "package",
        "group",
        "band",
    }
)
