"""What a User-Agent string says to a person: the browser and the system.

Read by "Mes appareils" (:mod:`core.accounts.views`) and the new-device
e-mail (:mod:`core.accounts.tasks`), hence a module of its own rather than
part of :mod:`core.accounts.sessions`, which enqueues that e-mail.
"""

import functools


@functools.lru_cache(maxsize=512)
def describe(agent: str) -> tuple[str, str]:
    """``(browser, system)`` of a User-Agent string, e.g. ``("Firefox",
    "Windows")``; empty strings where unknown (ua-parser)."""
    # Imported on first use: loading ua-parser costs ~80 ms, which every
    # process importing this module (sessions, at start-up) would pay.
    from ua_parser import parse

    if not agent:
        return "", ""
    result = parse(agent)
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    return ("" if browser == "Other" else browser), (
        "" if system == "Other" else system
    )
