"""What can be imported, declared per kind: the columns (with their aliases, types and
limits), the upsert keys, the columns a file must have, where unknown columns go.

The engine (imports.runner and its appliers) reads nothing else: a new kind (leads)
joins by adding its declaration to KINDS. A flat kind (one file row, one record) uses
the generic applier; orders use the grouped one (one line per item, grouped by the
order's key). The rules a kind's own app enforces on its writes come from that app
(`<app>/import_sql.py`, beside the services they mirror).

Header names are matched by their key (`header_key`): accents dropped, camelCase split,
lower case, runs of other characters as `_` (`Prénom` -> `prenom`, `IdClient` ->
`id_client`, `Loyalty Tier` -> `loyalty_tier`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import ModuleType
from typing import Any

from django.db import models

from crm_project.api.parsers import snake_case
from customers import import_sql as customer_writes
from customers import inputs as customer_inputs
from customers.models import Customer, CustomerStatus, CustomerType, Gender
from leads import import_sql as lead_writes
from leads import inputs as lead_inputs
from leads.models import Lead, LeadSource, LeadStatus
from orders import import_sql as order_writes
from orders.models import Channel, Order, OrderItem, OrderStatus, PaymentMethod, Product

# --- Column types -----------------------------------------------------------------------


class T(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    CHOICE = "choice"
    BOOL = "bool"
    INT = "int"
    MONEY = "money"  # two places, half-up
    PERCENT = "percent"  # 0-100, two places; "15%" accepted
    DATE = "date"
    DATETIME = "datetime"
    UUID = "uuid"
    TAGS = "tags"
    JSON = "json"  # a JSON object (metadata)
    AGENT = "agent"  # an agent of the account, by id or external_id
    IP = "ip"  # an IPv4 or IPv6 address (IPv6 normalized as Django stores it)
    REF = "ref"  # a reference resolved by the applier (text, kept as given)


@dataclass(frozen=True)
class Field:
    name: str  # the API's field name, also the export's header
    type: T = T.TEXT
    aliases: tuple[str, ...] = ()
    column: str | None = None  # the table column it is stored in (None: not directly)
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (accepted spelling, stored value)
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    ignored: bool = False  # read-only in the API (number, aggregates): accepted, not read
    level: str = "row"  # orders: "order" or "item"
    # Dates: the day/month order when the job's date format is `auto` and the file's
    # values do not decide it (None: ambiguous values fail).
    date_order: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (header_key(self.name), *(header_key(a) for a in self.aliases))


@dataclass(frozen=True)
class Key:
    """A unique key of the target table: `field`'s value compared with `table_expr`.
    Match keys find the record a row updates, in declaration order; every key is also
    checked for a conflict with another record."""

    field: str
    table_expr: str  # SQL over the table alias `t`
    value_expr: str  # SQL over the chunk alias `ch`
    label: str
    match: bool = True
    guard: str = "TRUE"  # extra SQL condition on `t` (partial unique indexes)
    # When a row matched by a later key gives this key and the record holds another
    # value, the row fails (the bulk API's rule for external_id vs email).
    keep_on_later_match: bool = False
    # A key several records may share (leads' email): no conflict (409) is checked;
    # `order` (SQL over `t`) picks the record a row matches among several; in a chunk
    # a record is matched by one row only (the first; the others match nothing by it).
    unique: bool = True
    order: str = ""
    # For a non-unique key: two rows of a file sharing its value are one record (the
    # later line wins) unless both give this field (then they are two records).
    distinct_by: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    noun: str  # "customer": in messages
    model: type[models.Model]
    fields: tuple[Field, ...]
    # Each entry: the file needs at least one of these fields' columns.
    required: tuple[tuple[str, ...], ...]
    keys: tuple[Key, ...] = ()
    # A field whose value becomes a new record's id (seed 001's IdClient): kept when
    # no record has it, else the row fails with a 409 reason.
    create_id_field: str | None = None
    metadata_column: str | None = None  # where unknown columns land (None: ignored)
    sequence: str | None = None  # the per-account sequence numbering new records
    # (SQL over the chunk alias `ch`, message[, field]) checked on rows that create a
    # record (statements' parameters: %(account)s).
    create_checks: tuple[tuple[str, ...], ...] = ()
    # (SQL over `ch`, message, field) checked on every row once it is matched
    # (`ch.target_id`: the record it updates, or NULL).
    checks: tuple[tuple[str, str, str], ...] = ()
    # SQL statements run on the chunk table after typing (derived values).
    derive: tuple[str, ...] = ()
    # Fields derived from another one (first_name from name): written when the file
    # has either.
    derived_from: dict[str, str] = field(default_factory=dict)
    applier: str = "flat"
    # The owning app's import SQL, for an applier of its own (orders.import_sql).
    writes: ModuleType | None = None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_NON_WORD = re.compile(r"[^0-9a-z]+")


def header_key(name: str) -> str:
    """`Prénom` -> `prenom`, `IdClient` -> `id_client`, `Loyalty Tier` ->
    `loyalty_tier`, `E-mail` -> `e_mail`: the key a header is matched (or stored in
    metadata) by."""
    text = unicodedata.normalize("NFKD", name.strip())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = snake_case(text)
    return _NON_WORD.sub("_", text.lower()).strip("_")


# --- Header mapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMap:
    index: int  # the file's column (0-based)
    header: str  # as written in the file
    field: Field | None  # None: an unknown column
    key: str  # header_key(header): the metadata key of an unknown column


@dataclass(frozen=True)
class HeaderMap:
    columns: tuple[ColumnMap, ...]
    fields: dict[str, ColumnMap]  # field name -> its column
    unknown: tuple[ColumnMap, ...]
    warnings: tuple[str, ...]

    def has(self, name: str) -> bool:
        return name in self.fields


class MissingColumns(Exception):
    pass


def _alternatives(kind: Kind, names: tuple[str, ...]) -> str:
    described = []
    for name in names:
        f = kind.field(name)
        extra = f" (or {', '.join(f.aliases[:3])})" if f.aliases else ""
        described.append(f"{name}{extra}")
    return " or ".join(described)


def map_header(kind: Kind, header: list[str]) -> HeaderMap:
    """Which field each column feeds. A field named twice (a canonical name and an
    alias): the canonical one wins, the other column is ignored with a warning. Raises
    MissingColumns naming what a file of this kind must have."""
    by_key: dict[str, Field] = {}
    canonical: dict[str, Field] = {}
    for f in kind.fields:
        canonical[header_key(f.name)] = f
        for key in f.keys:
            by_key.setdefault(key, f)
    candidates: list[tuple[int, str, Field | None, str]] = []
    # An error report uploaded again: its last two columns are the engine's own.
    report_columns = (
        len(header) - 2
        if [h.strip().lower() for h in header[-2:]]
        == [
            "line",
            "reason",
        ]
        else len(header)
    )
    warnings: list[str] = []
    if report_columns < len(header):
        warnings.append("The columns “line” and “reason” of an error report are ignored.")
    for index, raw in enumerate(header[:report_columns]):
        key = header_key(raw) or f"column_{index + 1}"
        candidates.append((index, raw, by_key.get(key), key))

    chosen: dict[str, tuple[int, str, Field | None, str]] = {}
    for cand in candidates:
        index, raw, found, key = cand
        if found is None:
            continue
        current = chosen.get(found.name)
        is_canonical = canonical.get(key) is found
        if current is None or (is_canonical and canonical.get(current[3]) is not found):
            if current is not None:
                warnings.append(
                    f"Column {current[0] + 1} “{current[1]}” is ignored: "
                    f"column {index + 1} “{raw}” gives {found.name}."
                )
            chosen[found.name] = cand
        else:
            warnings.append(
                f"Column {index + 1} “{raw}” is ignored: "
                f"column {current[0] + 1} “{current[1]}” gives {found.name}."
            )
    chosen_indexes = {c[0] for c in chosen.values()}

    columns: list[ColumnMap] = []
    unknown: list[ColumnMap] = []
    seen_unknown: set[str] = set()
    ignored_unknown: list[str] = []
    for index, raw, found, key in candidates:
        if found is not None:
            mapped = ColumnMap(index, raw, found if index in chosen_indexes else None, key)
            if index in chosen_indexes:
                columns.append(mapped)
            continue
        if kind.metadata_column is None:
            ignored_unknown.append(raw or f"column {index + 1}")
            continue
        if key in seen_unknown:
            warnings.append(
                f"Column {index + 1} “{raw}” is ignored: another column is also "
                f"stored as {kind.metadata_column}.{key}."
            )
            continue
        seen_unknown.add(key)
        column = ColumnMap(index, raw, None, key)
        columns.append(column)
        unknown.append(column)
    if ignored_unknown:
        warnings.append(
            f"Unknown columns ignored ({kind.noun}s have no custom fields): "
            + ", ".join(f"“{name}”" for name in ignored_unknown)
            + "."
        )
    fields = {c.field.name: c for c in columns if c.field is not None}
    ignored_fields = [c.header for c in columns if c.field is not None and c.field.ignored]
    if ignored_fields:
        warnings.append(
            "Read-only columns ignored: " + ", ".join(f"“{h}”" for h in ignored_fields) + "."
        )
    missing = [
        names
        for names in kind.required
        if not any(n in fields and not fields[n].field.ignored for n in names)  # type: ignore[union-attr]
    ]
    if missing:
        needs = "; ".join(_alternatives(kind, names) for names in missing)
        raise MissingColumns(f"The file has no {needs} column: a {kind.noun} file needs it.")
    return HeaderMap(
        columns=tuple(columns),
        fields={name: c for name, c in fields.items() if not c.field.ignored},  # type: ignore[union-attr]
        unknown=tuple(unknown),
        warnings=tuple(warnings),
    )


# --- Declarations -----------------------------------------------------------------------


def _choices(
    model_choices: Any, extra: dict[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    pairs = [(value, value) for value in model_choices.values]
    pairs += list((extra or {}).items())
    return tuple(pairs)


def _customers() -> Kind:
    def aka(name: str) -> tuple[str, ...]:
        """The field's other names: the customers app's (customers.inputs)."""
        return customer_inputs.FIELD_ALIASES.get(name, ())

    def text(name: str, length: int | None = None) -> Field:
        model_field = Customer._meta.get_field(name)
        return Field(
            name,
            T.TEXT,
            aka(name),
            column=model_field.column,  # type: ignore[union-attr]
            max_length=length or getattr(model_field, "max_length", None),
        )

    fields = (
        # `id` (an export's column) finds the customer to update; an unknown id is
        # ignored (ids are global: another account's export must import cleanly).
        Field("id", T.UUID, aka("id")),
        Field("id_client", T.UUID, aka("id_client")),
        text("external_id"),
        text("first_name"),
        text("last_name"),
        Field("name", T.TEXT, aka("name"), max_length=customer_inputs.NAME_MAX),
        Field("email", T.EMAIL, aka("email"), "email", max_length=254),
        Field("phone", T.PHONE, aka("phone"), "phone"),
        text("company"),
        Field(
            "type",
            T.CHOICE,
            aka("type"),
            "type",
            choices=_choices(CustomerType, customer_inputs.TYPE_SPELLINGS),
        ),
        Field("status", T.CHOICE, aka("status"), "status", choices=_choices(CustomerStatus)),
        Field(
            "gender",
            T.CHOICE,
            aka("gender"),
            "gender",
            choices=_choices(Gender, customer_inputs.GENDER_SPELLINGS),
        ),
        Field("date_of_birth", T.DATE, aka("date_of_birth"), "date_of_birth"),
        text("street"),
        text("city"),
        text("state"),
        text("zip"),
        text("country"),
        text("billing_address"),
        text("shipping_address"),
        text("payment_terms"),
        Field(
            "credit_limit",
            T.MONEY,
            aka("credit_limit"),
            "credit_limit",
            minimum=Decimal("0"),
            maximum=Decimal("999999999999.99"),
        ),
        text("tax_id"),
        Field("metadata", T.JSON, aka("metadata"), "metadata"),
        Field("tags", T.TAGS, aka("tags"), "tags", max_length=customer_inputs.TAG_MAX),
        Field("email_opt_in", T.BOOL, aka("email_opt_in"), "email_opt_in"),
        Field("sms_opt_in", T.BOOL, aka("sms_opt_in"), "sms_opt_in"),
        Field("unsubscribed_at", T.DATETIME, aka("unsubscribed_at"), "unsubscribed_at"),
        Field("assigned_to", T.AGENT, aka("assigned_to"), "assigned_to_id"),
        Field("source_lead", T.UUID, aka("source_lead"), "source_lead"),
        Field("notes", T.TEXT, aka("notes"), "notes"),
        *(
            Field(name, ignored=True)
            for name in (
                "number",
                "created_at",
                "updated_at",
                "lifetime_spend",
                "total_orders",
                "average_order_value",
                "first_order_date",
                "last_order_date",
                "refusals_count",
                "loyalty_points",
            )
        ),
    )
    return Kind(
        name="customers",
        noun="customer",
        model=Customer,
        fields=fields,
        # A row creates a customer only with an email or a phone (else that row fails);
        # a file of updates may name its customers by external_id or id alone.
        required=(("email", "phone", "external_id", "id"),),
        keys=(
            Key("id", "t.id", "ch.v_id", "id"),
            Key(
                "external_id",
                "t.external_id",
                "ch.v_external_id",
                "external_id",
                guard="t.external_id IS NOT NULL",
                keep_on_later_match=True,
            ),
            Key(
                "email",
                "lower(t.email::text)",
                "lower(ch.v_email)",
                "email",
                guard="t.email::text <> ''",
            ),
        ),
        create_id_field="id_client",
        metadata_column="metadata",
        sequence="customer",
        create_checks=customer_writes.CREATE_CHECKS,
        # `name` fills first_name / last_name (customers.import_sql).
        derive=customer_writes.DERIVE,
        derived_from={"first_name": "name", "last_name": "name"},
    )


def _products() -> Kind:
    def text(name: str, *aliases: str) -> Field:
        model_field = Product._meta.get_field(name)
        return Field(
            name,
            T.TEXT,
            aliases,
            column=model_field.column,  # type: ignore[union-attr]
            max_length=getattr(model_field, "max_length", None),
        )

    return Kind(
        name="products",
        noun="product",
        model=Product,
        fields=(
            Field("id", T.UUID, ("product_id",)),
            text("sku", "code", "code_produit", "product_code", "reference", "ref", "item_code"),
            text("external_id"),
            text("name", "nom", "product_name", "designation", "libelle", "title"),
            text("brand", "marque", "maker", "manufacturer"),
            text("category", "categorie", "family", "famille"),
            Field(
                "price",
                T.MONEY,
                ("prix", "unit_price", "prix_unitaire"),
                "price",
                minimum=Decimal("0"),
                maximum=Decimal("9999999999.99"),
            ),
            Field("active", T.BOOL, ("actif", "enabled"), "active"),
            Field("created_at", ignored=True),
            Field("updated_at", ignored=True),
        ),
        required=(("sku",),),
        keys=(
            Key("id", "t.id", "ch.v_id", "id"),
            Key("sku", "t.sku", "ch.v_sku", "sku"),
            Key(
                "external_id",
                "t.external_id",
                "ch.v_external_id",
                "external_id",
                match=False,
                guard="t.external_id IS NOT NULL",
            ),
        ),
        create_checks=order_writes.PRODUCT_CREATE_CHECKS,
    )


def _orders() -> Kind:
    def text(name: str, *aliases: str, model: Any = Order, level: str = "order") -> Field:
        model_field = model._meta.get_field(name)
        return Field(
            name,
            T.TEXT,
            aliases,
            column=model_field.column,
            max_length=getattr(model_field, "max_length", None),
            level=level,
        )

    return Kind(
        name="orders",
        noun="order",
        model=Order,
        fields=(
            # The order a line belongs to: its external_id (lines sharing it are one
            # order's items), else the order's id (an export of orders without one).
            Field("id", T.UUID, ("order_uuid",)),
            text(
                "external_id", "order_id", "order_external_id", "order_ref", "ticket", "ticket_id"
            ),
            Field("customer", T.REF, ("client", "customer_id", "customer_number")),
            Field("customer_external_id", T.REF, ("compte", "customer_ref", "client_ref")),
            Field("customer_email", T.REF, ("email", "mail", "customer_mail")),
            Field(
                "status",
                T.CHOICE,
                ("statut", "order_status"),
                "status",
                choices=_choices(OrderStatus),
            ),
            Field(
                "channel",
                T.CHOICE,
                ("origin", "canal", "source"),
                "channel",
                choices=_choices(
                    Channel, {"web": "ecommerce", "online": "ecommerce", "shop": "store"}
                ),
            ),
            Field("pos", T.REF, ("pos_code", "store", "point_of_sale", "magasin")),
            Field(
                "payment_method",
                T.CHOICE,
                ("mode_paiement", "payment", "paiement"),
                "payment_method",
                choices=_choices(
                    PaymentMethod,
                    {"cb": "card", "carte": "card", "especes": "cash", "virement": "transfer"},
                ),
            ),
            text("currency", "devise"),
            Field(
                "ordered_at",
                T.DATETIME,
                ("order_date", "date", "date_commande", "ordered_on"),
                "ordered_at",
            ),
            Field(
                "amount",
                T.MONEY,
                ("montant", "total", "prix", "order_total"),
                "amount",
                minimum=Decimal("0"),
                maximum=Decimal("999999999999.99"),
            ),
            text("loyalty_card", "carte_fid", "card_number"),
            text("shipping_address", "adresse_livraison"),
            text("billing_address", "adresse_facturation"),
            Field("notes", T.TEXT, ("note",), "notes"),
            # Item columns: one line is one item.
            Field("product", T.UUID, ("product_uuid",), level="item"),
            text("sku", "code_produit", "product_sku", "item_sku", model=OrderItem, level="item"),
            text("name", "product_name", "item_name", "article", model=OrderItem, level="item"),
            text("brand", "marque", model=OrderItem, level="item"),
            Field(
                "quantity",
                T.INT,
                ("qty", "quantite", "qte"),
                "quantity",
                level="item",
                minimum=Decimal("1"),
                maximum=Decimal("1000000"),
            ),
            Field(
                "unit_price",
                T.MONEY,
                ("prix_unitaire", "prix_avant", "price"),
                "unit_price",
                minimum=Decimal("0"),
                maximum=Decimal("9999999999.99"),
                level="item",
            ),
            Field(
                "discount_percent",
                T.PERCENT,
                ("discount", "promo", "remise"),
                "discount_percent",
                minimum=Decimal("0"),
                maximum=Decimal("100"),
                level="item",
            ),
            *(
                Field(name, ignored=True)
                for name in ("number", "created_at", "updated_at", "line_total", "position")
            ),
        ),
        required=(("external_id", "id"), ("customer", "customer_external_id", "customer_email")),
        applier="orders",
        writes=order_writes,
    )


def _leads() -> Kind:
    """Leads: the API's fields (leads.inputs' aliases, the customers' for the fields
    people share, seed 002's camelCase keys, which header_key reads as snake_case:
    firstName, ipAddress, jornayaLeadId, agentExternalId...).

    Which lead a row updates (emails are not unique):
    1. its `id` (an export's column), when a lead of the account has it;
    2. else its `external_id`, when a lead has it;
    3. else its email, case-insensitively: a row with an external_id matches only a lead
       without one (which then gets it); a row without one matches any lead with that
       email. Among several, the most recently created (as POST /leads/lookup/); in
       one file a lead is matched by email by one row only, the first (the others
       create leads, as they would in a later import);
    4. else it creates a lead.
    Rows of one file sharing an email are one lead (the later line wins) unless both
    give an external_id (two leads); rows sharing an external_id are one lead. So an
    import, run again, finds the leads it wrote and changes nothing."""

    def aka(name: str) -> tuple[str, ...]:
        """The field's other names: the leads app's, then the customers' for the
        fields people share."""
        own = lead_inputs.FIELD_ALIASES.get(name, ())
        shared = customer_inputs.FIELD_ALIASES.get(name, ()) if name in _PERSON else ()
        return (*own, *(a for a in shared if a not in own))

    def text(name: str) -> Field:
        model_field = Lead._meta.get_field(name)
        return Field(
            name,
            T.TEXT,
            aka(name),
            column=model_field.column,  # type: ignore[union-attr]
            max_length=getattr(model_field, "max_length", None),
        )

    fields = (
        # `id` (an export's column) finds the lead to update; an unknown id is ignored.
        Field("id", T.UUID, ("lead_id", "uuid")),
        Field("external_id", T.TEXT, ("lead_external_id",), "external_id", max_length=100),
        text("source_id"),
        text("first_name"),
        text("last_name"),
        Field("name", T.TEXT, aka("name"), max_length=lead_inputs.NAME_MAX),
        Field("email", T.EMAIL, aka("email"), "email", max_length=254),
        Field("phone", T.PHONE, aka("phone"), "phone", max_length=lead_inputs.PHONE_MAX),
        text("company"),
        Field(
            "source",
            T.CHOICE,
            ("lead_source",),
            "source",
            choices=_choices(LeadSource, {"web": "website"}),
        ),
        Field("status", T.CHOICE, ("lead_status",), "status", choices=_choices(LeadStatus)),
        Field(
            "score",
            T.INT,
            ("lead_score",),
            "score",
            minimum=Decimal("0"),
            maximum=Decimal("100"),
        ),
        Field("notes", T.TEXT, aka("notes"), "notes"),
        Field("campaign", T.UUID, aka("campaign"), "campaign_id"),
        # By id or external_id (seed 002's agentExternalId is one of its names).
        Field(
            "assigned_to",
            T.AGENT,
            (*aka("assigned_to"), "agent_external_id", "assigned_agent"),
            "assigned_to_id",
        ),
        text("street"),
        text("city"),
        text("state"),
        text("zip"),
        Field("ip_address", T.IP, ("ip",), "ip_address"),
        # Seed 002's `timestamp` is MM-dd-yyyy HH:mm:ss: month first unless the file's
        # values show otherwise.
        Field(
            "acquired_at",
            T.DATETIME,
            aka("acquired_at"),
            "acquired_at",
            date_order="mdy",
        ),
        text("jornaya_lead_id"),
        text("trusted_form_id"),
        Field("attributes", T.JSON, aka("attributes"), "attributes"),
        *(
            Field(name, ignored=True)
            for name in (
                "last_contact",
                "unsubscribed_at",
                "nurture_state",
                "nurture_step",
                "converted_customer",
                "converted_at",
                "created_at",
                "updated_at",
            )
        ),
    )
    return Kind(
        name="leads",
        noun="lead",
        model=Lead,
        fields=fields,
        # A row creates a lead only with a name and an email or a phone (else that row
        # fails); a file of updates may name its leads by external_id or id alone.
        required=(("email", "phone", "external_id", "id"),),
        keys=(
            Key("id", "t.id", "ch.v_id", "id"),
            Key(
                "external_id",
                "t.external_id",
                "ch.v_external_id",
                "external_id",
                guard="t.external_id IS NOT NULL",
            ),
            Key(
                "email",
                "lower(t.email::text)",
                "lower(ch.v_email)",
                "email",
                guard="t.email::text <> '' AND (ch.v_external_id IS NULL OR t.external_id IS NULL)",
                unique=False,
                order="t.created_at DESC, t.id DESC",
                distinct_by="external_id",
            ),
        ),
        metadata_column="attributes",
        create_checks=lead_writes.CREATE_CHECKS,
        checks=lead_writes.CHECKS,
        derive=lead_writes.DERIVE,
        derived_from={"first_name": "name", "last_name": "name"},
    )


# The fields leads share with customers (their aliases too).
_PERSON = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "company"}
    | {"street", "city", "state", "zip", "notes"}
)


KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (_customers(), _leads(), _orders(), _products())
}
KIND_NAMES = tuple(KINDS)


def get_kind(name: str) -> Kind:
    """The declaration of `name` (customers, leads, orders, products); KeyError if
    unknown."""
    return KINDS[name]
