"""The package's layers: imports only go down (``ops`` / ``networks`` never reach up into data, workflows, conversion
or entry points) and there is no import cycle between modules. Reads every module's imports (also those inside
functions) with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mamba_monai"

# layer -> subpackages it must never import (docs/architecture.md, "Layers")
FORBIDDEN = {
    "utils": {"bundle", "ops", "networks", "data", "convert", "engines", "visualize", "metrics", "label", "zoo"},
    "ops": {"bundle", "networks", "data", "convert", "engines", "visualize", "metrics", "label", "zoo"},
    "networks": {"bundle", "data", "convert", "engines", "visualize", "metrics", "label", "zoo"},
    "data": {"bundle", "convert", "engines", "visualize", "label", "zoo"},
    "convert": {"bundle", "data", "engines", "visualize", "metrics", "label", "zoo"},
}
# run-time forwarding of names that earlier bundle configs use (networks/nets/__init__.py, _MOVED) is by string
ALLOWED = {("mamba_monai.networks.nets", "mamba_monai.convert.pretrained")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("mamba_monai.")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "_kernels" not in p.parts}
    return {name: {i for i in imports_of(path) if i in modules} for name, path in modules.items()}


def test_imports_only_go_down_the_layers(graph):
    upward = []
    for module, imported in graph.items():
        layer = module.split(".")[1] if "." in module else ""
        for target in imported:
            if target.split(".")[1] in FORBIDDEN.get(layer, ()):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycle_at_module_level(graph):
    """Modules that import each other (directly or through others); package ``__init__`` re-exports excluded."""
    edges = {m: {t for t in ts if not graph_is_init_reexport(m, t)} for m, ts in graph.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for target in edges.get(node, ()):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def graph_is_init_reexport(module: str, target: str) -> bool:
    """``a.b`` (a package) importing ``a.b.c`` to re-export it, or a submodule importing its parent package's
    names: both are how packages expose their API, not dependencies between concepts."""
    return target == module or target.startswith(module + ".") or module.startswith(target + ".")


def test_checkpoint_conversion_lives_in_convert_only():
    """networks/nets holds architectures: no key renaming or checkpoint loading there."""
    nets = PACKAGE / "networks" / "nets"
    offenders = [
        f"{path.name}: {word}"
        for path in nets.glob("*.py")
        for word in ("def convert_", "torch.load(", "state_dict_rules", "_KEY_RULES")
        if word in path.read_text()
    ]
    assert offenders == []
