"""The tokenizer: a prompt as words, numbers, dates, quoted strings, symbols and
punctuation, each with its place in the prompt (so what is not understood is quoted
back verbatim).

Numbers are read with what writes them: a currency sign or code before or after
(`€200`, `$1,500`, `200 EUR` keeps the code as its own word), a thousands separator
(`1,500`; `1,5` is a decimal comma), a `k`/`m`/`bn` suffix (`1.5k`), an ordinal
suffix (`1st`). Dates written as `2024-03-01`, `2024/03/01` and `01/03/2024` (day
first unless the day cannot be one) are one token."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

WORD, NUMBER, DATE, QUOTED, SYMBOL, PUNCT = "word", "number", "date", "quoted", "symbol", "punct"

CURRENCY_SIGNS = "€$£¥₹"
_SUFFIXES = {"k": Decimal(1000), "m": Decimal(1_000_000), "bn": Decimal(1_000_000_000)}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # as written in the prompt
    start: int
    end: int
    key: str = ""  # words: lower case, accents stripped, curly apostrophes straightened
    number: Decimal | None = None  # numbers
    day: date | None = None  # dates
    currency: bool = False  # numbers written with a currency sign
    ordinal: bool = False  # numbers written 1st, 2nd...
    integer_text: bool = False  # numbers written with digits only (a year, a count)

    @property
    def capitalised(self) -> bool:
        return self.kind == WORD and self.text[:1].isupper()

    @property
    def inner(self) -> str:
        """A quoted token's text without its quotes."""
        return self.text[1:-1].strip() if self.kind == QUOTED else self.text


def fold(text: str) -> str:
    """A word as the lexicon spells it: lower case, no accents, straight apostrophes."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_TOKEN = re.compile(
    r"""
    (?P<quoted>"[^"\n]{1,200}"|\u201c[^\u201d\n]{1,200}\u201d|(?<![\w'])'[^'\n]{1,200}'(?![\w])|\u2018[^\u2019\n]{1,200}\u2019)
  | (?P<isodate>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d))
  | (?P<dmydate>\d{1,2}[/.]\d{1,2}[/.]\d{4}(?!\d))
  | (?P<number>
        (?:(?P<pre>[€$£¥₹])\s?)?
        (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+)
        (?:(?P<suffix>k|K|m|M|bn|BN|Bn)(?![\w]))?
        (?P<ordinal>st|nd|rd|th)?(?![\w])
        (?P<post>[€$£¥₹])?
    )
  | (?P<email>[\w.+-]*@[\w-]+(?:\.[\w-]+)+)
  | (?P<word>[^\W\d_](?:[\w'\u2019.&-]*[^\W_])?|\#\w+|[^\W\d_]+\d[\w-]*|\d+[^\W\d_][\w-]*)
  | (?P<symbol>>=|<=|!=|==|=>|=<|≥|≤|≠|[<>=+%&|/:@\u2013\u2014€$£¥₹-])
  | (?P<punct>[,;.!?()\[\]{}])
    """,
    re.VERBOSE,
)


def _decimal(digits: str) -> Decimal | None:
    if "," in digits:
        head, _, tail = digits.rpartition(",")
        # 1,500 and 12,345,678 group thousands; 1,5 is a decimal comma.
        digits = digits.replace(",", "") if len(tail.split(".")[0]) == 3 else f"{head}.{tail}"
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def tokenize(prompt: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    for match in _TOKEN.finditer(prompt):
        if match.start() < position:
            continue
        position = match.end()
        text, start, end = match.group(0), match.start(), match.end()
        kind = match.lastgroup
        if kind == "quoted":
            inner = text[1:-1].strip()
            tokens.append(Token(QUOTED, text, start, end, key=fold(inner)))
        elif kind == "isodate":
            year, month, day = (int(part) for part in re.split(r"[-/.]", text))
            found = _date(year, month, day)
            tokens.append(
                Token(DATE, text, start, end, day=found)
                if found
                else Token(WORD, text, start, end, key=text)
            )
        elif kind == "dmydate":
            first, second, year = (int(part) for part in re.split(r"[/.]", text))
            # Day first (as most of the world writes it) unless it cannot be a day.
            found = _date(year, first, second) if second > 12 else _date(year, second, first)
            tokens.append(
                Token(DATE, text, start, end, day=found)
                if found
                else Token(WORD, text, start, end, key=text)
            )
        elif kind == "number":
            value = _decimal(match.group("digits"))
            if value is None:
                tokens.append(Token(WORD, text, start, end, key=fold(text)))
                continue
            suffix = (match.group("suffix") or "").lower()
            if suffix:
                value *= _SUFFIXES[suffix]
            tokens.append(
                Token(
                    NUMBER,
                    text,
                    start,
                    end,
                    key=fold(text),
                    number=value,
                    currency=bool(match.group("pre") or match.group("post")),
                    ordinal=bool(match.group("ordinal")),
                    integer_text=match.group("digits").isdigit() and not suffix,
                )
            )
        elif kind in ("word", "email"):
            tokens.append(Token(WORD, text, start, end, key=fold(text)))
        elif kind == "symbol":
            tokens.append(Token(SYMBOL, text, start, end, key=text))
        else:
            tokens.append(Token(PUNCT, text, start, end, key=text))
    return tokens
