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


STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static" / "hub"


@pytest.mark.parametrize("module", sorted(p.name for p in STATIC.glob("*.js")))
def test_every_page_module_parses(module, tmp_path):
    """A syntax error in one module silences every live page that imports it."""
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed: apt-get install nodejs")
    copy = tmp_path / (module[:-3] + ".mjs")  # parse as an ES module
    copy.write_bytes((STATIC / module).read_bytes())
    result = subprocess.run(
        ["node", "--check", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
