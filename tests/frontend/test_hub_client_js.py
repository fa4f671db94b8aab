"""Run the unit tests of hub-client.js (tests/frontend/js/) with Node."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).parent / "js"


def test_hub_client_js_unit_tests_pass():
    if shutil.which("node") is None:
        pytest.fail(
            "Node.js is needed for the hub-client.js tests: apt-get install nodejs"
        )
    result = subprocess.run(
        ["node", "--test", *sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
