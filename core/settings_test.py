"""Settings for the test suite: the real settings with a throwaway secret.

Everything else (database, Redis) still comes from the environment, so
the same suite runs on the embedded default and on PostgreSQL + Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from core.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
HUB_POLL_SECONDS = 0.0  # tests that need the log poll turn it on themselves
MESSAGE_KEYS = ["MT1kFVjWzn9hbrZbQQyhH6xFzU5rxT7TeU2XtTxzO1c="]  # a test-only key
# Delivery: the local RFC 8030 endpoint of the tests is http://127.0.0.1:<port>;
# pushes go out at once (tests that check "already seen" set a grace).
PUSH_ALLOWED_HOSTS = ["127.0.0.1"]
PUSH_ALLOW_HTTP = True
DELIVERY_SEEN_GRACE = 0.0
PUSH_TIMEOUT = 2.0
EMAIL_TIMEOUT = 2.0
# The test process keeps its own SIGTERM handling (servers that tests start
# may set HUB_DRAIN_SECONDS in their environment to drain as in production).
HUB_DRAIN_SECONDS = float(os.environ.get("HUB_DRAIN_SECONDS", "0"))
# The test run's own collections (a big heap) are not the hub's to report.
HUB_GC_LOG_MS = float(os.environ.get("HUB_GC_LOG_MS", "0"))
