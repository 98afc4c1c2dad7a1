"""The themes of answered comments: each comment's mentions, written in one set-based
statement, which the rollup (FeedbackTheme, kept by triggers, migration 0002) follows.

A comment is cut into phrases at punctuation (. , ; : ! ? brackets, new lines), each
phrase into words (letters only, lowercased); PostgreSQL's English Snowball dictionary
(`english_stem`, the one the `english` text search configuration uses) stems each word
and drops the stop words ("the", "was", "again", also "not" and "no"), and words of one
letter go too. The themes are the runs of one to three consecutive remaining words of a
phrase (stop words removed first, so "delivery was late" is the run "delivery late"),
with distinct stems. A theme's key is its stems sorted and joined by a space, so "late
delivery" and "delivery was late" are both "deliveri late"; its label the words of an
occurrence (stop words left out). A comment mentions each key once, however often it
says it."""

import uuid
from collections.abc import Iterable

from django.db import connection

from crm_project.pgsettings import local_settings

SMALL_BATCH = 100  # requests; more is a bulk run
BULK_WORK_MEM = "256MB"

# `%(ids)s` is NULL for "every answered request of the account not indexed yet".
INDEX_SQL = r"""
WITH answers AS (
    SELECT f.id, f.account_id, f.rating, f.comment
      FROM feedback_feedback f
     WHERE f.account_id = %(account)s
       AND f.answered_at IS NOT NULL
       AND f.comment <> ''
       AND CASE WHEN %(ids)s::uuid[] IS NULL
                THEN NOT EXISTS (SELECT 1 FROM feedback_feedbackmention m
                                  WHERE m.feedback_id = f.id)
                ELSE f.id = ANY (%(ids)s::uuid[]) END
), words AS (
    SELECT a.id, a.account_id, a.rating, p.phrase, w.position, w.word,
           ts_lexize('english_stem', w.word) AS lexemes
      FROM answers a
     CROSS JOIN LATERAL regexp_split_to_table(lower(a.comment), '[.,;:!?()\[\]\n\r]+')
           WITH ORDINALITY AS p(text, phrase)
     CROSS JOIN LATERAL regexp_split_to_table(p.text, '[^[:alpha:]]+')
           WITH ORDINALITY AS w(word, position)
     WHERE length(w.word) > 1
), runs AS (
    SELECT id, account_id, rating,
           lexemes[1] AS s1, lead(lexemes[1]) OVER run AS s2, lead(lexemes[1], 2) OVER run AS s3,
           word AS w1, lead(word) OVER run AS w2, lead(word, 2) OVER run AS w3
      FROM words
     WHERE cardinality(lexemes) > 0
    WINDOW run AS (PARTITION BY id, phrase ORDER BY position)
), themes AS (
    SELECT r.id, r.account_id, r.rating, t.key, t.label
      FROM runs r
     CROSS JOIN LATERAL (VALUES
         (r.s1, r.w1),
         (CASE WHEN r.s2 <> r.s1
               THEN least(r.s1, r.s2) || ' ' || greatest(r.s1, r.s2) END,
          r.w1 || ' ' || r.w2),
         (CASE WHEN r.s2 <> r.s1 AND r.s3 <> r.s1 AND r.s3 <> r.s2
               THEN least(r.s1, r.s2, r.s3)
                    || ' ' || greatest(least(r.s1, r.s2), least(greatest(r.s1, r.s2), r.s3))
                    || ' ' || greatest(r.s1, r.s2, r.s3) END,
          r.w1 || ' ' || r.w2 || ' ' || r.w3)
     ) AS t(key, label)
     WHERE t.key IS NOT NULL
)
INSERT INTO feedback_feedbackmention (id, account_id, feedback_id, key, label, rating)
SELECT crm_uuid7(), account_id, id, key, min(label), rating
  FROM themes
 GROUP BY account_id, id, rating, key
ON CONFLICT (feedback_id, key) DO NOTHING
"""


def mentions_index(
    *, account_id: uuid.UUID, feedback_ids: Iterable[uuid.UUID] | None = None
) -> int:
    """Write the mentions of the account's answered requests `feedback_ids` (None: every
    answered request with no mention yet; one whose comment holds no theme is read
    again each time, and gives nothing), in one INSERT ... SELECT, in the caller's
    scope and transaction; a request indexed already is left as it is. Returns the
    mentions written."""
    ids = None if feedback_ids is None else [str(pk) for pk in feedback_ids]
    with connection.cursor() as cursor:
        if ids is not None and len(ids) <= SMALL_BATCH:
            cursor.execute(INDEX_SQL, {"account": str(account_id), "ids": ids})
            return cursor.rowcount
        # A bulk run: the planner misjudges the rows a comment splits into (it would
        # compile the plan, JIT, for seconds) and the grouping would spill to disk.
        with local_settings(jit="off", work_mem=BULK_WORK_MEM):
            cursor.execute(INDEX_SQL, {"account": str(account_id), "ids": ids})
            return cursor.rowcount
