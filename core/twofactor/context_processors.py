"""``second_factor_pending``: the page is shown to a session that owes its
second factor (the second step, enrolment): ``base.html`` then leaves out the
menu and the hub's scripts, whose socket would be refused."""

from core.twofactor.policy import owes_second_factor


def second_factor(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def pending() -> bool:
        return owes_second_factor(request.session, user) and not user.is_verified()

    return {"second_factor_pending": pending}
