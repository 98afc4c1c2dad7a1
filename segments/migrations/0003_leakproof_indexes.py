"""Birthdays and tags through indexes, under row-level security.

PostgreSQL uses an index for a condition on a table under row-level security only when
the condition is leakproof (it cannot reveal, by an error, a row the policy hides). The
compiler (segments.compiler) wrote birthday windows with `date_part` and tag conditions
as `EXISTS (SELECT ... FROM unnest(tags) ...)`: neither is, so both were evaluated for
every customer of the account, after the policy.

- `segments_month_day(date)`: month * 100 + day. It cannot fail whatever date it is
  given (an infinite date gives NULL), so it is LEAKPROOF; the index on (account_id,
  segments_month_day(date_of_birth)) answers a window of days from its entries alone
  (the birth date is included for an index-only scan).
- `segments_lower_tags(text[])`: the tags in lower case (NULL elements stay NULL), and
  two operators over it that are the built-in `@>` and `&&` restricted to text arrays
  (whose element comparison, texteq, is leakproof): `@>>>` (contains) and `&&&`
  (overlaps), with a GIN operator class so that the expression index on the lowered
  tags answers them. ANALYZE keeps statistics of the indexed expression, which the
  operators' estimator (matchingsel) reads: a common tag is estimated as common.

LEAKPROOF functions, `LANGUAGE internal` and operator classes need a superuser. Without
one the migration warns and creates the same functions without LEAKPROOF and the
operators without an operator class or index: the compiler's SQL is the same and the
counts are the same, only evaluated row by row as before. The indexes are on customers'
table but serve only this app's compiler, so they live here.
"""

from django.db import migrations

MONTH_DAY = "(date_part('month', $1::timestamp) * 100 + date_part('day', $1::timestamp))::integer"
LOWER_TAGS = "ARRAY(SELECT lower(tag) FROM unnest($1) AS tag)"

OPERATORS = """
  CREATE OPERATOR @>>> (FUNCTION = segments_tags_contain, LEFTARG = text[], RIGHTARG = text[],
                        RESTRICT = matchingsel, JOIN = matchingjoinsel);
  CREATE OPERATOR &&& (FUNCTION = segments_tags_overlap, LEFTARG = text[], RIGHTARG = text[],
                       COMMUTATOR = &&&, RESTRICT = matchingsel, JOIN = matchingjoinsel);
"""

FORWARD = f"""
DO $do$
BEGIN
  CREATE FUNCTION segments_month_day(date) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
    AS $f$ BEGIN RETURN {MONTH_DAY}; END $f$;
  CREATE FUNCTION segments_lower_tags(text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
    AS $f$ BEGIN RETURN {LOWER_TAGS}; END $f$;
  CREATE FUNCTION segments_tags_contain(text[], text[]) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'arraycontains';
  CREATE FUNCTION segments_tags_overlap(text[], text[]) RETURNS boolean
    LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'arrayoverlap';
  {OPERATORS}
  CREATE OPERATOR CLASS segments_tags_ops FOR TYPE text[] USING gin AS
    OPERATOR 1 &&& (text[], text[]),
    OPERATOR 2 @>>> (text[], text[]),
    FUNCTION 1 bttextcmp(text, text),
    FUNCTION 2 ginarrayextract(anyarray, internal, internal),
    FUNCTION 3 ginqueryarrayextract(anyarray, internal, int2, internal, internal, internal,
                                    internal),
    FUNCTION 4 ginarrayconsistent(internal, int2, anyarray, int4, internal, internal, internal,
                                  internal),
    FUNCTION 6 ginarraytriconsistent(internal, int2, anyarray, int4, internal, internal,
                                     internal),
    STORAGE text;
  CREATE INDEX customer_birth_month_day_idx
      ON customers_customer (account_id, segments_month_day(date_of_birth))
      INCLUDE (date_of_birth)
      WHERE date_of_birth IS NOT NULL;
  CREATE INDEX customer_tags_lower_gin
      ON customers_customer USING gin (segments_lower_tags(tags) segments_tags_ops);
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'cannot create leakproof functions and operator classes (needs a superuser): '
    'birthday and tag conditions of segments will not use indexes under row-level security';
  CREATE FUNCTION segments_month_day(date) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $f$ SELECT {MONTH_DAY} $f$;
  CREATE FUNCTION segments_lower_tags(text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $f$ BEGIN RETURN {LOWER_TAGS}; END $f$;
  CREATE FUNCTION segments_tags_contain(text[], text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$ SELECT $1 @> $2 $f$;
  CREATE FUNCTION segments_tags_overlap(text[], text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$ SELECT $1 && $2 $f$;
  {OPERATORS}
END
$do$;
"""

BACKWARD = """
DROP INDEX IF EXISTS customer_tags_lower_gin;
DROP INDEX IF EXISTS customer_birth_month_day_idx;
DROP OPERATOR FAMILY IF EXISTS segments_tags_ops USING gin;
DROP OPERATOR IF EXISTS &&& (text[], text[]);
DROP OPERATOR IF EXISTS @>>> (text[], text[]);
DROP FUNCTION IF EXISTS segments_tags_overlap(text[], text[]);
DROP FUNCTION IF EXISTS segments_tags_contain(text[], text[]);
DROP FUNCTION IF EXISTS segments_lower_tags(text[]);
DROP FUNCTION IF EXISTS segments_month_day(date);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0016_loyalty_from_cards"),
        ("segments", "0002_uuid7_ids"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
