"""Segment rules written short in the NLP tests' tables: c(field, operator, value) for a
condition, k(type, ...) for a criterion, AND/OR for groups, and the country lists."""


def c(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


def k(kind, **params):
    return {"type": kind, **params}


def AND(*rules):
    return {"logic": "AND", "rules": list(rules)}


def OR(*rules):
    return {"logic": "OR", "rules": list(rules)}


FRANCE = ["FR", "France"]
UK = [
    "GB",
    "United Kingdom",
    "UK",
    "Great Britain",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
]
