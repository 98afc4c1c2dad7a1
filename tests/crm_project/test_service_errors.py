"""Services refuse with the app's own errors (crm_project.errors), in plain Python; the
API layer alone turns them into the one error shape."""

import ast
from pathlib import Path

import pytest
from rest_framework.exceptions import ValidationError

from crm_project.api.errors import api_exception
from crm_project.api.exceptions import Conflict as ApiConflict
from crm_project.errors import Conflict, FieldError, Invalid

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(ROOT.glob("*/services.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_there_are_services_to_check():
    assert {path.parent.name for path in SERVICES} >= {"accounts", "customers", "orders"}


@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.parent.name)
def test_services_know_nothing_of_the_api(path):
    api_imports = {
        module
        for module in _imported_modules(path)
        if module.startswith(("rest_framework", "crm_project.api", "drf_"))
    }
    assert api_imports == set()


def test_an_invalid_input_is_a_400_naming_each_field_with_its_code():
    exc = api_exception(
        Invalid(
            {
                "items": [{}, {"quantity": [FieldError("Too many.", "max_value")]}],
                "amount": "Required.",
            },
            code="required",
        )
    )
    assert isinstance(exc, ValidationError)
    assert exc.status_code == 400
    assert exc.get_codes() == {"items": [{}, {"quantity": ["max_value"]}], "amount": ["required"]}
    assert str(exc.detail["items"][1]["quantity"][0]) == "Too many."


def test_a_conflict_is_a_409_with_its_code_and_message():
    error = Conflict({"email": ["A customer with this email exists."]}, code="duplicate_email")
    exc = api_exception(error)
    assert isinstance(exc, ApiConflict)
    assert exc.status_code == 409
    assert exc.get_codes() == {"email": ["duplicate_email"]}
    assert str(error) == "A customer with this email exists."
