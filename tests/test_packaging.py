"""What the image installs: the wheel's files, the lock, the declared deps."""

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "hub", "frontend")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PYPROJECT_VIA = "school-hub (pyproject.toml)"


def _requirements(key: str | None = None) -> dict[str, Requirement]:
    lines = (
        PYPROJECT["dependencies"]
        if key is None
        else PYPROJECT["optional-dependencies"][key]
    )
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in requirements}


RUNTIME = _requirements()


# The wheel ----------------------------------------------------------------


def _package_data_files() -> set[str]:
    """Every template, static file and compiled catalogue under the packages."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT)
            if (
                "templates" in relative.parts
                or "static" in relative.parts
                or (path.suffix == ".mo" and "locale" in relative.parts)
            ):
                found.add(relative.as_posix())
    return found


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    """The file names in a wheel built from the tree, as the Dockerfile does
    (from a copy of what it copies: no build/ left here, none reused)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("school_hub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_templates_static_files_and_translations(wheel_names):
    for name in (
        "frontend/templates/base.html",
        "frontend/static/hub/hub-client.js",
        "core/accounts/locale/fr/LC_MESSAGES/django.mo",
        "frontend/locale/fr/LC_MESSAGES/django.mo",
        "core/asgi.py",
    ):
        assert name in wheel_names, name
    files = _package_data_files()
    assert len(files) > 100  # the walk found the tree's files
    assert files - wheel_names == set()


def test_the_wheel_holds_no_sources_of_translations_nor_tests(wheel_names):
    assert not [name for name in wheel_names if name.endswith(".po")]
    assert not [name for name in wheel_names if name.startswith("tests/")]


# The lock -----------------------------------------------------------------


def _lock() -> dict[str, dict]:
    """requirements.lock as {name: {"version", "hashes", "via"}}."""
    entries: dict[str, dict] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if pin:
            current = {"version": pin.group(2), "hashes": [], "via": []}
            entries[canonicalize_name(pin.group(1))] = current
        elif current is None:
            continue
        elif line.strip().startswith("--hash=sha256:"):
            current["hashes"].append(line.strip())
        elif via := re.match(r"^\s+# via (.+)$", line):
            current["via"].append(via.group(1).strip())
        elif via := re.match(r"^\s+#\s{3}(.+)$", line):
            current["via"].append(via.group(1).strip())
    return entries


def test_the_lock_pins_every_runtime_dependency_within_its_bounds():
    lock = _lock()
    for name, requirement in RUNTIME.items():
        assert name in lock, f"{name} is not in requirements.lock: make lock"
        version = lock[name]["version"]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside {requirement.specifier}: make lock"
        )
        assert PYPROJECT_VIA in lock[name]["via"], name
    # A pin the lock says pyproject.toml asked for, which it no longer does.
    asked = {name for name, entry in lock.items() if PYPROJECT_VIA in entry["via"]}
    assert asked - set(RUNTIME) == set(), "stale pins: make lock"


def test_the_lock_is_closed_and_hashed():
    lock = _lock()
    for name, entry in lock.items():
        assert entry["hashes"], name
        assert entry["via"], name
        for via in entry["via"]:
            assert via == PYPROJECT_VIA or canonicalize_name(via) in lock, (name, via)


def test_the_lock_holds_nothing_only_tests_or_the_demo_need():
    lock = _lock()
    others = (set(_requirements("test")) | set(_requirements("demo"))) - set(RUNTIME)
    others.discard("school-hub")
    assert {"pytest", "aiosmtpd", "channels-redis"} <= others
    for name in others & set(lock):
        # Only as something a runtime dependency itself needs (PyYAML: uvicorn).
        assert PYPROJECT_VIA not in lock[name]["via"], name


def test_the_image_installs_the_lock_then_the_hub_alone():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lock_step = dockerfile.index("--require-hashes -r requirements.lock")
    project_step = dockerfile.index("pip install --no-cache-dir --no-deps .")
    assert lock_step < project_step
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")


# Declared dependencies ----------------------------------------------------


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (imports
    for the type checker only, never run; their ``else:`` is run)."""
    for node in ast.iter_child_nodes(tree):
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield other
                yield from _runtime_nodes(other)
        else:
            yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _third_party_imports() -> dict[str, set[str]]:
    """{top-level module: files importing it} in the hub's own packages."""
    imports: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in _runtime_nodes(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        relative = path.relative_to(ROOT).as_posix()
                        imports.setdefault(top, set()).add(relative)
    return imports


def test_every_package_the_hub_imports_is_a_declared_dependency():
    """What core/, hub/ and frontend/ import is in `dependencies` (so in the
    lock and the image); only the demo's own modules may use the demo extra."""
    distributions = importlib.metadata.packages_distributions()
    demo = _requirements("demo")
    imports = _third_party_imports()
    assert "django" in imports and "redis" in imports
    for module, files in imports.items():
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert names, f"{module} ({sorted(files)}) is not installed"
        if names & set(RUNTIME):
            continue
        assert names & set(demo), f"{module} ({sorted(files)}) is not declared"
        assert all(file.startswith("core/demo/") for file in files), (module, files)
