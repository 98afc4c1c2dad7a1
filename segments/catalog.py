"""What a rule builder needs to know about the rule language (GET /segments/fields/):
the fields with their types and operators, what value each operator takes, the
criteria with their parameters, and the limits of groups. Built from segments.rules,
so the catalog and the validation cannot disagree."""

from typing import Any

from segments.rules import vocabulary as lang

# What each operator's value is, for a builder's input widget.
_VALUE_SHAPES = {
    "is_empty": "none",
    "is_not_empty": "none",
    "in": "list",
    "not_in": "list",
    "between": "pair",
    "within_last_days": "days",
    "more_than_days_ago": "days",
}

_OPERATOR_LABELS = {
    "=": "is",
    "!=": "is not",
    ">": "greater than",
    ">=": "at least",
    "<": "less than",
    "<=": "at most",
    "between": "between (inclusive)",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "in": "is one of",
    "not_in": "is none of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "within_last_days": "within the last N days",
    "more_than_days_ago": "more than N days ago",
}

# The JSON value a scalar takes, per field type.
_VALUE_TYPES = {
    lang.TEXT: "string",
    lang.NUMBER: "number",
    lang.DATE: "date",
    lang.BOOLEAN: "boolean",
    lang.TAGS: "string",
    lang.AGENT: "uuid",
    lang.METADATA: "string or number",
}

_PARAM_TYPES = {
    "count": "integer",
    "money": "decimal",
    "percent": "decimal",
    "days": "integer",
    "date": "date",
    "pos": "point of sale id or code",
    "pos_list": "list of point of sale ids or codes",
    "text_list": "list of strings",
    "choice": "choice",
}


def _operators(names: tuple[str, ...], value_type: str) -> list[dict[str, Any]]:
    return [
        {
            "operator": name,
            "label": _OPERATOR_LABELS[name],
            "value": _VALUE_SHAPES.get(name, "scalar"),
            "value_type": "integer"
            if name in ("within_last_days", "more_than_days_ago")
            else value_type,
        }
        for name in names
    ]


def field_catalog() -> dict[str, Any]:
    fields = [
        {
            "name": spec.name,
            "label": spec.label,
            "type": spec.type,
            **({"number_kind": spec.number_kind} if spec.number_kind else {}),
            "operators": _operators(
                lang.OPERATORS_BY_TYPE[spec.type],
                "integer" if spec.number_kind == lang.COUNT else _VALUE_TYPES[spec.type],
            ),
        }
        for spec in lang.FIELDS.values()
    ]
    fields.append(
        {
            "name": "metadata.KEY",
            "pattern": "metadata.<key>",
            "label": "Custom field",
            "type": lang.METADATA,
            "description": (
                "Any key of the customer's metadata. A number value selects the number "
                "operators (stored JSON numbers and plain decimal strings compare as "
                "numbers; other values never match them, except != and is_empty on an "
                "empty value); a string value the text operators (a stored number is "
                "compared as its text)."
            ),
            "operators": _operators(lang.METADATA_OPERATORS, "string or number"),
        }
    )
    criteria = [
        {
            "type": spec.type,
            "label": spec.label,
            "description": spec.description,
            "parameters": [
                {
                    "name": param.name,
                    "label": param.label,
                    "type": _PARAM_TYPES[param.kind],
                    "required": param.required,
                    **({"choices": list(param.choices)} if param.choices else {}),
                    **({"aliases": list(param.aliases)} if param.aliases else {}),
                    **(
                        {"minimum": 0, "maximum": 100}
                        if param.kind == "percent"
                        else {"minimum": 0}
                        if param.kind in ("count", "money", "days")
                        else {}
                    ),
                }
                for param in spec.params
            ],
            **({"at_least_one_of": list(spec.bounds)} if spec.bounds else {}),
        }
        for spec in lang.CRITERIA.values()
    ]
    return {
        "fields": fields,
        "field_aliases": dict(lang.FIELD_ALIASES),
        "operators": {kind: list(names) for kind, names in lang.OPERATORS_BY_TYPE.items()},
        "criteria": criteria,
        "groups": {
            "logic": [lang.AND, lang.OR],
            "min_rules": lang.MIN_CHILDREN,
            "max_rules": lang.MAX_CHILDREN,
            "max_depth": lang.MAX_DEPTH,
            "depth_counts": "groups; the root group is level 1",
        },
        "limits": {
            "max_objects": lang.MAX_NODES,
            "max_bytes": lang.MAX_RULE_BYTES,
            "max_nesting": lang.MAX_NESTING,
            "max_list_values": lang.MAX_VALUES,
            "max_text_length": lang.MAX_TEXT,
            "max_number_digits": lang.MAX_NUMBER_DIGITS,
            "max_days": lang.MAX_DAYS,
            "description": (
                f"A whole rule has at most {lang.MAX_NODES} objects (groups, conditions, "
                f"criteria, parts) and {lang.MAX_RULE_BYTES:,} bytes of compact JSON, "
                f"arrays and objects nested at most {lang.MAX_NESTING} deep (else 400 "
                f"rule_too_large or too_deep on rules / parts). A list value (in, not_in, "
                f"pos_ids, makers, skus) has at most {lang.MAX_VALUES} items (400 "
                f"too_many_values), a text value {lang.MAX_TEXT} characters, a number "
                f"{lang.MAX_NUMBER_DIGITS} digits. No string may contain a NUL character "
                "(400 null_characters_not_allowed at its path)."
            ),
        },
        "parts": {
            "description": (
                'Open Loyalty segments: {"parts": [{"criteria": [criterion, ...]}, ...]} '
                "means AND over parts, OR within a part."
            ),
            "camel_case_parameters": sorted(
                {
                    alias
                    for spec in lang.CRITERIA.values()
                    for p in spec.params
                    for alias in p.aliases
                }
            ),
        },
        "semantics": {
            "case": "Text comparisons, tags and bought_makers ignore case; SKUs are exact.",
            "empty": (
                "Empty is null, a missing key, or a string blank after trimming; an empty "
                "value matches only is_empty, !=, not_in and not_contains."
            ),
            "dates": (
                "Datetimes (created_at, first/last order dates, order dates) are taken as "
                "dates in the account's timezone; today is today there."
            ),
            "counted_orders": "Orders count unless cancelled or refunded.",
        },
    }
