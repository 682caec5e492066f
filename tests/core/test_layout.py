"""The package layout a newcomer can draw from the folder tree: the box and the hub build on the
core and the wire protocol, neither imports the other, and no modules import each other in a circle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "sync", "appliance", "cloud_hub")
# Who may import whom, by layer. `appliance.sync` is the box's agent, the one part of the box that
# speaks the wire protocol (`sync`, which holds nothing else).
ALLOWED = {
    "core": {"core"},
    "sync": {"sync", "core"},
    "appliance": {"appliance", "appliance.sync", "core"},
    "appliance.sync": {"appliance", "appliance.sync", "core", "sync"},
    "cloud_hub": {"cloud_hub", "core", "sync"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    return "appliance.sync" if module.startswith("appliance.sync") else module.split(".")[0]


def imports_of(path: Path) -> set[str]:
    """Every first-party module `path` imports, at module level or inside a function."""
    module = module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_each_package_imports_only_what_its_layer_allows():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(target) not in ALLOWED[layer(module)]
    )
    assert wrong == []


def test_the_wire_protocol_package_holds_only_the_protocol():
    assert sorted(p.name for p in (ROOT / "sync").glob("*.py")) == ["__init__.py", "protocol.py"]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def _without_packages(edges):
    """A package's __init__ importing its own submodules is not a cycle between modules."""
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}


def test_no_modules_import_each_other_in_a_circle():
    assert _cycles(_without_packages(graph())) == []


def test_the_checks_see_a_forbidden_import_and_a_cycle():
    edges = {"core.a": {"appliance.b"}, "appliance.b": {"core.a"}, "cloud_hub.c": {"appliance.b"}}
    assert _cycles(edges) == [["appliance.b", "core.a"]]
    assert [m for m, ts in edges.items() for t in ts if layer(t) not in ALLOWED[layer(m)]] == ["core.a", "cloud_hub.c"]
