"""The import layers of ``hotmesh_core``: no import cycle, no import of ``studio``, a compiler and a
pipe evaluator that stand on the foundation modules only, and every module importable alone.

The graph is read statically with ``grimp`` and includes the imports under ``TYPE_CHECKING``
and inside functions: a cycle hidden there is still a cycle between the modules' meanings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "hotmesh_core"

#: What the compiler and the pipe evaluator may import outside their own package (directly or
#: through another module): foundation modules only, never the runtime (engine, store, redis...).
ALLOWED_BELOW = {
    "hotmesh_core.compiler": {"hotmesh_core.errors", "hotmesh_core.keys", "hotmesh_core.pipe"},
    "hotmesh_core.pipe": {"hotmesh_core.errors"},
}

#: Modules that run something when imported (``python -m`` entry points).
NOT_IMPORTABLE_ALONE = {"hotmesh_core.cli.__main__"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(CORE, "studio", exclude_type_checking_imports=False, cache_dir=None)


def core_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == CORE or m.startswith(CORE + "."))


def core_digraph(graph: grimp.ImportGraph) -> nx.DiGraph:
    """The direct imports among ``hotmesh_core`` modules. A package counts as its ``__init__``:
    importing ``hotmesh_core.pipe.js`` does not make the package ``hotmesh_core.pipe`` import it."""
    digraph = nx.DiGraph()
    for module in core_modules(graph):
        digraph.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == CORE or imported.startswith(CORE + "."):
                digraph.add_edge(module, imported)
    return digraph


def describe_cycles(digraph: nx.DiGraph) -> list[str]:
    """One line per group of modules that import each other, with one cycle through them."""
    out = []
    for group in nx.strongly_connected_components(digraph):
        if len(group) < 2 and not any(digraph.has_edge(m, m) for m in group):
            continue
        cycle = [edge[0] for edge in nx.find_cycle(digraph.subgraph(group))]
        out.append(f"{len(group)} modules {sorted(group)}; for example {' -> '.join([*cycle, cycle[0]])}")
    return out


def test_no_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = describe_cycles(core_digraph(graph))
    assert not cycles, "import cycles in hotmesh_core:\n" + "\n".join(cycles)


def test_core_never_imports_studio(graph: grimp.ImportGraph) -> None:
    found = [f"{module} imports {imported}" for module in core_modules(graph)
             for imported in sorted(graph.find_modules_directly_imported_by(module))
             if imported == "studio" or imported.startswith("studio.")]
    assert not found, "hotmesh_core must not import studio:\n" + "\n".join(found)


@pytest.mark.parametrize("package", sorted(ALLOWED_BELOW))
def test_compiler_and_pipe_import_no_runtime_module(graph: grimp.ImportGraph, package: str) -> None:
    own = {package} | graph.find_descendants(package)
    allowed: set[str] = set()
    for name in ALLOWED_BELOW[package]:
        allowed |= {name} | graph.find_descendants(name)     # a package: with its modules
    reached: set[str] = set()
    for module in own:
        reached |= graph.find_upstream_modules(module)
    outside = sorted(m for m in reached - own - allowed if m == CORE or m.startswith(CORE + "."))
    assert not outside, f"{package} reaches modules outside its allowed foundation: {outside}"


def test_layers_test_finds_a_cycle() -> None:
    """The cycle check itself: a graph with a loop is reported with its modules."""
    digraph = nx.DiGraph([("hotmesh_core.a", "hotmesh_core.b"), ("hotmesh_core.b", "hotmesh_core.c"),
                          ("hotmesh_core.c", "hotmesh_core.a"), ("hotmesh_core.c", "hotmesh_core.d")])
    (line,) = describe_cycles(digraph)
    assert "3 modules ['hotmesh_core.a', 'hotmesh_core.b', 'hotmesh_core.c']" in line


def _import_alone(module: str) -> tuple[str, int, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    return module, done.returncode, done.stderr


def test_every_module_imports_alone(graph: grimp.ImportGraph) -> None:
    """Each module in a fresh interpreter of its own: an import order that works only because
    another module was imported first fails here."""
    modules = [m for m in core_modules(graph) if m not in NOT_IMPORTABLE_ALONE]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = [f"{module}: {stderr.strip().splitlines()[-1] if stderr.strip() else f'exit {code}'}"
              for module, code, stderr in results if code != 0]
    assert not failed, "modules that fail to import alone:\n" + "\n".join(failed)
