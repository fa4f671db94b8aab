"""Admin: activation codes (read-only, never the code) and two actions.

"Print the activation letters" and "Send the activation e-mails" are added
to the roster's admins of users, classes and schools (``core.roster.admin``
registers them first: ``core.accounts`` comes after ``core.roster`` in
``INSTALLED_APPS``). On a class or a school they act on its pupils and their
guardians. Both issue new codes, which revokes the earlier ones: a
confirmation page says so first, as Django's "delete selected" does.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import files
from core.accounts import actions, lockout
from core.accounts.models import ActivationCode
from core.audit.ip import client_ip
from core.roster.admin_scope import OrgScopedAdmin, member_lookups
from core.roster.models import Org, SchoolClass, User

# About 25 ms a letter (measured with make_activation_letters): 600 letters
# are some 15 s, well within a proxy's timeout.
ADMIN_LETTER_LIMIT = 600


@admin.register(ActivationCode)
class ActivationCodeAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookups = member_lookups("user__")
    list_display = [
        "user",
        "channel",
        "created_at",
        "expires_at",
        "used_at",
        "revoked_at",
    ]
    list_filter = ["channel", ("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "user__last_name"]
    # (list_display's names are all fields here)
    fields = list_display + ["issued_by"]  # type: ignore[assignment]
    readonly_fields = fields  # type: ignore[assignment]  # plain names, no fieldsets

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _users(queryset):
    """Return the users an action on ``queryset`` (users, classes or orgs) is for."""
    model = queryset.model
    if model is User:
        return User.objects.filter(pk__in=queryset.values("pk"))
    users = User.objects.none()
    for item in queryset:
        if model is SchoolClass:
            users |= actions.users_of(org=item.org, school_class=item)
        elif model is Org:
            users |= actions.users_of(org=item)
    return User.objects.filter(pk__in=users.values("pk"))


def _confirm(modeladmin, request, queryset, *, action: str, title: str, warning: str):
    """Render the confirmation page of ``action``, or None once confirmed."""
    if not request.user.has_perm("roster.change_user"):
        raise PermissionDenied
    if request.POST.get("confirmed") == "yes":
        return None
    users = _users(queryset)
    pending = actions.not_activated(users)
    pending_count = pending.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "warning": warning,
        "action": action,
        "queryset": queryset,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "pending": pending_count,
        "with_email": pending.exclude(Q(email="")).count(),
        "holding": pending_count - actions.without_live_code(pending).count(),
        "total": users.count(),
    }
    return TemplateResponse(request, "accounts/admin/confirm.html", context)


@admin.action(description=gettext_lazy("Print the activation letters (new codes)"))
def print_activation_letters(modeladmin, request, queryset):
    page = _confirm(
        modeladmin,
        request,
        queryset,
        action="print_activation_letters",
        title=_("Print the activation letters"),
        warning=_("Each account not activated yet gets a letter with a new code."),
    )
    if page is not None:
        return page
    users = _users(queryset)
    reissue = request.POST.get("reissue") == "on"
    if actions.not_activated(users).count() > ADMIN_LETTER_LIMIT:
        modeladmin.message_user(
            request,
            _(
                "More than %(limit)d letters at once would take too long for a "
                "web page: print them class by class, or with the command "
                "manage.py make_activation_letters."
            )
            % {"limit": ADMIN_LETTER_LIMIT},
            messages.ERROR,
        )
        return None
    pdf, pages = actions.print_letters(
        users=users, issued_by=request.user, reissue=reissue
    )
    if not pages:
        modeladmin.message_user(
            request,
            _(
                "None of the selected accounts is waiting for a letter (not "
                "activated and without a valid code)."
            ),
            messages.WARNING,
        )
        return None
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return files.serve(
        pdf, mime="application/pdf", name=f"lettres-activation-{stamp}.pdf"
    )


@admin.action(description=gettext_lazy("Send the activation e-mails (new codes)"))
def send_activation_emails(modeladmin, request, queryset):
    page = _confirm(
        modeladmin,
        request,
        queryset,
        action="send_activation_emails",
        title=_("Send the activation e-mails"),
        warning=_(
            "Each account not activated yet that has an e-mail address gets "
            "a new code by e-mail, valid 3 days."
        ),
    )
    if page is not None:
        return page
    try:
        report = actions.send_activation_emails(
            users=_users(queryset),
            issued_by=request.user,
            reissue=request.POST.get("reissue") == "on",
        )
    except actions.MailServerUnavailable:
        modeladmin.message_user(
            request,
            _("The mail server does not answer: no code was issued."),
            messages.ERROR,
        )
        return None
    modeladmin.message_user(
        request,
        _(
            "Activation e-mails: %(sent)d sent, %(failed)d failed, %(skipped)d "
            "skipped (no address, already active or holding a valid code)."
        )
        % {
            "sent": len(report.sent),
            "failed": len(report.failed),
            "skipped": len(report.skipped),
        },
        messages.WARNING if report.failed else messages.SUCCESS,
    )
    return None


@admin.action(description=gettext_lazy("Unlock login (forget wrong passwords)"))
def unlock_logins(modeladmin, request, queryset):
    """Lift the lockout of the selected users' logins (``core.accounts.lockout``)."""
    if not request.user.has_perm("roster.change_user"):
        raise PermissionDenied
    users = list(queryset)
    for user in users:
        lockout.unlock(user=user, by=request.user, ip=client_ip(request))
    modeladmin.message_user(
        request,
        _("%(count)d login(s) unlocked: they can log in again at once.")
        % {"count": len(users)},
        messages.SUCCESS,
    )


_user_admin = admin.site.get_model_admin(User)
_user_admin.actions = [*(_user_admin.actions or []), unlock_logins]

for _model in (User, SchoolClass, Org):
    _model_admin = admin.site.get_model_admin(_model)
    _model_admin.actions = [
        *(_model_admin.actions or []),
        print_activation_letters,
        send_activation_emails,
    ]
