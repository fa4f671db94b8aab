"""Property-based fuzzing (hypothesis): what an attacker could send.

Profiles: ``ci`` (default, a few minutes in all) and ``deep`` (ten times the
examples, for a night run): ``HYPOTHESIS_PROFILE=deep make test
PYTEST_ARGS=tests/fuzz``. Examples are random on each run (no database of
examples is kept in the repository); a failure prints the example and the
seed to reproduce it (``--hypothesis-seed``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
