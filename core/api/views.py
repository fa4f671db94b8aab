"""Pages of the API: its documentation (Swagger UI, from local files, under
the site's Content-Security-Policy) and the user's tokens (Réglages ›
Accès API)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.api import tokens
from core.api.api import api
from core.api.forms import TokenForm


@require_GET
def docs(request):
    """The interactive documentation of ``/api/v1/openapi.json``."""
    return api.docs.render_page(request, api)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request):
    """List the user's tokens; create one (its secret shown once, on the
    answer to the POST, never again) or revoke one (POST ``revoke``)."""
    form = TokenForm()
    secret = None
    if request.method == "POST" and "revoke" in request.POST:
        try:
            token_id = int(request.POST["revoke"])
        except ValueError:
            token_id = 0
        token = tokens.revoke_token(user=request.user, token_id=token_id)
        if token is None:
            messages.error(
                request, _("This token does not exist or is already revoked.")
            )
        else:
            messages.success(
                request,
                _("The token “%(name)s” is revoked.") % {"name": token.name},
            )
        return redirect("api-tokens")
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            _token, secret = tokens.create_token(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                days=form.cleaned_data["days"],
            )
            form = TokenForm()
    return render(
        request,
        "api/tokens.html",
        {"form": form, "secret": secret, "tokens": tokens.tokens_of(request.user)},
        status=400 if form.errors else 200,
    )
