"""The sign-in forms of the back office and the admin, with failed attempts counted by
client address and by username: over the budget, the form is refused before any
password hash (crm_project.api.signins.FailedSignIns)."""

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from crm_project.api.signins import FailedSignIns


class ThrottledSignInMixin:
    """`throttled_for` is the number of seconds to wait when the form was refused for
    too many failures, else None."""

    throttled_for: int | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""  # type: ignore[attr-defined]
        failures = FailedSignIns(self.request, username=username)  # type: ignore[attr-defined]
        self.throttled_for = failures.wait()
        if self.throttled_for is not None:
            raise forms.ValidationError(
                "Too many failed sign-ins from this address or for this user. "
                "Try again in %(seconds)d seconds.",
                code="throttled",
                params={"seconds": self.throttled_for},
            )
        try:
            return super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            failures.record()
            raise


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass
