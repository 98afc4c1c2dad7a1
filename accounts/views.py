"""Back-office pages of the accounts app: sign-in, the account switcher and the API keys
page."""

import secrets
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import SignInForm
from accounts.models import Account, Role
from crm_project.api.authentication import SESSION_ACCOUNT_KEY
from crm_project.views import account_role_required

FORM_TOKEN_TTL = 24 * 3600


class LoginView(auth_views.LoginView):
    """Django's sign-in page; too many failures answer 429 with `Retry-After` and the
    page saying how long to wait."""

    authentication_form = SignInForm

    def form_invalid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.throttled_for is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.throttled_for)
        return response


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def account_switch(request: HttpRequest) -> HttpResponse:
    """The accounts the user belongs to; the one chosen is kept in the session, where
    the middleware reads it. Superusers may also name any account, or none."""
    memberships = selectors.memberships_of_user(request.user)
    if request.method == "POST":
        wanted = request.POST.get("account", "").strip()
        if request.user.is_superuser and not wanted:
            request.session.pop(SESSION_ACCOUNT_KEY, None)
            messages.success(request, "You are working across all accounts.")
            return redirect("home")
        account: Account | None
        if request.user.is_superuser:
            account = selectors.account_by_slug_or_id(wanted) if wanted else None
        else:
            account = next((m.account for m in memberships if str(m.account_id) == wanted), None)
        if account is None or not account.is_active:
            messages.error(request, "Choose one of your active accounts.")
            return render(request, "accounts/switch.html", {"memberships": memberships}, status=400)
        request.session[SESSION_ACCOUNT_KEY] = str(account.pk)
        messages.success(request, f"You are working in {account.name}.")
        return redirect("home")
    return render(request, "accounts/switch.html", {"memberships": memberships})


class ApiKeyForm(forms.Form):
    # One token per rendered form: sending the same form twice (a reload of the answer,
    # a double click) creates one key, not two.
    form_token = forms.CharField(widget=forms.HiddenInput, initial=secrets.token_urlsafe)
    name = forms.CharField(
        max_length=100,
        help_text="Where the key is used, e.g. “Web shop sync”.",
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.MEMBER,
        help_text="Read only: safe methods only. Member: reads and writes CRM data. "
        "Admin: also account settings, keys and agents.",
    )


@never_cache  # the answer to a create holds a secret
@require_http_methods(["GET", "POST"])
@account_role_required(Role.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    """The account's live keys and a form to create one. A new key's secret is in this
    answer only: it is neither stored nor put in the session."""
    account = request.account  # type: ignore[attr-defined]
    created = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token_key = f"api-key-form:{account.pk}:{form.cleaned_data['form_token']}"
        if cache.add(token_key, 1, timeout=FORM_TOKEN_TTL):
            api_key, secret = services.api_key_create(
                account=account,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                created_by=request.user,
            )
            created = {"api_key": api_key, "secret": secret}
        else:
            messages.warning(
                request,
                "This form was already sent: its key is in the list below, and its "
                "secret was shown once, then.",
            )
        form = ApiKeyForm()
    context = {"form": form, "api_keys": selectors.api_key_list(account), "created": created}
    return render(request, "accounts/api_keys.html", context)


@require_POST
@account_role_required(Role.ADMIN)
def api_key_revoke(request: HttpRequest, key_id: uuid.UUID) -> HttpResponse:
    api_key = get_object_or_404(selectors.api_key_list(request.account), pk=key_id)  # type: ignore[attr-defined]
    services.api_key_revoke(api_key=api_key)
    messages.success(
        request,
        f"Key {api_key.prefix}… ({api_key.name or 'unnamed'}) is revoked: it no longer works.",
    )
    return redirect("api-keys")
