"""The versioned REST API for apps (``/api/v1/``, docs/api.md).

``api.py`` holds the NinjaAPI and the list of routers; ``auth.py`` how a
request authenticates (a personal access token with a scope, or the site's
session with CSRF); ``tokens.py`` the tokens' actions; ``routers/`` one
module per area, each a thin layer over that area's ``access.py`` and
``actions.py``.
"""
