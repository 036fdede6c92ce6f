"""The import rule of ARCHITECTURE.md, checked over the source: a module imports only from its own layer and
the layers below it; peers in a layer marked independent never import each other. Lazy imports inside
functions count too, except in the registries named in REGISTRIES."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "miniprogram_api", "admin_ui", "phone_app")

# Lowest first. A name stands for that module or package; the longest matching name places a module.
LAYERS: list[tuple[str, ...]] = [
    ("backend.config", "backend.crypto", "backend.errors", "backend.timeutil", "backend.months"),
    ("backend.db", "backend.pagination", "backend.extensions", "backend.ledger_check"),
    # The transaction boundary dispatches the jobs it queued; a job runs inside one (in-process without Redis).
    ("backend.jobs", "backend.transaction", "backend.idempotency", "backend.request_input"),
    # The region tree's tables sit below auth (a scope is computed over them), its services above (they filter by one).
    ("backend.org.models", "backend.org.identity"),
    # The audit log: account changes, org's writes, imports and bindings record their changes in it.
    ("backend.audit",),
    ("backend.auth",),
    ("backend.org",),
    ("backend.inbox",),
    ("backend.photos",),
    ("backend.points",),
    ("backend.shop", "backend.records", "backend.surveys"),
    ("backend.ratings",),
    # Above every domain: they compose them (the demo county; a new county's starting configuration).
    ("backend.demo", "backend.onboarding"),
    ("backend.models", "backend.cli"),
    ("miniprogram_api", "admin_ui", "phone_app"),
    # The composition root: the app factory binds the front ends.
    ("backend.app", "backend"),
]
# Layers whose members are peers that must not import one another.
INDEPENDENT = {("backend.shop", "backend.records", "backend.surveys"), ("miniprogram_api", "admin_ui", "phone_app")}
# Modules that load higher layers on purpose, inside a function, to find what registers itself there.
REGISTRIES = {
    "backend.jobs.tasks": "load_all_tasks imports every domain's jobs module so a worker knows every task",
    "backend.jobs.runner": "a worker process builds the app (the composition root) for its first job",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def place(module: str) -> tuple[int, str]:
    """(layer index, the layer name that holds the module)."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for name in layer:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (index, name)
    assert best is not None, f"{module} is in no layer of ARCHITECTURE.md"
    return best


def submodule(package: str, name: str) -> str | None:
    base = ROOT.joinpath(*package.split("."), name)
    return f"{package}.{name}" if base.with_suffix(".py").exists() or (base / "__init__.py").exists() else None


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import of our own packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from backend import idempotency` imports the module backend.idempotency.
            names = [submodule(node.module, alias.name) or node.module for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(name, node.lineno, id(node) in top) for name in names if name.split(".")[0] in PACKAGES]
    return found


def source_files() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def violations() -> list[str]:
    found: list[str] = []
    for path in source_files():
        module = module_name(path)
        layer, home = place(module)
        for imported, line, at_top in imports_of(path):
            target_layer, target_home = place(imported)
            where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
            if target_layer > layer and (at_top or module not in REGISTRIES):
                found.append(f"{where}: a higher layer ({target_home} above {home})")
            elif target_layer == layer and target_home != home and tuple(LAYERS[layer]) in INDEPENDENT:
                found.append(f"{where}: {home} and {target_home} are independent peers")
    return sorted(set(found))


def test_every_module_imports_only_its_own_layer_and_those_below() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a domain module importing the admin UI is reported, a downward import is not."""
    probe = tmp_path / "probe.py"
    probe.write_text("from admin_ui import views\nfrom backend.db import db\n", encoding="utf-8")
    imported = [(name, at_top) for name, _line, at_top in imports_of(probe)]
    assert imported == [("admin_ui.views", True), ("backend.db", True)]
    assert place("backend.points.ledger") < place("admin_ui.views")
    assert place("backend.org.queries")[0] > place("backend.auth.scope")[0] > place("backend.org.models")[0], (
        "the longest name places a module"
    )


def test_every_source_module_has_a_layer() -> None:
    for path in source_files():
        place(module_name(path))
