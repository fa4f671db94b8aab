"""The import graph of core/, hub/ and frontend/ (issue 17, ARCHITECTURE.md §1).

Read with the standard library only (``ast`` over the files, nothing is
imported), every import counted wherever it is written: at the top of a
module or inside a function, since an import moved into a function to dodge
a cycle is still that cycle. Imports under ``if TYPE_CHECKING:`` are left
out: they never run.

The rules:

- no cycle between modules;
- the realtime server (``hub.realtime``) imports nothing from ``core`` nor
  from delivery (``hub.delivery``): what it needs from the domain reaches it
  through ``hub.realtime.registry``;
- the event log (the rest of ``hub`` outside those two packages) imports
  neither delivery nor the realtime server: they subscribe to it
  (``hub.subscribers``);
- nothing in ``hub`` but delivery imports ``core``: core's own wiring
  (logs, metrics, request ids) is core's AppConfig's (``core/apps.py``).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "hub", "frontend")
REALTIME = "hub.realtime"
DELIVERY = "hub.delivery"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, module: str) -> set[str]:
    """Every dotted name ``module`` imports: ``from a import b`` gives
    ``a.b``, which :func:`resolve` reads as the module ``a.b`` or, when ``b``
    is a name in it, the module ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def resolve(name: str, modules: set[str]) -> str | None:
    """The module of ours that importing ``name`` runs (its longest known
    prefix), or ``None`` for a third-party or standard module."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {resolve(name, modules) for name in imported_names(path, module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        # Iterative: the graph is deep enough to matter for recursion limits.
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[current])
                if low[current] == index[current]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == current:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def forbidden(graph, importer_in, target_in) -> list[str]:
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if importer_in(module)
        for target in targets
        if target_in(target)
    )


def test_the_graph_is_read():
    # The walk itself: a broken walk would pass every rule below.
    graph = import_graph()

    assert "hub.streams" in graph["hub.realtime.publish"]
    assert "core.roster.models" in graph["core.roster.streams"]
    assert len(graph) > 200


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_realtime_server_imports_neither_core_nor_delivery():
    graph = import_graph()

    assert (
        forbidden(
            graph,
            lambda module: within(module, REALTIME),
            lambda target: within(target, "core") or within(target, DELIVERY),
        )
        == []
    )


def test_the_event_log_imports_neither_delivery_nor_the_realtime_server():
    graph = import_graph()

    def in_log(module: str) -> bool:
        return (
            within(module, "hub")
            and not within(module, REALTIME)
            and not within(module, DELIVERY)
        )

    assert (
        forbidden(
            graph,
            in_log,
            lambda target: within(target, DELIVERY) or within(target, REALTIME),
        )
        == []
    )


def test_hub_imports_no_core_outside_delivery():
    graph = import_graph()

    assert (
        forbidden(
            graph,
            lambda module: within(module, "hub") and not within(module, DELIVERY),
            lambda target: within(target, "core"),
        )
        == []
    )


def test_a_cycle_and_a_function_level_import_are_seen(tmp_path):
    # The checker on a made-up graph: a cycle closed by an import inside a
    # function, and one under TYPE_CHECKING that does not count.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hub.delivery\n"
        "def f():\n    from hub import streams\n"
    )
    names = imported_names(source, "hub.mod")

    assert "hub.streams" in names
    assert "hub.delivery" not in names
