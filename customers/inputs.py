"""The customers app's input rules, once, for every path that writes customers: the API
serializer (customers.api.serializers), the import kind (imports.kinds) and the import's
set-based SQL (customers.import_sql, which mirrors `names_from_input` for thousands of
rows per statement).

- Other names of the fields (seed 001's French keys, the usual spreadsheet headers), as
  snake_case keys: the API matches them after its parser snake-cases a body's keys, the
  import after it normalises a header (`Prénom` -> `prenom`). A field's own name in the
  same input wins over an alias.
- Other spellings of the gender and type choices (`h`, `femme`, `b2b`).
- Seed 001's columns that have no field: kept in `metadata`.
- A `name` split into first and last name; tags trimmed and de-duplicated."""

from typing import Any

from crm_project.aliases import aliases_by_name, apply_aliases
from customers.models import Customer, CustomerType, Gender

# The field each alias stands for, by field.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("customer_id", "uuid"),
    "id_client": ("idclient",),
    "external_id": ("compte", "account_number", "client_id", "customer_ref", "ref"),
    "first_name": ("prenom", "firstname", "given_name", "forename"),
    "last_name": ("nom", "lastname", "surname", "family_name", "nom_de_famille"),
    "name": ("full_name", "nom_complet", "customer_name"),
    "email": ("mail", "e_mail", "courriel", "email_address"),
    "phone": ("telephone", "tel", "mobile", "phone_number", "portable", "cell", "gsm"),
    "company": ("societe", "entreprise", "organization", "organisation"),
    "type": ("customer_type",),
    "status": ("statut",),
    "gender": ("sexe", "sex", "genre"),
    "date_of_birth": (
        "birth_date",
        "birthdate",
        "dob",
        "birthday",
        "date_naissance",
        "date_de_naissance",
    ),
    "street": ("address", "adresse", "street_address", "rue", "address_line_1"),
    "city": ("ville", "town"),
    "state": ("region", "province"),
    "zip": ("zip_code", "postal_code", "postcode", "code_postal", "cp"),
    "country": ("pays", "country_code"),
    "billing_address": ("adresse_facturation",),
    "shipping_address": ("adresse_livraison",),
    "payment_terms": ("conditions_paiement",),
    "credit_limit": ("plafond_credit",),
    "tax_id": ("vat", "vat_number", "tva", "siret"),
    "metadata": ("custom_fields",),
    "tags": ("labels", "etiquettes"),
    "email_opt_in": ("newsletter",),
    "assigned_to": ("agent", "owner", "assigned_agent"),
    "source_lead": ("lead_id", "lead"),
    "notes": ("note", "comments", "commentaires"),
}
ALIASES: dict[str, str] = aliases_by_name(FIELD_ALIASES)

# Other spellings of choice values (compared as crm_project.choices reads choices):
# seed 001's `Sexe` (h(omme) and m(asculin) are male, f(emme) female) and English words;
# B2B / B2C for the customer type.
GENDER_SPELLINGS: dict[str, str] = {
    "h": Gender.MALE,
    "m": Gender.MALE,
    "f": Gender.FEMALE,
    "homme": Gender.MALE,
    "femme": Gender.FEMALE,
    "man": Gender.MALE,
    "woman": Gender.FEMALE,
}
TYPE_SPELLINGS: dict[str, str] = {"b2b": CustomerType.BUSINESS, "b2c": CustomerType.INDIVIDUAL}

# Seed 001's other columns: kept in metadata under these (snake_case) keys.
SEED_METADATA_KEYS = frozenset(
    {
        "credit",
        "montant",
        "age",
        "carte_fid",
        "date_paiement",
        "paiement",
        "nb_refus",
        "panier_moyen",
    }
)

NAME_PART_MAX = Customer._meta.get_field("first_name").max_length or 150
NAME_MAX = 2 * NAME_PART_MAX + 1
TAG_MAX = Customer._meta.get_field("tags").base_field.max_length or 100  # type: ignore[attr-defined]


def with_aliases(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with each alias replaced by its field (unless the field is given too)."""
    return apply_aliases(data, ALIASES)


def split_name(name: str) -> tuple[str, str]:
    """`"Alice Mae Johnson"` -> ("Alice Mae", "Johnson"): the last word is the last
    name, the rest the first name; a single word is a last name. Whitespace runs are
    collapsed, so first + " " + last (stripped) gives the name back."""
    words = name.split()
    if not words:
        return "", ""
    return " ".join(words[:-1]), words[-1]


def _words_equal(a: list[str], b: list[str]) -> bool:
    return [w.casefold() for w in a] == [w.casefold() for w in b]


def _strip_prefix(text: str, prefix: str) -> str | None:
    """`text` without its leading words `prefix` (compared case-insensitively)."""
    words, head = text.split(), prefix.split()
    if head and _words_equal(words[: len(head)], head):
        return " ".join(words[len(head) :])
    return None


def _strip_suffix(text: str, suffix: str) -> str | None:
    """`text` without its trailing words `suffix` (compared case-insensitively)."""
    words, tail = text.split(), suffix.split()
    if tail and len(words) >= len(tail) and _words_equal(words[len(words) - len(tail) :], tail):
        return " ".join(words[: len(words) - len(tail)])
    return None


def names_from_input(
    name: str, first_name: str | None, last_name: str | None
) -> tuple[str | None, str | None]:
    """First and last name from a `name` and whichever of first_name / last_name came
    with it. Given names win; `name` fills the missing one (seed 001 sends
    `{"name": "Jon", "last_name": "Doe"}`)."""
    name = " ".join(name.split())
    if first_name is not None and last_name is not None:
        return first_name, last_name
    if last_name is not None:
        rest = _strip_suffix(name, last_name)
        return (name if rest is None else rest), last_name
    if first_name is not None:
        rest = _strip_prefix(name, first_name)
        return first_name, (name if rest is None else rest)
    return split_name(name)


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, blanks dropped, de-duplicated case-insensitively (first spelling kept)."""
    seen: set[str] = set()
    cleaned = []
    for tag in tags:
        text = " ".join(str(tag).split())
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            cleaned.append(text)
    return cleaned
