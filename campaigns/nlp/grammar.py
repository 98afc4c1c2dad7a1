"""The grammar of segment prompts: a recursive-descent reader over the tokens.

A prompt is read left to right as a sequence of *constructions* ("spent over 500",
"in Paris or Lyon", "aged 25 to 34", "whose tier is gold"), separated by connectors
(`and`, `or`, commas) and words that carry no condition ("customers who have").
At each place the constructions are tried in a fixed order; each is a small parser
built from shared pieces: numbers and amounts, comparisons ("at least 3", "between
100 and 500 euros", "1.5k+"), durations ("2 weeks"), dates ("March 2024", "1st of
May 2023", "2024-03-01") and time windows ("in the last 90 days", "since March
2024", "more than 6 months ago"). A negator ("not", "haven't", "without") negates the
construction that follows it. What no construction reads is reported verbatim.

The words each construction reads are in campaigns.nlp.phrases (and the base words in
campaigns.nlp.lexicon, the places in campaigns.nlp.places).

Each construction yields an Item: its primary conditions and, for a verb with a time
window ("spent over 500 in the last year"), secondary ones (the recency), which the
assembly puts after the primary conditions of the whole group (seed 000's order)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from campaigns.nlp import lexicon as lex
from campaigns.nlp import phrases as ph
from campaigns.nlp import places
from campaigns.nlp.explain import TEXT_OPERATOR_WORDS, listed
from campaigns.nlp.phrases import phrase_list, phrase_list_of
from campaigns.nlp.tokens import DATE, NUMBER, PUNCT, QUOTED, SYMBOL, WORD, Token, fold
from campaigns.nlp.tree import AND, OR, Cond, Group, Node, condition, criterion, negation_of

# Resolves a point of sale's name or code to the ids of the account's points of sale.
PosResolver = Callable[[str], list[str] | None]

MAX_AGE = 130
MAX_DURATION_DAYS = 10**6  # a longer "in the last ..." is not understood
MAX_LIST = 20  # items of one list ("in Paris, Lyon or ..."): the reading stays linear


# --- Results -------------------------------------------------------------------------


@dataclass
class Comparison:
    """A comparison read from a prompt: `op` one of > >= < <= = != between (`value`
    and `high`); `bare` when no comparator was written ("spent 500")."""

    op: str
    value: Decimal
    high: Decimal | None = None
    bare: bool = False
    times: bool = False  # written as once/twice/thrice

    def text(self) -> str:
        if self.op == "between":
            return f"between {_number_text(self.value)} and {_number_text(self.high)}"
        words = {
            ">": "more than",
            ">=": "at least",
            "<": "less than",
            "<=": "at most",
            "=": "exactly",
            "!=": "other than",
        }
        return f"{words[self.op]} {_number_text(self.value)}"


@dataclass
class Window:
    """A time frame: `within`/`ago` N `days`; `since`/`after`/`before`/`until` a day;
    `period` [start, end]. `explicit_year` is False for a month named without a year."""

    kind: str
    days: int = 0
    start: date | None = None
    end: date | None = None
    explicit_year: bool = True


@dataclass
class Item:
    primary: list[Node]
    start: int
    end: int
    secondary: list[Node] = field(default_factory=list)
    connector: str = "and"
    domain: str = ""  # order, join: what a floating time window attaches to
    negation_applied: bool = False
    window: Window | None = None  # a time window standing alone
    window_negated: bool = False  # "... but not in the last 6 months"
    unknown: bool = False  # a construction recognised but not expressible


def _number_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _json_number(value: Decimal) -> int | str:
    return int(value) if value == value.to_integral_value() else format(value.normalize(), "f")


def years_before(day: date, years: int) -> date | None:
    """The same day `years` years before (29 February -> 28 February), or None before
    year 1."""
    year = day.year - years
    if year < 1 or year > 9999:
        return None
    try:
        return day.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_COMPACT_DURATION = re.compile(r"(\d+)(d|w|wk|wks|mo|mos|m|y|yr|yrs)")
_DECADE = re.compile(r"(?:(\d{2})(\d{2})|(\d{2}))'?s")


class Grammar:
    """Reads one prompt. `parse()` answers the alternatives (each a list of Items) and
    leaves `self.state` telling, token by token, what was understood."""

    USED, FILLER, UNKNOWN, CONNECTOR = "used", "filler", "unknown", "connector"

    def __init__(
        self,
        prompt: str,
        tokens: list[Token],
        *,
        today: date,
        pos_resolver: PosResolver | None = None,
    ) -> None:
        self.prompt = prompt
        self.tokens = tokens
        self.n = len(tokens)
        self.today = today
        self.pos_resolver = pos_resolver
        self.state: list[str] = [""] * self.n

    # --- Token helpers ------------------------------------------------------------------

    def key(self, i: int) -> str:
        return self.tokens[i].key if 0 <= i < self.n else ""

    def kind(self, i: int) -> str:
        return self.tokens[i].kind if 0 <= i < self.n else ""

    def token(self, i: int) -> Token | None:
        return self.tokens[i] if 0 <= i < self.n else None

    def match(
        self, i: int, phrases: Iterable[tuple[str, ...]]
    ) -> tuple[tuple[str, ...], int] | None:
        """The longest of `phrases` (word tuples, longest first) at `i`, and the index
        after it."""
        if i >= self.n or self.tokens[i].kind == QUOTED:
            return None
        first = self.tokens[i].key
        if isinstance(phrases, list) and len(phrases) >= _INDEXED:
            phrases = _by_first_word(phrases).get(first, ())
        for phrase in phrases:
            if phrase[0] != first:
                continue
            end = i + len(phrase)
            if end <= self.n and all(
                self.tokens[i + k].key == word and self.tokens[i + k].kind != QUOTED
                for k, word in enumerate(phrase[1:], 1)
            ):
                return phrase, end
        return None

    def at(self, i: int, phrases: Iterable[tuple[str, ...]]) -> int | None:
        found = self.match(i, phrases)
        return found[1] if found else None

    def words(self, i: int, *words: str) -> int | None:
        """The index after `words` if they are at `i`."""
        return self.at(i, [tuple(words)])

    def skip(self, i: int, words: Iterable[str]) -> int:
        allowed = set(words)
        while i < self.n and self.tokens[i].key in allowed and self.kind(i) == WORD:
            i += 1
        return i

    def span(self, start: int, end: int) -> tuple[int, int]:
        return (start, end)

    # --- Numbers ------------------------------------------------------------------------

    def number_words(self, i: int) -> tuple[Decimal, int] | None:
        """A number spelled out: "twenty five", "twenty-five", "a hundred", "3 thousand"
        is read by amount()."""
        total = Decimal(0)
        current = Decimal(-1)
        j = i
        while j < self.n and self.kind(j) == WORD:
            parts = self.key(j).split("-")
            if not all(p in lex.NUMBER_WORDS for p in parts):
                break
            if parts[0] in ("a", "an") and (
                len(parts) > 1 or self.key(j + 1) not in ("hundred", "thousand", "dozen")
            ):
                break
            if parts[0] == "none":
                break
            for part in parts:
                value = Decimal(lex.NUMBER_WORDS[part])
                if part == "hundred":
                    current = (current if current >= 0 else Decimal(1)) * 100
                elif part == "thousand":
                    total += (current if current >= 0 else Decimal(1)) * 1000
                    current = Decimal(0)
                elif part == "dozen":
                    current = (current if current >= 0 else Decimal(1)) * 12
                else:
                    current = value if current < 0 else current + value
            j += 1
        if j == i:
            return None
        return total + max(current, Decimal(0)), j

    def amount(self, i: int, *, times: bool = False) -> tuple[Decimal, int, bool, bool] | None:
        """(value, end, written as money, written as once/twice) of a number at `i`:
        "500", "€1.5k", "1,500 euros", "$ 200", "five hundred", "2 grand", "twice"."""
        currency = False
        j = i
        if self.key(j) in lex.CURRENCY_WORDS and self.kind(j + 1) == NUMBER:
            currency, j = True, j + 1
        if times and self.key(j) in lex.TIMES_WORDS and self.kind(j) == WORD:
            return Decimal(lex.TIMES_WORDS[self.key(j)]), j + 1, False, True
        if self.kind(j) == NUMBER:
            token = self.tokens[j]
            assert token.number is not None
            value, j = token.number, j + 1
            currency = currency or token.currency
        else:
            spelled = self.number_words(j)
            if spelled is None:
                return None
            value, j = spelled
        while self.key(j) in lex.MULTIPLIERS and self.kind(j) == WORD:
            value *= lex.MULTIPLIERS[self.key(j)]
            j += 1
        if self.key(j) in lex.CURRENCY_WORDS and self.kind(j) in (WORD, SYMBOL):
            currency, j = True, j + 1
        return value, j, currency, False

    def amount_comparison(self, i: int) -> tuple[Comparison, int] | None:
        """A comparison of an amount at `i`, not of a count written as once/twice."""
        found = self.comparison(i)
        if found is None or found[0].times:
            return None
        return found

    def comparison(self, i: int, *, times: bool = False) -> tuple[Comparison, int] | None:
        """A comparison at `i` (see Comparison)."""
        j = self.skip(i, ("of", "is", "was", "are", "a", "total", "be", "only", "just"))
        if self.key(j) == "between":
            low = self.amount(j + 1, times=times)
            if low is None:
                return None
            k = low[1]
            if self.key(k) in ("and", "to", "-", "\u2013", "&"):
                high = self.amount(k + 1, times=times)
                if high is not None:
                    a, b = sorted((low[0], high[0]))
                    return Comparison("between", a, b), high[1]
            return None
        if self.key(j) == "from":
            low = self.amount(j + 1, times=times)
            if low is None:
                return None
            k = low[1]
            to = self.at(k, [("to",), ("-",), ("up", "to"), ("until",), ("through",), ("\u2013",)])
            if to is not None:
                high = self.amount(to, times=times)
                if high is not None:
                    a, b = sorted((low[0], high[0]))
                    return Comparison("between", a, b), high[1]
            return Comparison(">=", low[0]), k
        prefix = self.match(j, _ALL_PREFIX)
        if prefix is not None:
            value = self.amount(prefix[1], times=times)
            if value is None:
                return None
            # "more than once": the op keeps its meaning with a times word.
            return Comparison(_PREFIX_OP[prefix[0]], value[0], times=value[3]), value[1]
        value = self.amount(j, times=times)
        if value is None:
            return None
        number, k, _, is_times = value
        if self.key(k) in ("-", "\u2013", "to") and not is_times:
            high = self.amount(k + 1, times=times)
            if high is not None and (self.key(k) != "to" or high[0] >= number):
                a, b = sorted((number, high[0]))
                return Comparison("between", a, b), high[1]
        for op in (">=", "<="):
            end = self.at(k, _POSTFIX[op])
            if end is not None:
                return Comparison(op, number, times=is_times), end
        return Comparison("=", number, bare=True, times=is_times), k

    def duration(self, i: int) -> tuple[int, int] | None:
        """(days, end) of "90 days", "2 weeks", "a year", "six months", "a few weeks",
        "90d", "30-day"."""
        compact = _COMPACT_DURATION.fullmatch(self.key(i)) if self.kind(i) == WORD else None
        if compact:
            unit = "mo" if compact.group(2) == "m" else compact.group(2)
            days = int(compact.group(1)) * lex.UNITS[unit]
            return (days, i + 1) if days <= MAX_DURATION_DAYS else None
        j = i
        count: Decimal
        vague = self.match(j, _VAGUE)
        if vague:
            count, j = Decimal(lex.VAGUE_NUMBERS[" ".join(vague[0])]), vague[1]
        elif self.key(j) in ("a", "an", "one", "the") and self.key(j + 1) in lex.UNITS:
            count, j = Decimal(1), j + 1
        elif self.words(j, "half", "a", "year") or self.words(j, "half", "year"):
            return 182, (j + 3 if self.key(j + 1) == "a" else j + 2)
        else:
            value = self.amount(j)
            if value is None:
                return None
            count, j = value[0], value[1]
        if self.key(j) == "-":
            j += 1
        unit = self.key(j)
        if unit not in lex.UNITS or self.kind(j) != WORD:
            return None
        if not 0 <= count <= MAX_DURATION_DAYS:  # before any arithmetic on a huge number
            return None
        days = count * lex.UNITS[unit]
        if lex.UNITS[unit] == lex.UNITS["month"] and count and count % 12 == 0:
            days = count / 12 * lex.UNITS["year"]  # 12 months are a year, not 360 days
        if days > MAX_DURATION_DAYS:
            return None
        return int(days.to_integral_value()), j + 1

    # --- Dates and windows ----------------------------------------------------------------

    def date_ref(self, i: int) -> tuple[date, date, bool, int] | None:
        """(first day, last day, year given, end) of a day, month, year or decade:
        "2024-03-01", "March 2024", "1st of March 2024", "March 1, 2024", "2024",
        "March" (its last occurrence), "the 80s", "1980s", "today", "last month"."""
        j = self.skip(i, ("the",))
        token = self.token(j)
        if token is None:
            return None
        if token.kind == DATE and token.day:
            return token.day, token.day, True, j + 1
        today = self.today
        if token.key == "today":
            return today, today, True, j + 1
        if token.key == "yesterday":
            day = today - timedelta(days=1)
            return day, day, True, j + 1
        relative = self.match(j, _RELATIVE_PERIODS)
        if relative:
            first_day, last_day = self.relative_period(relative[0])
            return first_day, last_day, True, relative[1]
        decade = self.decade(j)
        if decade:
            return decade
        # 1st of March [2024] / 1 March [2024]
        if (
            token.kind == NUMBER
            and token.number is not None
            and self.key(j + 1 + (self.key(j + 1) == "of")) in lex.MONTHS
        ):
            day_number = token.number
            k = j + 1 + (self.key(j + 1) == "of")
            month = lex.MONTHS[self.key(k)]
            year, end, explicit = self.year_after(k + 1, month)
            return self._day(year, month, day_number, explicit, end)
        if (
            token.kind == WORD
            and token.key in lex.MONTHS
            and (token.capitalised or token.key not in ("may", "mar", "jan", "dec"))
        ):
            month = lex.MONTHS[token.key]
            k = j + 1
            if self.kind(k) == NUMBER and self.tokens[k].number is not None:
                number = self.tokens[k].number
                assert number is not None
                if (
                    1 <= number <= 31
                    and number == int(number)
                    and not (self.tokens[k].integer_text and number >= 1000)
                ):
                    year, end, explicit = self.year_after(k + 1 + (self.key(k + 1) == ","), month)
                    return self._day(year, month, number, explicit, end)
            year, end, explicit = self.year_after(k, month)
            try:
                return date(year, month, 1), _month_end(year, month), explicit, end
            except ValueError:
                return None
        whole_year = self.year(j)
        if whole_year is not None:
            return date(whole_year, 1, 1), date(whole_year, 12, 31), True, j + 1
        return None

    def _day(
        self, year: int, month: int, number: Decimal, explicit: bool, end: int
    ) -> tuple[date, date, bool, int] | None:
        if number != int(number):
            return None
        try:
            day = date(year, month, int(number))
        except ValueError:
            return None
        if not explicit and day > self.today:
            day = years_before(day, 1) or day
        return day, day, explicit, end

    def year(self, i: int) -> int | None:
        token = self.tokens[i] if 0 <= i < self.n else None
        if token is None or token.kind != NUMBER or not token.integer_text or token.currency:
            return None
        assert token.number is not None
        year = int(token.number)
        return year if 1900 <= year <= 2100 else None

    def year_after(self, i: int, month: int) -> tuple[int, int, bool]:
        """(the year written at `i`, or the last year whose `month` has begun; end;
        whether it was written)."""
        j = i + 1 if self.key(i) in (",", "of") and self.year(i + 1) is not None else i
        year = self.year(j)
        if year is not None:
            return year, j + 1, True
        this_year = self.today.year
        return (this_year if month <= self.today.month else this_year - 1), i, False

    def decade(self, i: int) -> tuple[date, date, bool, int] | None:
        key = self.key(i)
        found = _DECADE.fullmatch(key) if self.kind(i) == WORD else None
        if found:
            if found.group(1):
                start_year = int(found.group(1) + found.group(2))
            else:
                short = int(found.group(3))
                start_year = (1900 if short >= 30 else 2000) + short
            if start_year % 10 or not 1800 <= start_year <= 2100:
                return None
            return date(start_year, 1, 1), date(start_year + 9, 12, 31), True, i + 1
        if key in lex.DECADE_WORDS:
            start_year = 1900 + lex.DECADE_WORDS[key]
            return date(start_year, 1, 1), date(start_year + 9, 12, 31), True, i + 1
        return None

    def relative_period(self, phrase: tuple[str, ...]) -> tuple[date, date]:
        today = self.today
        name = " ".join(phrase)
        if name in ("this year", "the current year", "current year"):
            return date(today.year, 1, 1), today
        if name in ("this month", "the current month", "current month"):
            return today.replace(day=1), today
        if name == "last year":
            return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
        if name == "last month":
            end = today.replace(day=1) - timedelta(days=1)
            return end.replace(day=1), end
        if name in (
            "the start of the year",
            "the beginning of the year",
            "start of the year",
            "beginning of the year",
            "the start of this year",
            "the beginning of this year",
        ):
            return date(today.year, 1, 1), date(today.year, 1, 1)
        if name in (
            "the start of the month",
            "the beginning of the month",
            "start of the month",
            "beginning of the month",
        ):
            return today.replace(day=1), today.replace(day=1)
        if name == "last week":
            return today - timedelta(days=7), today - timedelta(days=7)
        raise AssertionError(name)

    def window(self, i: int) -> tuple[Window, int] | None:
        """A time frame at `i` (see Window)."""
        today = self.today
        j = i
        lead = self.match(j, ph.WINDOW_LEADS)
        after_lead = lead[1] if lead else j
        # in the last 90 days / past year / over the previous 2 weeks / last month
        k = self.skip(after_lead, ("the", "this"))
        if self.key(k) in lex.RECENT_WORDS:
            duration = self.duration(k + 1)
            if duration is None and self.key(k + 1) in lex.UNITS:
                duration = (lex.UNITS[self.key(k + 1)], k + 2)
            if duration is not None:
                return Window("within", days=duration[0]), duration[1]
        # within 30 days / in 6 months / for 3 months / in under 30 days
        if lead and lead[0] in (("within",), ("in",), ("for",), ("over",), ("during",)):
            k = self.skip(
                after_lead,
                (
                    "the",
                    "more",
                    "than",
                    "over",
                    "under",
                    "less",
                    "at",
                    "least",
                    "about",
                    "around",
                    "nearly",
                    "almost",
                ),
            )
            duration = self.duration(k)
            if duration is not None and self.key(duration[1]) != "ago":
                return Window("within", days=duration[0]), duration[1]
        # [more than] 6 months ago / less than 30 days ago
        comparator = self.match(j, _AGO_COMPARATORS)
        k = comparator[1] if comparator else j
        duration = self.duration(k)
        if duration is not None and self.key(duration[1]) == "ago":
            less = comparator is not None and comparator[0][0] in (
                "less",
                "under",
                "within",
                "fewer",
            )
            return Window("within" if less else "ago", days=duration[0]), duration[1] + 1
        # recently, today, yesterday, this week
        simple = self.match(j, _SIMPLE_WINDOWS)
        if simple:
            name = " ".join(simple[0])
            if name in ("this month", "this year"):
                start, _ = self.relative_period(("this", simple[0][-1]))
                return Window("since", start=start), simple[1]
            return Window("within", days=_SIMPLE_WINDOW_DAYS[name]), simple[1]
        # since / after / before / until DATE, between DATE and DATE, in/on DATE
        word = self.match(j, _DATE_LEADS)
        if word is None:
            return None
        lead_word = " ".join(word[0])
        if lead_word == "between":
            first = self.date_ref(word[1])
            if first and self.key(first[3]) in ("and", "to", "-", "&"):
                second = self.date_ref(first[3] + 1)
                if second:
                    start, end = sorted((first[0], second[1]))
                    return Window(
                        "period", start=start, end=end, explicit_year=first[2] and second[2]
                    ), second[3]
            return None
        found = self.date_ref(word[1])
        if found is None:
            return None
        start, end, explicit, k = found
        if lead_word in ("from",):
            to = self.at(k, [("to",), ("until",), ("till",), ("through",), ("-",), ("\u2013",)])
            if to is not None:
                second = self.date_ref(to)
                if second:
                    low, high = sorted((start, second[1]))
                    return Window(
                        "period", start=low, end=high, explicit_year=explicit and second[2]
                    ), second[3]
            return Window("since", start=start, explicit_year=explicit), k
        if lead_word in ("since", "starting", "starting from", "as of", "from", "beginning"):
            return Window("since", start=start, explicit_year=explicit), k
        if lead_word in ("after",):
            return Window("after", start=end, explicit_year=explicit), k
        if lead_word in ("before", "prior to", "earlier than"):
            return Window("before", start=start, explicit_year=explicit), k
        if lead_word in ("until", "till", "up to", "up until", "through", "by", "no later than"):
            return Window("until", start=end, explicit_year=explicit), k
        if lead_word in (
            "in",
            "during",
            "on",
            "throughout",
            "sometime in",
            "any time in",
            "anytime in",
            "at any point in",
        ):
            if today < start:
                return None
            return Window("period", start=start, end=end, explicit_year=explicit), k
        return None

    # --- The reader -----------------------------------------------------------------------

    def parse(self) -> list[list[Item]]:
        alternatives: list[list[Item]] = []
        for start, end in self.alternative_spans():
            alternatives.append(self.parse_span(start, end))
        return alternatives

    def alternative_spans(self) -> list[tuple[int, int]]:
        """A prompt's alternatives: "customers in Paris, or customers who spent over
        1000" is two prompts joined by OR."""
        spans, start = [], 0
        for i in range(self.n):
            if self.key(i) != "or" or self.kind(i) != WORD:
                continue
            k = self.skip(i + 1, ("the", "all", "any", "else"))
            subject = self.key(k) in _ALTERNATIVE_SUBJECTS or (
                # "women in Paris or men in Lyon", but not "women or men in Lyon"
                self.key(k) in ph.GENDER_NOUNS
                and self.key(i - 1) not in ph.GENDER_NOUNS
                and self.key(i - 1) != ","
            )
            if subject and self.kind(k) == WORD and i > start:
                self.state[i] = self.CONNECTOR
                spans.append((start, i))
                start = i + 1
        spans.append((start, self.n))
        return spans

    def parse_span(self, start: int, stop: int) -> list[Item]:
        items: list[Item] = []
        connector: str | None = None
        negation: int | None = None
        i = start
        while i < stop:
            token = self.tokens[i]
            if token.kind == PUNCT:
                self.state[i] = self.CONNECTOR
                if token.key in (",", ";") and connector is None:
                    connector = ","
                elif token.key in (".", ";", "!", "?"):
                    connector = "and"
                i += 1
                continue
            or_end = self.at(i, _OR)
            if or_end is not None and token.kind in (WORD, SYMBOL):
                self._mark(i, or_end, self.CONNECTOR)
                connector = "or"
                i = or_end
                continue
            negator = self.at(i, _NEGATORS)
            if negator is not None and not self._negator_is_part_of_construction(i):
                negation = i if negation is None else negation
                i = negator
                continue
            and_end = self.at(i, _AND)
            if and_end is not None:
                self._mark(i, and_end, self.CONNECTOR)
                if connector != "or":
                    connector = "and"
                i = and_end
                continue
            found = self.construction(i, negated=negation is not None, items=items)
            if found is not None:
                item, end = found
                first = negation if negation is not None else i
                if item.window is not None and negation is not None:
                    item.window_negated = True
                elif negation is not None and not item.negation_applied and not item.unknown:
                    item = self._negated(item)
                item.start = first
                if item.unknown:
                    self._mark(first, end, self.UNKNOWN)
                else:
                    self._mark(first, end, self.USED)
                    item.connector = connector or "and"
                    items.append(item)
                connector, negation = None, None
                i = end
                continue
            if token.kind == WORD and token.key in lex.FILLERS:
                self.state[i] = self.FILLER
                i += 1
                continue
            if negation is not None:
                self._mark(negation, i, self.UNKNOWN)
                negation = None
            self.state[i] = self.UNKNOWN
            i += 1
        if negation is not None:
            self._mark(negation, stop, self.UNKNOWN)
        return self._attach_windows(items)

    def _negator_is_part_of_construction(self, i: int) -> bool:
        """ "no orders", "without email", "not assigned" read their negator themselves."""
        return (
            any(
                self.at(i, phrases) is not None
                for phrases in (
                    ph.ABSENCE_LEADS,
                    ph.UNASSIGNED_WORDS,
                    ph.PLACE_OUTSIDE,
                    _NEGATED_OPT,
                )
            )
            and self.construction(i, negated=False, items=[]) is not None
        )

    def _mark(self, start: int, end: int, state: str) -> None:
        for k in range(start, min(end, self.n)):
            self.state[k] = state

    def _negated(self, item: Item) -> Item:
        nodes = [negation_of(node) for node in item.primary]
        if not nodes or any(node is None for node in nodes):
            item.unknown = True
            return item
        primary: list[Node] = [node for node in nodes if node is not None]
        if len(primary) > 1:  # not (a and b) = (not a) or (not b)
            primary = [Group(OR, primary)]
        # The window of a negated verb is its subject: "not ordered in 6 months".
        return Item(primary, item.start, item.end, domain=item.domain)

    def _attach_windows(self, items: list[Item]) -> list[Item]:
        """A time window standing alone ("... who ordered twice, in the last year")
        qualifies the nearest verb about orders or sign-ups before it, else after it."""
        result: list[Item] = []
        for index, item in enumerate(items):
            if item.window is None:
                result.append(item)
                continue
            before = [other for other in reversed(items[:index]) if other.domain]
            after = [other for other in items[index + 1 :] if other.domain]
            host = (before or after)[0] if before or after else None
            nodes = self.window_nodes(host.domain, "", item.window, item) if host else None
            if nodes and item.window_negated:
                flipped = [negation_of(node) for node in nodes]
                nodes = None if any(n is None for n in flipped) else [n for n in flipped if n]
            if host is None or not nodes:
                self._mark(item.start, item.end, self.UNKNOWN)
                continue
            host.secondary.extend(nodes)
        return result

    # --- Constructions --------------------------------------------------------------------

    def construction(self, i: int, *, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        for reader in (
            self.read_place,
            self.read_demonym,
            self.read_optin,
            self.read_tags,
            self.read_birthday,
            self.read_born,
            self.read_age,
            self.read_generation,
            self.read_gender,
            self.read_spend,
            self.read_average,
            self.read_points,
            self.read_count,
            self.read_last_first_order,
            self.read_order,
            self.read_join,
            self.read_status,
            self.read_lifecycle,
            self.read_assigned,
            self.read_email_provider,
            self.read_field,
            self.read_presence,
            self.read_amount_first,
            self.read_bare_age,
            self.read_vip,
            self.read_floating_window,
        ):
            found = reader(i, negated, items)
            if found is not None:
                return found
        return None

    # Places --------------------------------------------------------------------------

    def read_place(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        outside = self.match(i, ph.PLACE_OUTSIDE)
        strong = self.match(i, ph.PLACE_MARKERS_STRONG)
        marker = outside or strong or self.match(i, ph.PLACE_MARKERS)
        if marker is None:
            return None
        j = self.skip(marker[1], ("the",))
        found = self.place_list(j, strong=strong is not None or outside is not None)
        if found is None:
            return None
        nodes, end = found
        node: Node = nodes[0] if len(nodes) == 1 else Group(OR, nodes)
        item = Item([node], i, end)
        if outside is not None:
            flipped = negation_of(node)
            if flipped is None:
                return Item([], i, end, unknown=True), end
            item = Item([flipped], i, end)
            if negated:  # "not outside France"
                item = self._negated(item)
            item.negation_applied = True
        return item, end

    def place_list(self, j: int, *, strong: bool) -> tuple[list[Node], int] | None:
        """Places joined by commas, "or" and "and" (a customer lives in one place, so
        "in Paris and Lyon" means either)."""
        first = self.place(j, strong=strong)
        if first is None:
            return None
        found = [first]
        end = first[2]
        while len(found) < MAX_LIST:
            k = end
            if self.key(k) == ",":
                k += 1
            if self.key(k) in ("or", "and", "&"):
                k += 1
            if k == end:
                break
            k = self.skip(k, ("the",))
            following = self.place(k, strong=strong)
            if following is None:
                break
            found.append(following)
            end = following[2]
        by_field: dict[str, list[tuple[list[str], str]]] = {}
        for (field_name, values, shown_name), _, _ in found:
            by_field.setdefault(field_name, []).append((values, shown_name))
        nodes: list[Node] = []
        for field_name, entries in by_field.items():
            values = [v for vs, _ in entries for v in vs]
            shown_names = [s for _, s in entries]
            unique = list(dict.fromkeys(values))
            if field_name == "city" and len(unique) == 1:
                nodes.append(condition("city", "=", unique[0], (j, end)))
                continue
            phrase = f"{field_name} is {listed(shown_names)}"
            nodes.append(condition(field_name, "in", unique, (j, end), phrase))
        return nodes, end

    def place(self, j: int, *, strong: bool) -> tuple[tuple[str, list[str], str], int, int] | None:
        """((field, values to match, name shown), start, end) of one place at `j`."""
        token = self.token(j)
        if token is None:
            return None
        if token.kind == QUOTED:
            named = _gazetteer_lookup(token.key, capitalised=True)
            if named:
                return named, j, j + 1
            return ("city", [token.inner], token.inner), j, j + 1
        for length in range(min(5, self.n - j), 0, -1):
            words = self.tokens[j : j + length]
            if any(t.kind != WORD for t in words):
                continue
            key = " ".join(t.key for t in words)
            if key == "us" and words[0].text != "US":
                continue
            named = _gazetteer_lookup(key, capitalised=words[0].capitalised)
            if named and not self._followed_by_store(j + length):
                return named, j, j + length
        # A capitalised phrase: "Rio de Janeiro", "Saint-Denis", "Springfield".
        k = j
        while k < self.n and self.kind(k) == WORD:
            current = self.tokens[k]
            if current.capitalised and current.key not in ph.KNOWN_WORDS:
                k += 1
                continue
            if (
                k > j
                and current.key in ph.PLACE_JOINERS
                and k + 1 < self.n
                and self.tokens[k + 1].capitalised
                and self.tokens[k + 1].key not in ph.KNOWN_WORDS
            ):
                k += 1
                continue
            break
        if k > j and k - j <= 5 and not self._followed_by_store(k):
            name = " ".join(t.text for t in self.tokens[j:k])
            return ("city", [name], name), j, k
        if (
            strong
            and token.kind == WORD
            and token.key not in ph.KNOWN_WORDS
            and not self._followed_by_store(j + 1)
        ):
            return ("city", [token.text], token.text), j, j + 1
        return None

    def _followed_by_store(self, k: int) -> bool:
        return self.key(k) in ph.STORE_WORDS

    def read_demonym(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        code = places.DEMONYMS.get(self.key(i))
        if code is None:
            return None
        following = self.key(i + 1)
        if following not in lex.PERSON_NOUNS and following not in ph.GENDER_NOUNS:
            return None
        node = _country_condition(code, (i, i + 1))
        return Item([node], i, i + 1), i + 1

    # Opt-ins -------------------------------------------------------------------------

    def channels(self, j: int) -> tuple[list[tuple[str, str]], int] | None:
        """Channels joined by and/or at `j`: ([(channel, joiner)], end)."""
        j = self.skip(j, ("the", "our", "their", "receive", "receiving", "getting", "get"))
        found = self.match(j, ph.CHANNEL_PHRASES)
        if found is None:
            return None
        result = [(ph.CHANNEL_WORDS[found[0]], "")]
        end = found[1]
        while self.key(end) in ("and", "or", "&", ",") or self.words(end, "and", "or"):
            joiner = "or" if self.key(end) == "or" else "and"
            k = self.skip(end + 1, ("the", "by", "via"))
            following = self.match(k, ph.CHANNEL_PHRASES)
            if following is None:
                break
            result.append((ph.CHANNEL_WORDS[following[0]], joiner))
            end = following[1]
        end = self.at(end, ph.CHANNEL_TAILS) or end
        return result, end

    def _optin_nodes(
        self,
        channels: list[tuple[str, str]],
        value: bool,
        span: tuple[int, int],
        *,
        reachable: bool = False,
    ) -> list[Node]:
        nodes: list[Node] = []
        for channel, _ in channels:
            field_name = "email_opt_in" if channel == "email" else "sms_opt_in"
            node: Node = condition(field_name, "=", value, span)
            if reachable:
                address = condition(
                    "email" if channel == "email" else "phone", "is_not_empty", None, span
                )
                node = Group(AND, [node, address])
            nodes.append(node)
        if len(nodes) > 1 and any(joiner == "or" for _, joiner in channels):
            return [Group(OR, nodes)]
        return nodes

    def read_optin(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        reachable = self.match(i, ph.REACHABLE_WORDS)
        if reachable:
            found = self.channels(reachable[1])
            if found:
                nodes = self._optin_nodes(found[0], True, (i, found[1]), reachable=True)
                return Item(nodes, i, found[1]), found[1]
        for word in ("emailable", "textable"):
            if self.key(i) == word:
                nodes = self._optin_nodes(
                    [("email" if word == "emailable" else "sms", "")], True, (i, i + 1)
                )
                return Item(nodes, i, i + 1), i + 1
        for phrases, value in ((ph.OPT_OUT_WORDS, False), (ph.OPT_IN_WORDS, True)):
            verb = self.match(i, phrases)
            if verb is None:
                continue
            j = self.skip(verb[1], ("to", "for", "into", "of", "from", "on", "with"))
            found = self.channels(j)
            if found is None and self.window(verb[1]) is not None:
                continue  # "subscribed in the last month": a sign-up
            if found is None:
                if verb[0] in ph.OPT_IN_NEEDS_CHANNEL or (
                    value is False and verb[0] in (("refused",), ("declined",))
                ):
                    continue
                if (
                    self.key(verb[1]) in ("to", "for", "from", "of")
                    and self.kind(verb[1] + 1) == WORD
                ):
                    continue  # opted in to something we do not know
                # "opted in" alone: email, the default channel of campaigns.
                nodes = self._optin_nodes([("email", "")], value, (i, verb[1]))
                return Item(nodes, i, verb[1]), verb[1]
            nodes = self._optin_nodes(found[0], value, (i, found[1]))
            return Item(nodes, i, found[1]), found[1]
        found = self.channels(self.skip(i, ("with", "having", "a", "an", "their")))
        if found is not None:
            channels, end = found
            suffix_in = self.at(end, ph.OPT_SUFFIX_IN)
            suffix_out = self.at(end, ph.OPT_SUFFIX_OUT)
            if suffix_in is not None or suffix_out is not None:
                stop = suffix_in or suffix_out
                assert stop is not None
                nodes = self._optin_nodes(channels, suffix_in is not None, (i, stop))
                return Item(nodes, i, stop), stop
        return None

    # Tags ----------------------------------------------------------------------------

    def tag_value(self, j: int) -> tuple[str, int] | None:
        token = self.token(j)
        if token is None:
            return None
        if token.kind == QUOTED:
            return token.inner, j + 1
        if token.kind == WORD and token.key.startswith("#") and len(token.key) > 1:
            return token.text[1:], j + 1
        if token.kind in (WORD, NUMBER) and (
            token.key not in ph.KNOWN_WORDS or token.key in ph.VIP_WORDS
        ):
            return (token.text if token.key not in ph.VIP_WORDS else "vip"), j + 1
        return None

    def read_tags(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        token = self.tokens[i]
        if token.kind == WORD and token.key.startswith("#") and len(token.key) > 1:
            node = condition("tags", "contains", token.text[1:], (i, i + 1))
            return Item([node], i, i + 1), i + 1
        if self.key(i) in ("non-vip", "non-vips"):
            node = condition("tags", "not_contains", "vip", (i, i + 1))
            return Item([node], i, i + 1), i + 1
        marker = self.match(i, ph.TAG_MARKERS)
        if marker is not None:
            found = self.tag_values(self.skip(marker[1], ("as", "with", "the", "a", "an")))
            if found is None:
                return None
            values, joiners, end = found
            end = self.at(end, [("tag",), ("tags",), ("label",)]) or end
            return self.tags_item(values, joiners, i, end), end
        # "with the vip tag", "vip or gold tagged"
        found = self.tag_values(self.skip(i, ("with", "having", "has", "have", "the", "a", "an")))
        if found is None:
            return None
        values, joiners, end = found
        suffix = self.at(end, [("tag",), ("tags",), ("label",), ("labels",), ("tagged",)])
        if suffix is None:
            return None
        return self.tags_item(values, joiners, i, suffix), suffix

    def tag_values(self, j: int) -> tuple[list[str], list[str], int] | None:
        """(tags, the joiners between them, end) of "vip", "vip or gold", "a, b and c"."""
        first = self.tag_value(j)
        if first is None:
            return None
        values, joiners, end = [first[0]], [], first[1]
        while len(values) < MAX_LIST:
            k = end
            joiner = None
            if self.key(k) == ",":
                k, joiner = k + 1, "or"
            if self.key(k) in ("or", "and", "&"):
                joiner = "and" if self.key(k) in ("and", "&") else "or"
                k += 1
            if joiner is None:
                break
            k = self.skip(k, ("as", "with"))
            following = self.tag_value(k)
            if following is None:
                break
            # "tagged vip and tier is gold": "and" joins the tags only when the word after
            # is a tag and not the name of a field (tag_value refuses the words that start
            # the other constructions).
            if joiner == "and" and self._names_a_field(k):
                break
            values.append(following[0])
            joiners.append(joiner)
            end = following[1]
        return values, joiners, end

    def _names_a_field(self, k: int) -> bool:
        key = self.field_key(k)
        return key is not None and self.field_operator(key[2], metadata=True)[0] is not None

    def tags_item(self, values: list[str], joiners: list[str], start: int, end: int) -> Item:
        span = (start, end)
        if len(values) == 1:
            return Item([condition("tags", "contains", values[0], span)], start, end)
        if "or" in joiners:
            return Item([condition("tags", "in", list(dict.fromkeys(values)), span)], start, end)
        nodes: list[Node] = [condition("tags", "contains", value, span) for value in values]
        return Item(nodes, start, end)

    def read_vip(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        if self.key(i) in ph.VIP_WORDS and self.kind(i) == WORD:
            return Item([condition("tags", "contains", "vip", (i, i + 1))], i, i + 1), i + 1
        return None

    # Birthdays, births, ages, genders ---------------------------------------------------

    def upcoming_days(self, j: int) -> tuple[int, int] | None:
        """(days, end) of "in the next 7 days", "this week", "this month", "today",
        "tomorrow", "coming up", "soon", "next month"."""
        j = self.skip(j, ("is", "are", "falls", "fall", "falling", "occurs", "coming"))
        lead = self.at(
            j,
            [
                ("in", "the", "next"),
                ("within", "the", "next"),
                ("in", "the", "coming"),
                ("within", "the", "coming"),
                ("over", "the", "next"),
                ("during", "the", "next"),
                ("the", "next"),
                ("next",),
                ("within",),
                ("in",),
                ("within", "the"),
            ],
        )
        if lead is not None:
            duration = self.duration(lead)
            if duration is not None:
                return duration
            if self.key(lead) in lex.UNITS:  # "in the next week"
                return lex.UNITS[self.key(lead)], lead + 1
        simple = self.match(j, _UPCOMING)
        if simple is None:
            return None
        name = " ".join(simple[0])
        today = self.today
        if name in ("this month", "in this month"):
            return _month_end(today.year, today.month).day - today.day, simple[1]
        if name == "next month":
            following = _month_end(today.year, today.month) + timedelta(days=1)
            last = _month_end(following.year, following.month)
            return (last - today).days, simple[1]
        return _UPCOMING_DAYS[name], simple[1]

    def read_birthday(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        j = self.skip(i, ("with", "a", "an", "their", "whose", "having", "have", "has", "the"))
        upcoming_first = self.at(j, [("upcoming",), ("coming",), ("next",)])
        if upcoming_first is not None:
            j = upcoming_first
        registration = self.match(j, ph.REGISTRATION_ANNIVERSARY_WORDS)
        birthday = self.match(j, ph.BIRTHDAY_WORDS)
        found = birthday or registration
        if found is None:
            return None
        kind = "birthday" if birthday else "registration"
        end = found[1]
        if upcoming_first is not None:
            days, stop = 30, end
            later = self.upcoming_days(end)
            if later is not None:
                days, stop = later
        else:
            later = self.upcoming_days(end)
            if later is None:
                return None
            days, stop = later
        node = criterion("anniversary", (i, stop), anniversary_type=kind, days=days)
        return Item([node], i, stop), stop

    def born_nodes(self, window: Window, span: tuple[int, int]) -> list[Node] | None:
        if not window.explicit_year or window.start is None:
            return None
        start = window.start.isoformat()
        if window.kind == "period":
            assert window.end is not None
            if window.start == window.end:
                return [condition("date_of_birth", "=", start, span)]
            return [condition("date_of_birth", "between", [start, window.end.isoformat()], span)]
        operator = {"since": ">=", "after": ">", "before": "<", "until": "<="}.get(window.kind)
        if operator is None:
            return None
        return [condition("date_of_birth", operator, start, span)]

    def read_born(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        verb = self.at(i, ph.BORN_WORDS)
        if verb is None:
            return None
        window = self.window(verb)
        if window is None:
            return None
        nodes = self.born_nodes(window[0], (i, window[1]))
        if nodes is None:
            return Item([], i, window[1], unknown=True), window[1]
        return Item(nodes, i, window[1]), window[1]

    def age_item(self, comparison: Comparison, span: tuple[int, int]) -> Item | None:
        """Ages as date_of_birth bounds, relative to today: age >= N is born on or before
        today N years ago; age <= N is born after today N+1 years ago."""
        low, high = comparison.value, comparison.high
        for bound_value in (low, high):
            if bound_value is not None and (
                bound_value != int(bound_value) or not 0 <= bound_value <= MAX_AGE
            ):
                return None
        a = int(low)
        b = int(high) if high is not None else a
        op = comparison.op
        if op == "=":
            op = "between"
        if op == "between":
            older, younger = years_before(self.today, b + 1), years_before(self.today, a)
            if older is None or younger is None:
                return None
            dates = [(older + timedelta(days=1)).isoformat(), younger.isoformat()]
            words = f"aged {a}" if a == b else f"aged {a} to {b}"
            phrase = f"{words} (date of birth between {dates[0]} and {dates[1]})"
            return Item([condition("date_of_birth", "between", dates, span, phrase)], *span)
        if op in (">", ">="):
            years = a + 1 if op == ">" else a
            bound = years_before(self.today, years)
            if bound is None:
                return None
            words = f"older than {a}" if op == ">" else f"aged {a} or over"
            phrase = f"{words} (date of birth on or before {bound.isoformat()})"
            return Item([condition("date_of_birth", "<=", bound.isoformat(), span, phrase)], *span)
        if op in ("<", "<="):
            years = a if op == "<" else a + 1
            bound = years_before(self.today, years)
            if bound is None:
                return None
            words = f"younger than {a}" if op == "<" else f"aged {a} or under"
            phrase = f"{words} (date of birth after {bound.isoformat()})"
            return Item([condition("date_of_birth", ">", bound.isoformat(), span, phrase)], *span)
        return None

    def read_age(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        # between the ages of 25 and 34
        j = self.words(i, "between", "the", "ages", "of") or self.words(i, "between", "ages")
        if j is not None:
            low = self.amount(j)
            if low and self.key(low[1]) in ("and", "to", "-"):
                high = self.amount(low[1] + 1)
                if high:
                    a, b = sorted((low[0], high[0]))
                    end = self.at(high[1], ph.AGE_SUFFIXES) or high[1]
                    item = self.age_item(Comparison("between", a, b), (i, end))
                    return (item, end) if item else None
        # older than 40 / younger than 30
        for words, op in (
            (("older", "than"), ">"),
            (("younger", "than"), "<"),
            (("over", "the", "age", "of"), ">"),
            (("under", "the", "age", "of"), "<"),
            (("above", "the", "age", "of"), ">"),
            (("below", "the", "age", "of"), "<"),
        ):
            j = self.words(i, *words)
            if j is not None:
                value = self.amount(j)
                if value is None:
                    return None
                end = self.at(value[1], ph.AGE_SUFFIXES) or value[1]
                item = self.age_item(Comparison(op, value[0]), (i, end))
                return (item, end) if item else None
        # in their 30s / in their early thirties
        j = self.words(i, "in", "their") or self.words(i, "in", "his", "or", "her")
        if j is not None:
            part = self.key(j) if self.key(j) in ("early", "mid", "late") else ""
            k = j + 1 if part else j
            decade = self._age_decade(k)
            if decade is not None:
                youngest = decade + {"": 0, "early": 0, "mid": 4, "late": 7}[part]
                oldest = decade + {"": 9, "early": 3, "mid": 6, "late": 9}[part]
                comparison = Comparison("between", Decimal(youngest), Decimal(oldest))
                item = self.age_item(comparison, (i, k + 1))
                return (item, k + 1) if item else None
        # aged 25 to 34 / age > 40 / aged 65+
        marker = self.at(i, ph.AGE_MARKERS)
        if marker is not None:
            found = self.comparison(
                self.skip(marker, (":", "=")) if self.key(marker) == ":" else marker
            )
            if found is not None:
                comparison, end = found
                end = self.at(end, ph.AGE_SUFFIXES) or end
                end = self.at(end, [("and", "older"), ("or", "older"), ("and", "over")]) or end
                item = self.age_item(comparison, (i, end))
                return (item, end) if item else None
        # 25-34 year olds / over 40 years old / 30 years old / 40 and older
        found = self.comparison(i)
        if found is not None:
            comparison, end = found
            suffix = self.at(end, ph.AGE_SUFFIXES)
            older = self.at(end, [("and", "older"), ("or", "older"), ("and", "up")])
            younger = self.at(end, [("and", "younger"), ("or", "younger")])
            if suffix is not None:
                stop = self.at(
                    suffix,
                    [
                        ("and", "older"),
                        ("or", "older"),
                        ("and", "over"),
                        ("or", "more"),
                        ("and", "up"),
                        ("plus",),
                        ("+",),
                    ],
                )
                if stop is not None:
                    comparison = Comparison(">=", comparison.value)
                    suffix = stop
                item = self.age_item(comparison, (i, suffix))
                return (item, suffix) if item else None
            if (older or younger) and comparison.bare:
                op = ">=" if older else "<="
                stop = older or younger
                assert stop is not None
                item = self.age_item(Comparison(op, comparison.value), (i, stop))
                return (item, stop) if item else None
        return None

    def _age_decade(self, k: int) -> int | None:
        key = self.key(k)
        if key in lex.DECADE_WORDS:
            return lex.DECADE_WORDS[key]
        found = re.fullmatch(r"([1-9]0)'?s", key)
        return int(found.group(1)) if found else None

    def read_bare_age(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        """ "women over 40", "customers under 25": a comparison right after a noun of
        people, with no unit, is an age."""
        previous = self.key(i - 1)
        after_copula = previous in ("are", "is") and self.key(i - 2) in ("who", "that")
        if (
            previous not in lex.PERSON_NOUNS
            and previous not in ph.GENDER_NOUNS
            and not after_copula
        ):
            return None
        found = self.comparison(i)
        if found is None:
            return None
        comparison, end = found
        if comparison.bare or comparison.times or comparison.value > 120:
            return None
        following = self.key(end)
        if (
            following in lex.CURRENCY_WORDS
            or following in ph.ORDER_NOUNS
            or following in lex.UNITS
            or following in ("times", "points", "%", "percent")
            or self.match(end, ph.SPEND_AFTER_AMOUNT)
            or (self.tokens[i:end] and any(t.currency for t in self.tokens[i:end]))
        ):
            return None
        item = self.age_item(comparison, (i, end))
        return (item, end) if item else None

    def read_generation(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        for words, (first, last) in ph.GENERATIONS.items():
            end = self.words(i, *words)
            if end is not None:
                span = (i, end)
                value = [date(first, 1, 1).isoformat(), date(last, 12, 31).isoformat()]
                phrase = f"{' '.join(words)} (born {first} to {last})"
                node = condition("date_of_birth", "between", value, span, phrase)
                return Item([node], i, end), end
        for words, (op, low, high) in ph.LIFE_STAGES.items():
            end = self.words(i, *words)
            if end is not None:
                comparison = Comparison(op, Decimal(low), Decimal(high) if high else None)
                item = self.age_item(comparison, (i, end))
                return (item, end) if item else None
        return None

    def read_gender(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        key = self.key(i)
        if key not in ph.GENDER_NOUNS or self.kind(i) != WORD:
            return None
        values, end = [ph.GENDERS[key]], i + 1
        while self.key(end) in ("or", "and", "&", ","):
            following = self.key(end + 1)
            if following not in ph.GENDER_NOUNS:
                break
            values.append(ph.GENDERS[following])
            end += 2
        values = list(dict.fromkeys(values))
        if len(values) == 1:
            return Item([condition("gender", "=", values[0], (i, end))], i, end), end
        return Item([condition("gender", "in", values, (i, end))], i, end), end

    # Spend, average, points, counts ------------------------------------------------------

    def _number_condition(
        self, field_name: str, comparison: Comparison, span: tuple[int, int], *, money: bool
    ) -> Cond | None:
        if comparison.op == "between":
            assert comparison.high is not None
            value: object = [_json_number(comparison.value), _json_number(comparison.high)]
        else:
            value = _json_number(comparison.value)
        if not money and (
            comparison.value != int(comparison.value)
            or (comparison.high is not None and comparison.high != int(comparison.high))
        ):
            return None
        return condition(field_name, comparison.op, value, span)

    def _with_window(self, item: Item, end: int) -> tuple[Item, int]:
        """The verb's time window after `end`, if any, as the item's secondary recency."""
        found = self.window(end)
        if found is None:
            return item, end
        nodes = self.window_nodes("order", "", found[0], item)
        if nodes is None:
            return item, end
        item.secondary.extend(nodes)
        item.end = found[1]
        return item, found[1]

    def read_spend(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        verb = self.at(self.skip(i, _FIELD_LEADS), ph.SPEND_WORDS)
        if verb is None:
            return None
        j = verb
        per_order = False
        on_average = self.at(
            j,
            [
                ("on", "average"),
                ("in", "average"),
                ("an", "average", "of"),
                ("on", "average", "per", "order"),
            ],
        )
        if on_average is not None:
            per_order, j = True, on_average
        window_first = self.window(j)
        if window_first is not None:
            j = window_first[1]
        j = self.skip(j, ("a",))
        j = self.at(j, [("total", "of"), ("in", "total"), ("overall",)]) or j
        found = self.amount_comparison(j)
        if found is None:
            return None
        comparison, end = found
        if comparison.bare:
            comparison.op = ">="
        for _ in range(2):
            tail = self.at(end, ph.SPEND_TAILS)
            if tail is not None:
                end = tail
            per = self.at(end, ph.PER_ORDER_TAILS)
            if per is not None:
                per_order, end = True, per
        field_name = "average_order_value" if per_order else "lifetime_spend"
        node = self._number_condition(field_name, comparison, (i, end), money=True)
        if node is None:
            return None
        item = Item([node], i, end, domain="order")
        if window_first is not None:
            nodes = self.window_nodes("order", "", window_first[0], item)
            if nodes:
                item.secondary.extend(nodes)
            return item, end
        return self._with_window(item, end)

    def read_average(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        j = self.skip(i, _FIELD_LEADS)
        phrase = self.at(j, ph.AVERAGE_WORDS)
        if phrase is None:
            return None
        k = self.at(phrase, [("value",), ("amount",), ("size",)]) or phrase
        k = self.skip(k, ("of", "is", "was", ":", "are"))
        found = self.comparison(k)
        if found is None:
            return None
        comparison, end = found
        if comparison.bare:
            comparison.op = ">="
        node = self._number_condition("average_order_value", comparison, (i, end), money=True)
        if node is None:
            return None
        return self._with_window(Item([node], i, end, domain="order"), end)

    def read_points(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        j = self.skip(i, ("with", "having", "their", "a"))
        phrase = self.at(j, ph.POINTS_WORDS)
        if phrase is not None:
            k = self.skip(phrase, ("of", "is", "are", "balance", ":"))
            found = self.comparison(k)
            if found is not None:
                comparison, end = found
                if comparison.bare:
                    comparison.op = ">="
                node = self._number_condition("loyalty_points", comparison, (i, end), money=True)
                if node is not None:
                    return Item([node], i, end), end
        found = self.comparison(j)
        if found is None:
            return None
        comparison, end = found
        suffix = self.at(end, ph.POINTS_WORDS)
        if suffix is None:
            return None
        if comparison.bare:
            comparison.op = ">="
        node = self._number_condition("loyalty_points", comparison, (i, suffix), money=True)
        if node is None:
            return None
        return Item([node], i, suffix), suffix

    def read_count(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        # total orders over 5 / number of orders at least 3
        field_phrase = self.at(self.skip(i, ("their", "the", "a")), ph.COUNT_FIELD_WORDS)
        if field_phrase is not None:
            k = self.skip(field_phrase, ("of", "is", "are", ":", "was"))
            found = self.comparison(k)
            if found is not None:
                comparison, end = found
                node = self._number_condition("total_orders", comparison, (i, end), money=False)
                if node is not None:
                    return self._with_window(Item([node], i, end, domain="order"), end)
        # ordered at least 3 times / bought twice / purchased more than once
        verb = self.at(i, ph.ORDER_VERBS)
        if verb is not None:
            j = self.skip(verb, ph.OBJECT_FILLERS)
            window_first = self.window(j)
            if window_first is not None:
                j = window_first[1]
            found = self.comparison(j, times=True)
            if found is not None:
                comparison, end = found
                if not comparison.times:
                    times = self.at(
                        end, [("times",), ("time",), ("x",), ("orders",), ("purchases",)]
                    )
                    if times is None:
                        found = None
                    else:
                        end = times
                if found is not None:
                    node = self._number_condition("total_orders", comparison, (i, end), money=False)
                    if node is None:
                        return None
                    item = Item([node], i, end, domain="order")
                    if window_first is not None:
                        item.secondary.extend(
                            self.window_nodes("order", "", window_first[0], item) or []
                        )
                        return item, end
                    return self._with_window(item, end)
        # with more than 3 orders / placed at least 5 orders / 3+ purchases / no orders
        j = self.skip(i, ph.COUNT_PREFIX)
        if self.key(j) in ("no", "zero") and self.key(j + 1) in ph.ORDER_NOUNS:
            end = j + 2
            node = condition("total_orders", "=", 0, (i, end), "never ordered")
            return Item([node], i, end, domain="order", negation_applied=negated), end
        if negated and self.key(j) in ph.ORDER_NOUNS and self.key(j).endswith("s"):
            end = j + 1
            node = condition("total_orders", "=", 0, (i, end), "never ordered")
            return Item([node], i, end, domain="order", negation_applied=True), end
        multiple = self.at(j, [("multiple",), ("several",), ("many",), ("repeated",)])
        if multiple is not None and self.key(multiple) in ph.ORDER_NOUNS:
            end = multiple + 1
            node = condition("total_orders", ">=", 2, (i, end))
            return self._with_window(Item([node], i, end, domain="order"), end)
        found = self.comparison(j)
        if found is not None:
            comparison, end = found
            end_noun = end
            if self.key(end_noun) in ("counted", "completed", "separate", "different", "total"):
                end_noun += 1
            if self.key(end_noun) in ph.ORDER_NOUNS and not comparison.times:
                node = self._number_condition(
                    "total_orders", comparison, (i, end_noun + 1), money=False
                )
                if node is None:
                    return None
                return self._with_window(
                    Item([node], i, end_noun + 1, domain="order"), end_noun + 1
                )
        # repeat customers / one-time buyers
        repeat = self.at(i, ph.REPEAT_WORDS)
        if repeat is not None and (
            self.key(repeat) in lex.PERSON_NOUNS
            or self.key(repeat) in ("purchasers", "orderers")
            or repeat - i > 1
        ):
            node = condition("total_orders", ">=", 2, (i, repeat), "ordered more than once")
            return Item([node], i, repeat, domain="order"), repeat
        once = self.at(i, ph.ONE_TIME_WORDS)
        if once is not None and (
            self.key(once) in lex.PERSON_NOUNS or self.key(once) in ("purchasers", "orderers")
        ):
            node = condition("total_orders", "=", 1, (i, once), "ordered exactly once")
            return Item([node], i, once, domain="order"), once
        return None

    # Orders: recency, objects ------------------------------------------------------------

    def window_nodes(
        self, domain: str, target: str, window: Window, item: Item | None
    ) -> list[Node] | None:
        """The conditions of a time window on orders (`target` "", "last" or "first") or
        on sign-ups (domain "join")."""
        span = (item.start, item.end) if item else (0, 0)
        days, start, end = window.days, window.start, window.end
        if domain == "join":
            field_name = "created_at"
        elif target == "first":
            field_name = "first_order_date"
        else:
            field_name = "last_order_date"
        if window.kind == "within":
            return [condition(field_name, "within_last_days", days, span)]
        if window.kind == "ago":
            return [condition(field_name, "more_than_days_ago", days, span)]
        assert start is not None
        if window.kind == "since":
            return [condition(field_name, ">=", start.isoformat(), span)]
        if window.kind == "after":
            return [condition(field_name, ">", start.isoformat(), span)]
        if window.kind in ("before", "until"):
            operator = "<" if window.kind == "before" else "<="
            if domain == "order" and target == "":
                # Some order before a day: the first one was.
                field_name = "first_order_date"
            return [condition(field_name, operator, start.isoformat(), span)]
        assert end is not None
        if domain == "order" and target == "":
            return [
                criterion(
                    "purchase_period", span, from_date=start.isoformat(), to_date=end.isoformat()
                )
            ]
        if start == end:
            return [condition(field_name, "=", start.isoformat(), span)]
        return [condition(field_name, "between", [start.isoformat(), end.isoformat()], span)]

    def read_last_first_order(
        self, i: int, negated: bool, items: list[Item]
    ) -> tuple[Item, int] | None:
        j = self.skip(i, ("their", "the", "whose", "with", "a"))
        last = self.at(j, ph.LAST_ORDER_WORDS)
        first = self.at(j, ph.FIRST_ORDER_WORDS)
        if last is None and first is None:
            return None
        target = "last" if last is not None else "first"
        k = last if last is not None else first
        assert k is not None
        k = self.at(k, [("date",)]) or k
        k = self.skip(k, ("was", "is", "being", ":", "placed", "made", "happened", "on"))
        found = self.window(k)
        if found is None:
            return None
        item = Item([], i, found[1], domain="order")
        nodes = self.window_nodes("order", target, found[0], item)
        if not nodes:
            return None
        item.primary = nodes
        return item, found[1]

    def pos_object(self, j: int) -> tuple[str, int] | None:
        """(name, end) of "at the Paris store", "in store PAR-01", "at shop 'Lyon'"."""
        k = self.at(j, [("at",), ("in",), ("from",)])
        if k is None:
            return None
        k = self.skip(k, ("the", "our"))
        if self.key(k) in ph.STORE_WORDS or self.words(k, "point", "of", "sale"):
            k = self.words(k, "point", "of", "sale") or k + 1
            name_start = k
            while (
                k < self.n
                and self.kind(k) in (WORD, NUMBER, QUOTED)
                and self.key(k) not in ph.VALUE_STOP
            ):
                k += 1
                if k - name_start >= 4:
                    break
            if k > name_start:
                return self._name(name_start, k), k
            return None
        name_start = k
        while (
            k < self.n
            and self.kind(k) in (WORD, NUMBER, QUOTED)
            and self.key(k) not in ph.STORE_WORDS
        ):
            if self.key(k) in ph.VALUE_STOP or k - name_start >= 4:
                return None
            k += 1
        if k > name_start and self.key(k) in ph.STORE_WORDS:
            return self._name(name_start, k), k + 1
        return None

    def _name(self, start: int, end: int) -> str:
        tokens = self.tokens[start:end]
        if len(tokens) == 1:
            return tokens[0].inner
        return " ".join(t.text for t in tokens)

    def brand_list(self, j: int) -> tuple[list[str], list[str], int] | None:
        """(brands, joiners, end) of capitalised or quoted names: "Nike or Adidas"."""
        first = self.brand_name(j)
        if first is None:
            return None
        names, joiners, end = [first[0]], [], first[1]
        while self.key(end) in ("or", "and", "&", ",") and len(names) < MAX_LIST:
            joiner = "and" if self.key(end) in ("and", "&") else "or"
            following = self.brand_name(end + 1)
            if following is None:
                break
            names.append(following[0])
            joiners.append(joiner)
            end = following[1]
        end = self.at(end, [(t,) for t in ph.BRAND_TAILS]) or end
        return names, joiners, end

    def brand_name(self, j: int) -> tuple[str, int] | None:
        token = self.token(j)
        if token is None:
            return None
        if token.kind == QUOTED:
            return token.inner, j + 1
        k = j
        while k < self.n and self.tokens[k].capitalised and self.key(k) not in ph.KNOWN_WORDS:
            k += 1
            if k - j >= 4:
                break
        if k == j:
            return None
        key = " ".join(self.key(x) for x in range(j, k))
        if _gazetteer_lookup(key, capitalised=True) is not None:
            return None
        return " ".join(t.text for t in self.tokens[j:k]), k

    def sku_list(self, j: int, *, marked: bool) -> tuple[list[str], int] | None:
        values: list[str] = []
        end = j
        while len(values) < MAX_LIST:
            if end >= self.n:
                break
            token = self.tokens[end]
            if token.kind == QUOTED:
                values.append(token.inner)
            elif token.kind in (WORD, NUMBER) and _looks_like_sku(token.text, marked=marked):
                values.append(token.text)
            else:
                break
            end += 1
            if self.key(end) in (",", "or") and end + 1 < self.n:
                following = self.tokens[end + 1]
                if following.kind == QUOTED or _looks_like_sku(following.text, marked=marked):
                    end += 1
                    continue
            break
        return (values, end) if values else None

    def read_order(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        verb = self.at(i, ph.ORDER_VERBS)
        if verb is None:
            return None
        j = self.skip(
            verb, ("something", "anything", "products", "items", "again", "online", "with", "us")
        )
        span_start = i
        # at a point of sale
        pos = self.pos_object(j)
        if pos is not None:
            name, end = pos
            ids = self.pos_resolver(name) if self.pos_resolver else None
            if not ids:
                return Item([], i, end, unknown=True), end
            node = criterion("bought_in_pos", (i, end), f"bought at {name}", pos_ids=ids)
            return self._with_window(Item([node], i, end, domain="order"), end)
        # a SKU
        marker = self.at(j, ph.SKU_MARKERS)
        skus = self.sku_list(marker if marker is not None else j, marked=marker is not None)
        if skus is not None:
            values, end = skus
            node = criterion("bought_skus", (i, end), skus=values)
            return self._with_window(Item([node], i, end, domain="order"), end)
        # a brand
        brand_marker = self.match(j, ph.BRAND_MARKERS)
        k = brand_marker[1] if brand_marker else j
        k = self.skip(k, ("the", "brand", "brands", "label", "maker"))
        brands = self.brand_list(k)
        if brands is not None and (
            brand_marker is None or brand_marker[0] != ("from",) or brands is not None
        ):
            names, joiners, end = brands
            if "and" in joiners and "or" not in joiners:
                nodes: list[Node] = [
                    criterion("bought_makers", (i, end), makers=[n]) for n in names
                ]
            else:
                nodes = [criterion("bought_makers", (i, end), makers=list(dict.fromkeys(names)))]
            return self._with_window(Item(nodes, i, end, domain="order"), end)
        if brand_marker is not None and brand_marker[0] != ("from",):
            return None
        # a time window
        found = self.window(j)
        if found is not None:
            item = Item([], span_start, found[1], domain="order")
            recency = self.window_nodes("order", "", found[0], item)
            if recency:
                item.primary = recency
                return item, found[1]
        # nothing more: has ordered (never ordered when negated)
        end = j
        if negated:
            node = condition("total_orders", "=", 0, (i, end), "never ordered")
            return Item([node], i, end, domain="order", negation_applied=True), end
        node = condition("total_orders", ">=", 1, (i, end), "ordered at least once")
        return Item([node], i, end, domain="order"), end

    # Sign-ups, status, lifecycle, assignment ---------------------------------------------

    def read_join(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        tenure = self.at(i, ph.TENURE_WORDS)
        if tenure is not None:
            k = tenure
            less = self.at(k, [("less", "than"), ("under",), ("fewer", "than")])
            more = self.at(k, [("more", "than"), ("over",), ("at", "least"), ("longer", "than")])
            k = less or more or k
            duration = self.duration(k)
            if duration is not None:
                days, end = duration
                operator = "within_last_days" if less else "more_than_days_ago"
                node = condition("created_at", operator, days, (i, end))
                return Item([node], i, end, domain="join"), end
        new = self.match(i, ph.NEW_WORDS)
        verb = self.at(i, ph.JOIN_WORDS)
        if verb is None and new is None:
            return None
        if verb is not None:
            j = self.skip(verb, ("us", "up", "with", "on", "at", "date", "is", "was"))
            found = self.window(j)
            if found is None and self.key(j - 1) in ("since",):
                found = self.window(j - 1)
            if found is None:
                return None
            item = Item([], i, found[1], domain="join")
            nodes = self.window_nodes("join", "", found[0], item)
            if not nodes:
                return None
            item.primary = nodes
            return item, found[1]
        assert new is not None
        end = new[1]
        if (
            new[0] == ("new",)
            and self.key(end) not in lex.PERSON_NOUNS
            and self.key(end)
            not in ("signups", "sign-ups", "registrations", "joiners", "subscribers", "members")
        ):
            return None
        found = self.window(
            self.skip(end, lex.PERSON_NOUNS | {"who", "joined", "registered", "signed", "up"})
        )
        if found is not None:
            item = Item([], i, found[1], domain="join")
            nodes = self.window_nodes("join", "", found[0], item)
            if nodes:
                item.primary = nodes
                return item, found[1]
        node = condition(
            "created_at", "within_last_days", 30, (i, end), "new (created within the last 30 days)"
        )
        return Item([node], i, end, domain="join"), end

    def read_status(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        key = self.key(i)
        if key in ph.STATUS_WORDS and self.kind(i) == WORD:
            status = ph.STATUS_WORDS[key]
            found = self.window(i + 1)
            if found is not None and status in ("active", "inactive"):
                window = found[0]
                if status == "inactive" and window.kind == "within":
                    window = Window("ago", days=window.days)
                item = Item([], i, found[1], domain="order")
                nodes = self.window_nodes("order", "", window, item)
                if nodes:
                    item.primary = nodes
                    return item, found[1]
            values, end = [status], i + 1
            while self.key(end) in ("or", "and", ",") and self.key(end + 1) in ph.STATUS_WORDS:
                values.append(ph.STATUS_WORDS[self.key(end + 1)])
                end += 2
            values = list(dict.fromkeys(values))
            if len(values) == 1:
                return Item([condition("status", "=", values[0], (i, end))], i, end), end
            return Item([condition("status", "in", values, (i, end))], i, end), end
        if key in ("unblocked", "non-blocked"):
            return Item([condition("status", "!=", "blocked", (i, i + 1))], i, i + 1), i + 1
        for words, customer_type in ph.TYPE_WORDS.items():
            type_end = self.words(i, *words)
            if type_end is None:
                continue
            if words == ("individual",) and self.key(type_end) not in lex.PERSON_NOUNS:
                return None
            if words == ("private",) and self.key(type_end) not in lex.PERSON_NOUNS | {
                "individuals"
            }:
                return None
            return Item(
                [condition("type", "=", customer_type, (i, type_end))], i, type_end
            ), type_end
        return None

    def read_lifecycle(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        for words, (field_name, operator, days) in ph.LIFECYCLE_WORDS.items():
            end = self.words(i, *words)
            if end is None:
                continue
            if words[0] in ("lost",) and self.key(end) not in lex.PERSON_NOUNS:
                continue
            when = (
                f"within the last {days} days"
                if operator == "within_last_days"
                else f"more than {days} days ago"
            )
            phrase = f"{' '.join(words)} (last order {when})"
            node = condition(field_name, operator, days, (i, end), phrase)
            return Item([node], i, end, domain="order"), end
        return None

    def read_assigned(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        unassigned = self.at(i, ph.UNASSIGNED_WORDS)
        if unassigned is not None:
            node = condition("assigned_to", "is_empty", None, (i, unassigned))
            return Item([node], i, unassigned), unassigned
        assigned = self.at(i, ph.ASSIGNED_WORDS)
        if assigned is not None and not (self.key(assigned) == "to" and assigned == i + 1):
            node = condition("assigned_to", "is_not_empty", None, (i, assigned))
            return Item([node], i, assigned), assigned
        return None

    # Fields: contact details, custom fields ---------------------------------------------

    def read_email_provider(
        self, i: int, negated: bool, items: list[Item]
    ) -> tuple[Item, int] | None:
        j = self.skip(i, ("with", "using", "use", "on", "a", "an", "who", "uses"))
        token = self.token(j)
        if token is None or token.kind != WORD:
            return None
        if token.key.startswith("@") and "." in token.key:
            end = self.at(j + 1, [(t,) for t in ph.PROVIDER_TAILS]) or j + 1
            node = condition("email", "ends_with", token.key, (i, end))
            return Item([node], i, end), end
        domain = ph.PROVIDERS.get(token.key)
        if domain is None:
            return None
        tail = self.at(j + 1, [(t,) for t in ph.PROVIDER_TAILS])
        if tail is None and j == i:
            return None
        end = tail or j + 1
        return Item([condition("email", "ends_with", domain, (i, end))], i, end), end

    def value_words(self, j: int) -> tuple[str, int] | None:
        """A value: quoted, a number, or up to 6 words before a stop word."""
        token = self.token(j)
        if token is None:
            return None
        if token.kind == QUOTED:
            return token.inner, j + 1
        k = j + 1 if token.key in ("+", "@", "#") and self.kind(j + 1) in (WORD, NUMBER) else j
        while k < self.n and self.kind(k) in (WORD, NUMBER) and k - j < 6:
            if self.key(k) in ph.VALUE_STOP or self.key(k) in lex.CONNECTORS_OR:
                break
            k += 1
        if k == j or self.kind(k - 1) not in (WORD, NUMBER):
            return None
        return self.prompt_text(j, k), k

    def prompt_text(self, start: int, end: int) -> str:
        """The prompt's own text from token `start` to token `end` (excluded)."""
        return self.prompt[self.tokens[start].start : self.tokens[end - 1].end]

    def field_key(self, j: int) -> tuple[str, str, int] | None:
        """(field, shown name, end) of a field named at `j`: a known field's words, or up
        to 3 words of a custom field ("loyalty tier" -> metadata.loyalty_tier)."""
        known = self.match(j, ph.FIELD_PHRASES)
        if known is not None:
            return ph.FIELD_NAMES[known[0]], " ".join(known[0]), known[1]
        dotted = self.key(j)
        if dotted.startswith("metadata.") and re.fullmatch(r"metadata\.[\w-]+", dotted):
            key = dotted.removeprefix("metadata.")
            return f"metadata.{key}", key.replace("_", " "), j + 1
        # "whose metadata tier", "whose custom field tier": the words say it is custom.
        j = self.at(j, ph.CUSTOM_FIELD_WORDS) or j
        k = j
        while k < self.n and self.kind(k) == WORD and k - j < 3:
            key = self.key(k)
            if key in ph.FIELD_KEY_STOP or not re.fullmatch(r"[\w-]+", key):
                break
            k += 1
        name = self.field_key_words(j, k)
        if name is None:
            return None
        return name, name.removeprefix("metadata.").replace("_", " "), k

    def field_key_words(self, start: int, end: int) -> str | None:
        """`metadata.KEY` of the words [start, end), in lower snake case."""
        words = [re.sub(r"\W+", "_", self.key(x)).strip("_") for x in range(start, end)]
        name = "_".join(w for w in words if w)
        return f"metadata.{name}" if name else None

    def read_field(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        lead = self.at(
            i,
            [
                ("whose",),
                ("where",),
                ("with", "a"),
                ("with", "an"),
                ("with",),
                ("having", "a"),
                ("having",),
                ("and", "whose"),
                ("who", "have", "a"),
            ],
        )
        j = self.skip(lead if lead is not None else i, ("their", "the", "a", "an"))
        key = self.field_key(j)
        if key is None:
            return None
        field_name, shown_name, k = key
        if field_name == "street":
            return None
        # Without a lead word, only "KEY is VALUE" right at a clause start.
        if lead is None and self.key(i - 1) not in (
            "",
            ",",
            "and",
            "or",
            "but",
            "who",
            "customers",
            "clients",
            "that",
        ):
            return None
        if field_name in ph.NUMBER_FIELDS:
            found = self.comparison(self.skip(k, (":",)))
            if found is None:
                return None
            comparison, end = found
            node = self._number_condition(
                field_name, comparison, (i, end), money=field_name != "total_orders"
            )
            return (Item([node], i, end), end) if node else None
        if field_name in ph.DATE_FIELDS:
            window = self.window(self.skip(k, ("is", "was", ":", "on")))
            if window is None:
                return None
            if field_name == "date_of_birth":
                nodes = self.born_nodes(window[0], (i, window[1]))
            else:
                domain = "join" if field_name == "created_at" else "order"
                target = {"first_order_date": "first", "last_order_date": "last"}.get(
                    field_name, ""
                )
                nodes = self.window_nodes(domain, target, window[0], None)
                for leaf in nodes or []:
                    if isinstance(leaf, Cond):
                        leaf.span = (i, window[1])
            if not nodes:
                return None
            return Item(nodes, i, window[1]), window[1]
        operator, value_start = self.field_operator(k, metadata=field_name.startswith("metadata."))
        if operator is None and lead in (i + 1, i + 2) and self.key(i) in ("with", "having"):
            # "with status active", "with loyalty tier gold": a value right after a field
            # that names a kind of thing.
            if field_name in ph.IMPLICIT_VALUE_FIELDS and self.typed_value(field_name, k):
                operator, value_start = "=", k
            elif field_name.startswith("metadata."):
                # The custom field's name ends with its noun; the value follows.
                for noun_end in range(j + 1, k):
                    if self.key(noun_end - 1) in ph.METADATA_NOUNS:
                        named = self.field_key_words(j, noun_end)
                        if named and self.typed_value(named, noun_end) is not None:
                            field_name, shown_name = named, named.removeprefix("metadata.")
                            operator, value_start = "=", noun_end
                            break
        if operator is None:
            return None
        if operator in ("is_empty", "is_not_empty"):
            node = condition(field_name, operator, None, (i, value_start))
            return Item([node], i, value_start), value_start
        return self.field_value(field_name, shown_name, operator, i, value_start)

    def field_operator(self, k: int, *, metadata: bool) -> tuple[str | None, int]:
        found = self.match(k, ph.TEXT_OPERATOR_PHRASES)
        ne = self.match(k, ph.COPULA_NE)
        eq = self.match(k, ph.COPULA_EQ)
        prefix = self.match(k, _ALL_PREFIX) if metadata else None
        if (
            prefix is not None
            and _PREFIX_OP[prefix[0]] in (">", ">=", "<", "<=")
            and self.amount(prefix[1]) is not None
        ):
            return _PREFIX_OP[prefix[0]], prefix[1]
        candidates = []
        if found:
            candidates.append((len(found[0]), ph.TEXT_OPERATOR_OF[found[0]], found[1]))
        if ne:
            candidates.append((len(ne[0]), "!=", ne[1]))
        if eq:
            candidates.append((len(eq[0]), "=", eq[1]))
        if not candidates:
            return None, k
        candidates.sort(key=lambda c: -c[0])
        _, operator, end = candidates[0]
        if operator in ("is_empty", "is_not_empty"):
            return operator, end
        # "is in": a list follows; "is between" / "is over" on a custom field: numbers.
        if operator == "=" and metadata:
            for op in (">", ">=", "<", "<="):
                number_op = self.at(end, _PREFIX[op])
                if number_op is not None and self.amount(number_op) is not None:
                    return op, number_op
            if self.key(end) == "between":
                return "between", end
        return operator, end

    def field_value(
        self, field_name: str, shown_name: str, operator: str, i: int, j: int
    ) -> tuple[Item, int] | None:
        metadata = field_name.startswith("metadata.")
        if operator in (">", ">=", "<", "<=", "between"):
            if not metadata:
                return None
            if operator == "between":
                found = self.comparison(j)
                if found is None or found[0].op != "between":
                    return None
                comparison, end = found
            else:
                amount = self.amount(j)
                if amount is None:
                    return None
                comparison, end = Comparison(operator, amount[0]), amount[1]
            bounds: object = (
                [comparison.value, comparison.high]
                if comparison.op == "between"
                else comparison.value
            )
            phrase = f"{shown_name} is {comparison.text()}"
            return Item(
                [condition(field_name, comparison.op, bounds, (i, end), phrase)], i, end
            ), end
        collected: list[tuple[object, str]] = []
        end = j
        while len(collected) < MAX_LIST:
            parsed = self.typed_value(field_name, end)
            if parsed is None:
                break
            collected.append(parsed[0])
            end = parsed[1]
            if self.key(end) in ("or", ",") and self.typed_value(field_name, end + 1) is not None:
                end += 1
                continue
            break
        if not collected:
            return None
        values_only = [v for v, _ in collected]
        shown = [s for _, s in collected]
        span = (i, end)
        if field_name == "tags":
            op = {
                "=": "contains",
                "!=": "not_contains",
                "contains": "contains",
                "not_contains": "not_contains",
                "in": "in",
                "not_in": None,
            }.get(operator)
            if op is None:
                return None
            if len(values_only) > 1:
                if op == "not_contains":
                    nodes: list[Node] = [
                        condition("tags", "not_contains", v, span) for v in values_only
                    ]
                    return Item(nodes, i, end), end
                op = "in"
            tag: object = values_only if op == "in" else values_only[0]
            return Item([condition("tags", op, tag, span)], i, end), end
        if field_name in ph.BOOLEAN_FIELDS:
            if (
                len(values_only) != 1
                or not isinstance(values_only[0], bool)
                or operator not in ("=", "!=")
            ):
                return None
            flag = values_only[0] if operator == "=" else not values_only[0]
            return Item([condition(field_name, "=", flag, span)], i, end), end
        if field_name == "country":
            countries = [_country_condition_values(v, s, span) for v, s in collected]
            merged: list[Node] = [n for n in countries if n is not None]
            if len(merged) != len(countries):
                return None
            country: Node | None = merged[0] if len(merged) == 1 else Group(OR, merged)
            if operator in ("!=", "not_in"):
                country = negation_of(country) if country else None
            elif operator not in ("=", "in"):
                return None
            return (Item([country], i, end), end) if country else None
        if len(values_only) > 1:
            if operator in ("=", "in"):
                operator = "in"
            elif operator in ("!=", "not_in"):
                operator = "not_in"
            else:
                return None
            negation, conjunction = ("not ", "nor") if operator == "not_in" else ("", "or")
            phrase = f"{shown_name} is {negation}{listed(shown, conjunction)}"
            return Item([condition(field_name, operator, values_only, span, phrase)], i, end), end
        single: object = [values_only[0]] if operator in ("in", "not_in") else values_only[0]
        phrase = ""
        if metadata:
            phrase = f"{shown_name} {_OPERATOR_WORDS.get(operator, operator)} {shown[0]}"
        return Item([condition(field_name, operator, single, span, phrase)], i, end), end

    def typed_value(self, field_name: str, j: int) -> tuple[tuple[object, str], int] | None:
        """One value for `field_name` at `j`: ((value, shown), end)."""
        if field_name in ph.BOOLEAN_FIELDS:
            key = self.key(j)
            if key in ph.TRUE_WORDS:
                return (True, "yes"), j + 1
            if key in ph.FALSE_WORDS:
                return (False, "no"), j + 1
            return None
        if field_name == "gender":
            gender = ph.GENDERS.get(self.key(j))
            return ((gender, gender), j + 1) if gender else None
        if field_name == "status":
            status = ph.STATUS_WORDS.get(self.key(j))
            return ((status, status), j + 1) if status else None
        if field_name == "type":
            for words, customer_type in ph.TYPE_WORDS.items():
                end = self.words(j, *words)
                if end is not None:
                    return (customer_type, customer_type), end
            if self.key(j) in ("individual", "business"):
                return (self.key(j), self.key(j)), j + 1
            return None
        if field_name == "country":
            found = self.place(j, strong=True)
            if found is None:
                return None
            (kind, values, shown), _, end = found
            if kind != "country":
                return None
            return (values, shown), end
        if field_name.startswith("metadata.") and self.kind(j) == NUMBER:
            value = self.amount(j)
            if value is not None and not value[2]:
                return (value[0], _number_text(value[0])), value[1]
        if field_name == "tags":
            tag = self.tag_value(j)
            return ((tag[0], tag[0]), tag[1]) if tag else None
        found_value = self.value_words(j)
        if found_value is None:
            return None
        text, end = found_value
        return (text, text), end

    def read_presence(self, i: int, negated: bool, items: list[Item]) -> tuple[Item, int] | None:
        absent = self.at(i, ph.ABSENCE_LEADS)
        present = self.at(i, ph.PRESENCE_LEADS)
        lead = absent if absent is not None else present
        if lead is None:
            return None
        found = self.match(lead, ph.PRESENCE_FIELDS)
        if found is None:
            return None
        operator = "is_empty" if absent is not None else "is_not_empty"
        nodes: list[Node] = []
        joiners: list[str] = []
        while found is not None:
            end = self.at(found[1], _FIELD_TAILS) or found[1]
            nodes.append(condition(ph.PRESENCE_FIELD_NAMES[found[0]], operator, None, (i, end)))
            # "with email and phone", "without a phone or an email"
            if self.key(end) not in ("and", "or", ",", "&"):
                break
            joiners.append("or" if self.key(end) == "or" else "and")
            found = self.match(self.skip(end + 1, ("a", "an", "their", "no")), ph.PRESENCE_FIELDS)
            if found is None:
                joiners.pop()
        if "or" in joiners:
            nodes = [Group(OR, nodes)]
        return Item(nodes, i, end, negation_applied=absent is not None and negated), end

    # Amounts written first, time windows alone -------------------------------------------

    def read_amount_first(
        self, i: int, negated: bool, items: list[Item]
    ) -> tuple[Item, int] | None:
        """ "with over €500 spent", "€1k+ in purchases", "80+ per order"."""
        j = self.skip(i, ("with", "having"))
        found = self.amount_comparison(j)
        if found is None:
            return None
        comparison, end = found
        spent = self.at(end, ph.SPEND_AFTER_AMOUNT)
        per = self.at(end, ph.PER_ORDER_TAILS) if spent is None else None
        if spent is None and per is None:
            return None
        stop = spent or per
        assert stop is not None
        if comparison.bare:
            comparison.op = ">="
        stop = self.at(stop, ph.SPEND_TAILS) or stop
        field_name = "lifetime_spend" if spent is not None else "average_order_value"
        node = self._number_condition(field_name, comparison, (i, stop), money=True)
        if node is None:
            return None
        return self._with_window(Item([node], i, stop, domain="order"), stop)

    def read_floating_window(
        self, i: int, negated: bool, items: list[Item]
    ) -> tuple[Item, int] | None:
        found = self.window(i)
        if found is None:
            return None
        return Item([], i, found[1], window=found[0]), found[1]


# --- Shared helpers --------------------------------------------------------------------

_FIELD_TAILS = [("address",), ("number",), ("on", "file"), ("set",)]
_FIELD_LEADS = frozenset({"with", "having", "a", "an", "their", "whose", "the", "where"})
_PREFIX = {op: phrase_list(phrases) for op, phrases in lex.PREFIX_COMPARATORS.items()}
_PREFIX_OP = {
    tuple(phrase.split()): op
    for op, phrases in lex.PREFIX_COMPARATORS.items()
    for phrase in phrases
}
_ALL_PREFIX = phrase_list(*lex.PREFIX_COMPARATORS.values())
_POSTFIX = {op: phrase_list(phrases) for op, phrases in lex.POSTFIX_COMPARATORS.items()}
_VAGUE = phrase_list(lex.VAGUE_NUMBERS)
_OR = phrase_list(("or", "|", "or else"))
_AND = phrase_list_of(
    "and | & | but | plus | as well as | while | whilst | also | and also | and who |"
    " and that | but who"
)
_NEGATORS = phrase_list(lex.NEGATORS)
_NEGATED_OPT = phrase_list_of("not opted in | not opted-in | not subscribed")
_AGO_COMPARATORS = phrase_list_of(
    "more than | over | at least | less than | under | within | fewer than | about |"
    " around | nearly | almost | some"
)
_SIMPLE_WINDOWS = phrase_list_of(
    "recently | lately | today | yesterday | this week | this month | this year |"
    " in recent weeks | in recent months | of late"
)
_SIMPLE_WINDOW_DAYS = {
    "recently": 30,
    "lately": 30,
    "today": 0,
    "yesterday": 1,
    "this week": 7,
    "in recent weeks": 30,
    "in recent months": 90,
    "of late": 30,
}
_DATE_LEADS = phrase_list_of(
    "since | starting | starting from | as of | from | beginning | after | before |"
    " prior to | earlier than | until | till | up to | up until | through | by |"
    " no later than | in | during | on | throughout | between | sometime in |"
    " any time in | anytime in | at any point in"
)
_RELATIVE_PERIODS = phrase_list_of(
    "this year | the current year | current year | this month | the current month |"
    " current month | last year | last month | the start of the year |"
    " the beginning of the year | start of the year | beginning of the year |"
    " the start of this year | the beginning of this year | the start of the month |"
    " the beginning of the month | start of the month | beginning of the month |"
    " last week"
)
_UPCOMING = phrase_list_of(
    "today | tomorrow | this week | this month | in this month | next week |"
    " next month | coming up | soon | upcoming | in the coming days |"
    " in the coming weeks"
)
_UPCOMING_DAYS = {
    "today": 0,
    "tomorrow": 1,
    "this week": 7,
    "next week": 14,
    "coming up": 30,
    "soon": 14,
    "upcoming": 30,
    "in the coming days": 7,
    "in the coming weeks": 30,
}
_ALTERNATIVE_SUBJECTS = lex.PERSON_NOUNS | {"whoever", "anyone", "those"}
_OPERATOR_WORDS = {**TEXT_OPERATOR_WORDS, "in": "is", "not_in": "is not"}
_SKU = re.compile(r"(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{1,40}|[A-Z0-9]+-[A-Z0-9-]+")


_INDEXED = 16  # phrase lists this long are looked up by their first word
_INDEXES: dict[int, tuple[object, dict[str, list[tuple[str, ...]]]]] = {}


def _by_first_word(phrases: list[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    """`phrases` by their first word, longest first. Only the vocabulary's long lists,
    module constants, come here: each is indexed once (the entry keeps it alive, so its
    id is not reused)."""
    entry = _INDEXES.get(id(phrases))
    if entry is not None and entry[0] is phrases:
        return entry[1]
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        index.setdefault(phrase[0], []).append(phrase)
    for group in index.values():
        group.sort(key=len, reverse=True)
    _INDEXES[id(phrases)] = (phrases, index)
    return index


def _looks_like_sku(text: str, *, marked: bool) -> bool:
    if marked:
        return bool(re.fullmatch(r"[\w-]{1,60}", text)) and fold(text) not in ph.KNOWN_WORDS
    return bool(_SKU.fullmatch(text)) and not _COMPACT_DURATION.fullmatch(text.lower())


def _gazetteer_lookup(key: str, *, capitalised: bool) -> tuple[str, list[str], str] | None:
    """(field, values, shown name) of a country, state or city named by `key`."""
    code = _COUNTRY_KEYS.get(key)
    if code is not None:
        return "country", _country_values(code), places.COUNTRY_NAMES[code]
    state = _STATE_KEYS.get(key)
    if state is not None:
        name = places.STATES[state]
        return "state", [state, name, *places.STATE_STORED_NAMES.get(state, ())], name
    city = _CITY_KEYS.get(key)
    if city is not None and (capitalised or city not in places.CITIES_CAPITALISED_ONLY):
        return "city", [city, *places.CITIES[city]], city
    return None


def _country_values(code: str) -> list[str]:
    return [code, places.COUNTRY_NAMES[code], *places.COUNTRY_STORED_NAMES.get(code, ())]


def _country_condition(code: str, span: tuple[int, int]) -> Cond:
    name = places.COUNTRY_NAMES[code]
    return condition("country", "in", _country_values(code), span, f"country is {name}")


def _country_condition_values(values: object, shown: str, span: tuple[int, int]) -> Cond | None:
    if not isinstance(values, list):
        return None
    return condition("country", "in", values, span, f"country is {shown}")


_COUNTRY_KEYS: dict[str, str] = {
    **{fold(name): code for code, name in places.COUNTRY_NAMES.items()},
    **{fold(name): code for code, names in places.COUNTRY_STORED_NAMES.items() for name in names},
    **places.COUNTRY_ALIASES,
    **{
        alias.replace(".", ""): code
        for alias, code in places.COUNTRY_ALIASES.items()
        if "." in alias
    },
    **{alias.rstrip("."): code for alias, code in places.COUNTRY_ALIASES.items() if "." in alias},
}
_STATE_KEYS: dict[str, str] = {
    **{fold(name): code for code, name in places.STATES.items()},
    **{
        fold(name): code
        for code, names in places.STATE_STORED_NAMES.items()
        for name in names
        if fold(name) not in ("new york",)
    },
}
_CITY_KEYS: dict[str, str] = {
    **{
        fold(alt): city
        for city, alts in places.CITIES.items()
        for alt in alts
        if fold(alt) not in _STATE_KEYS
    },
    **{fold(city): city for city in places.CITIES},
}
