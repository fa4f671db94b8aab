"""One router per area of the API (``core.api.api.ROUTERS`` lists them)."""
