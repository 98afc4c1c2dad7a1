"""The public feedback form: `GET|POST /f/<token>`, no login, the token signed with
SECRET_KEY and bound to one request (campaigns.tracking, kind "feedback"). A plain HTML
form (no JavaScript) with Django's CSRF protection; a second answer gets a friendly
"already answered" page (409); a tampered or unknown token is a 404."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from campaigns import tracking
from crm_project.errors import Conflict, Invalid, first_message
from feedback import services
from feedback.models import COMMENT_MAX, AnsweredVia, FeedbackCategory
from feedback.selectors import feedback_in_its_scope

RATINGS = [(n, str(n)) for n in range(5, 0, -1)]


class AnswerForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a rating from 1 to 5."},
    )
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Anything you would like to tell us? (optional)",
    )
    category = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *FeedbackCategory.choices],
        label="What is it mostly about? (optional)",
    )


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def feedback_form(request: HttpRequest, token: str) -> HttpResponse:
    read = tracking.read_token("feedback", token)
    if read is None:
        raise Http404("No such feedback request.")
    with feedback_in_its_scope(read[0]) as feedback:
        if feedback is None:
            raise Http404("No such feedback request.")
        context = {
            "account_name": feedback.account.name,
            "first_name": feedback.customer.first_name,
        }
        if feedback.answered_at is not None:
            refused = 409 if request.method == "POST" else 200
            return _no_store(render(request, "feedback/answered.html", context, status=refused))
        form = AnswerForm(request.POST or None, initial={"category": feedback.category})
        if request.method == "POST" and form.is_valid():
            try:
                services.feedback_answer(
                    feedback=feedback,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                    category=form.cleaned_data["category"],
                    via=AnsweredVia.FORM,
                )
            except Conflict:
                return _no_store(render(request, "feedback/answered.html", context, status=409))
            except Invalid as exc:
                form.add_error(None, first_message(exc.detail))
            else:
                return _no_store(render(request, "feedback/thanks.html", context))
        status = 400 if request.method == "POST" else 200
        page = render(request, "feedback/form.html", {**context, "form": form}, status=status)
        return _no_store(page)
