"""The clients of the outside systems depend on nothing of ours but the kernel and the settings: the
domains depend on them, never the other way round."""
from __future__ import annotations

import ast
from pathlib import Path

import integrations

ALLOWED = {"integrations", "kernel", "config"}
OURS = {"auth", "push", "bff", "catalog", "accessibility", "sandbox", "bootstrap", "bench", "tools", "wsgi"} | ALLOWED


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_integrations_import_only_the_kernel_and_the_settings():
    modules = sorted(Path(integrations.__file__).parent.glob("*.py"))
    assert len(modules) >= 10
    offenders = {path.name: sorted(_imported_roots(path) & (OURS - ALLOWED)) for path in modules}
    assert {name: roots for name, roots in offenders.items() if roots} == {}
