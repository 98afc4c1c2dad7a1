# ruff: noqa: S608  (SQL over the engine's chunk table; values are parameters)
"""The set-based SQL the import engine (imports/, the `customers` kind) applies to a
chunk of customer rows: the rules customers/services.py and the customer serializer
apply to one customer at a time, for thousands per statement. A change to a rule
there is made here too.

- `name` fills first_name / last_name as the API does (`names_from_input`): given
  names win; the last word of `name` is the last name; each part is at most 150
  characters.
- A customer is created only with an email or a phone (`customer_create`'s
  `_require_contact`, and the `customer_needs_email_or_phone` constraint).

The engine writes the customers table itself from the model's columns (new rows
numbered from the account's `customer` sequence, as `customer_create` numbers them;
unknown columns merged into metadata as `metadata_extra` is); it finds the customer a
row updates as `customer_upsert` does (by id, else external_id, else email,
case-insensitively; an email whose customer has another external_id is a 409), from
the keys declared in imports.kinds.

The statements work over the engine's chunk table `imp_chunk` (alias `ch`): one row
per file row, typed values `v_<field>`, errors `errs` (`field<TAB>message` entries)."""

from customers.inputs import NAME_PART_MAX

_NORM = "regexp_replace(btrim(ch.v_name), '\\s+', ' ', 'g')"
_FIRST = "regexp_replace(ch.v_first_name, '\\s+', ' ', 'g')"
_LAST = "regexp_replace(ch.v_last_name, '\\s+', ' ', 'g')"


# The split of a `name` column into first and last names (leads' imports run it too).
NAME_SPLIT = f"""
    UPDATE imp_chunk ch SET
      v_first_name = CASE
        WHEN ch.v_first_name IS NOT NULL THEN ch.v_first_name
        WHEN ch.v_last_name IS NOT NULL THEN
          CASE WHEN lower({_NORM}) = lower({_LAST}) THEN ''
               WHEN lower(right({_NORM}, length({_LAST}) + 1)) = ' ' || lower({_LAST})
               THEN left({_NORM}, length({_NORM}) - length({_LAST}) - 1)
               ELSE {_NORM} END
        ELSE regexp_replace({_NORM}, '\\s*\\S+$', '') END,
      v_last_name = CASE
        WHEN ch.v_last_name IS NOT NULL THEN ch.v_last_name
        WHEN ch.v_first_name IS NOT NULL THEN
          CASE WHEN lower({_NORM}) = lower({_FIRST}) THEN ''
               WHEN lower(left({_NORM}, length({_FIRST}) + 1)) = lower({_FIRST}) || ' '
               THEN substr({_NORM}, length({_FIRST}) + 2)
               ELSE {_NORM} END
        ELSE coalesce(substring({_NORM} from '\\S+$'), '') END
     WHERE ch.v_name IS NOT NULL AND btrim(ch.v_name) <> ''
    """

# Run in order on each chunk, after typing.
DERIVE = (
    NAME_SPLIT,
    f"""
    UPDATE imp_chunk ch
       SET errs = errs
           || ('name' || E'\\t' || 'Each part of the name is at most {NAME_PART_MAX} characters.')
     WHERE ch.v_name IS NOT NULL
       AND (length(ch.v_first_name) > {NAME_PART_MAX} OR length(ch.v_last_name) > {NAME_PART_MAX})
    """,
)

# (SQL over `ch`, message): checked on the rows that would create a customer.
CREATE_CHECKS = (
    (
        "coalesce(ch.v_email, '') <> '' OR coalesce(ch.v_phone, '') <> ''",
        "A customer needs an email or a phone.",
    ),
)
