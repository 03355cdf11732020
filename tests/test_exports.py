"""The public surface and the import layers that docs/design.md promises, enforced.

Rules of this file:

* Every public module has an ``__all__`` whose names exist, once each.
* ``import cnilib`` exposes every public name (lazily: the package imports its submodules on
  first use) and costs no heavy import: attrs, cattrs, jsonschema, subprocess and asyncio stay
  out of ``sys.modules``. The import *time* is measured by the benchmark script, not here (the
  suite never times anything).
* Layering is read from the source with :mod:`ast`, imports inside functions included: a module
  imports only from layers below its own, a private package counting as one unit whose modules
  may import each other (docs/design.md, "Import layers"), the pure modules
  never import ``subprocess`` or ``asyncio``, and only :mod:`cnilib.invoke`'s helper (and the
  demo edge) starts processes.
* Dependencies are honest (docs/design.md, "Runtime dependencies"): every runtime dependency of
  ``pyproject.toml`` is imported by the package, and the package imports nothing from outside
  the standard library but those, what they bring (``referencing``) and the optional
  ``hypothesis``.
* Under tox (``CNILIB_TEST_INSTALLED=1``) the suite must be running against the installed wheel,
  and the wheel must carry ``py.typed`` and the JSON Schemas.
"""

from __future__ import annotations

import ast
import importlib
import importlib.resources
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import cnilib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(cnilib.__file__).resolve().parent

#: Every public module, in the order of docs/api.rst.
PUBLIC_MODULES = (
    "errors",
    "version",
    "schema",
    "config",
    "identifiers",
    "types",
    "convert",
    "protocol",
    "invoke",
    "cache",
    "api",
    "aio",
    "capabilities",
    "pod",
    "confdir",
    "networks",
    "aionetworks",
    "skel",
    "testing",
    "testing.strategies",
    "testing.conformance",
    "testing.report",
    "testing.errors",
    "cli",
    "lint",
)

#: Public modules that ``cnilib`` deliberately does not re-export, each with its reason
#: (cnilib/__init__.py says the same).
NOT_REEXPORTED_MODULES: dict[str, str] = {
    # The plugin side is another program's API: a runtime never needs it, a plugin imports
    # it as ``cnilib.skel``.
    "skel": "plugin side",
    # Test doubles stay under their own name, as in trio.testing.
    "testing": "test kit",
    "testing.strategies": "test kit",
    "testing.conformance": "test kit",
    "testing.report": "test kit",
    "testing.errors": "test kit",
    # The command line is a program, not a library API: ``cnilib.run``/``cnilib.main`` would
    # read as "run a network". Use ``cnilib.cli.run``.
    "cli": "command line",
}

#: Single names of re-exported modules that ``cnilib`` leaves out, each with its reason.
NOT_REEXPORTED: dict[str, frozenset[str]] = {
    # ``cnilib.convert`` is the submodule: importing it (``result.as_version`` does) makes
    # Python set the package attribute to the module, so a lazily re-exported *function* of
    # that name would turn into a module under the caller's feet. Call
    # ``cnilib.convert.convert(...)`` or ``result.as_version(...)``.
    "convert": frozenset({"convert"}),
}

#: Names ``cnilib`` re-exports from private modules (documented in docs/api.rst).
PRIVATE_REEXPORTS = frozenset({"JSON", "JSONObject"})

#: Imports that ``import cnilib`` must not trigger (import cost; sans-IO at import time).
HEAVY = ("attrs", "attr", "cattrs", "jsonschema", "referencing", "subprocess", "asyncio",
         "hypothesis")

#: The runtime dependencies of pyproject.toml, each the name it is imported under.
RUNTIME_DEPENDENCIES = frozenset({"attrs", "cattrs", "jsonschema"})
#: Outside packages cnilib may import besides those: jsonschema's ``referencing`` (the
#: registry of cnilib.schema) and the optional ``hypothesis``.
ALSO_IMPORTED = frozenset({"referencing", "hypothesis"})

#: The only module that may import the optional ``hypothesis`` (``cnilib[testing]``).
HYPOTHESIS_ALLOWED = frozenset({"testing.strategies"})

#: Private packages laid out by module, like public modules: ``_cli`` is the command line's
#: own tree (its modules import each other in layers). Every other private package
#: (``cnilib/_x/``) is *one* layer unit: its modules count as the package, and they may import
#: their siblings (docs/design.md, "Import layers").
LAYERED_BY_MODULE = frozenset({"_cli"})

#: The import layers of docs/design.md, bottom first. A unit (a top-level module, a module of a
#: public subpackage or of ``_cli``, or a whole private package) imports only units of lower
#: layers; units of one layer are independent. Private helpers sit below the modules that use
#: them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("_json", "testing.errors", "testing.report"),
    ("version", "identifiers", "_schema", "_cache", "capabilities", "testing._scratch"),
    ("types.common",),
    ("types.v020", "types.v040", "types.v100"),
    ("types",),
    ("_results", "convert", "schema", "pod", "_config"),
    ("config", "protocol"),
    ("_plans", "skel", "testing._verdicts", "confdir"),
    ("invoke", "cache", "testing._fakes", "testing.plugins", "testing.plugins.record",
     "testing.plugins.sleep", "testing.plugins.debug", "testing.strategies"),
    ("_exec", "testing"),
    ("api", "aio"),
    ("_demo", "lint", "_cli", "networks", "aionetworks"),
    ("_cli.verbs", "_cli.validate", "testing.conformance"),
    ("_cli.networks", "testing._command"),
    ("cli",),
    ("__main__",),
)

#: The only imports that reach *up* the layers, all inside functions (so there is no cycle at
#: import time), as ``(importing unit, imported unit)``: a result's methods delegate to the one
#: codec and the one conversion table, which themselves import the result classes; skel loads
#: its delegation helpers (which need the executors) only when a plugin delegates; the plugin
#: schemas of ``_schema.plugin`` are read through :mod:`cnilib.schema`, which compiles with
#: ``_schema``.
LAZY_UPWARD = frozenset({
    ("_schema", "schema"),
    ("skel", "_exec"),
    ("types", "_results"),
    ("types.common", "_results"),
    ("types.common", "convert"),
})

#: Module-level imports of one module of a private package by a unit *below* the package,
#: as ``(importing unit, imported module)``. Each is allowed only while the imported module
#: itself imports nothing at or above the importer's layer (checked), so no cycle hides in the
#: package: :mod:`cnilib.invoke`, the public executors, runs its processes with
#: ``_exec.spawn`` and ``_exec.proc``, which import only errors, protocol and each other, while
#: the rest of ``_exec`` (the delegation helpers, the drivers' engine) uses the executors.
REACH_IN = frozenset({
    ("invoke", "_exec.proc"),
    ("invoke", "_exec.spawn"),
})

#: Units and modules that decide rather than do: no processes, no event loop (docs/design.md,
#: "Sans-IO core, thin edges"). A package named here is pure in every module.
PURE = frozenset({
    "errors", "_json", "_schema", "version", "identifiers", "_cache.entry", "_config",
    "types.common", "types.v020", "types.v040", "types.v100", "types", "_results",
    "convert", "schema", "config", "protocol", "_plans", "skel", "testing.report",
    "testing._verdicts", "testing.strategies", "capabilities", "pod",
})

#: The only modules that may import :mod:`subprocess`: the executor's process helper, the
#: executor itself, the demo (an edge like the CLI that runs ``ip`` and ``ping``) and the
#: conformance checker's scratch namespace (it runs ``ip netns``).
SUBPROCESS_ALLOWED = frozenset({"_exec.spawn", "invoke", "_demo", "testing._scratch"})


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _source_modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in sorted(PACKAGE_DIR.rglob("*.py"))
        if _module_name(p) != ""  # the package's own __init__ is the lazy facade
        # An installed wheel carries examples/ (example plugins: scripts, not modules).
        and p.relative_to(PACKAGE_DIR).parts[0] != "examples"
    }


def _private_packages() -> frozenset[str]:
    """The private packages that are one layer unit each: ``cnilib/_x/`` but for
    :data:`LAYERED_BY_MODULE`."""
    return frozenset(
        p.name for p in PACKAGE_DIR.iterdir()
        if p.name.startswith("_") and (p / "__init__.py").is_file()
    ) - LAYERED_BY_MODULE


def _unit(module: str, packages: frozenset[str]) -> str:
    """The layer unit of ``module``: its private package, or the module itself."""
    head = module.split(".", maxsplit=1)[0]
    return head if head in packages else module


#: A module's cnilib imports: ``(eager, lazy)`` module names.
Graph = dict[str, tuple[set[str], set[str]]]


def _graph() -> Graph:
    return {m: _imports(m, path)[1:] for m, path in _source_modules().items()}


def _upward_imports(graph: Graph, layers: tuple[tuple[str, ...], ...],
                    packages: frozenset[str],
                    lazy_upward: frozenset[tuple[str, str]] = frozenset(),
                    reach_in: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """Every import of ``graph`` that does not go down ``layers``, as ``"a -> b"``.

    Units are those of :func:`_unit`: a module of a package in ``packages`` may import its
    siblings. A lazy import may go up when its pair of units is in ``lazy_upward``; an eager
    one when ``(importing unit, imported module)`` is in ``reach_in`` (the module's package
    ``__init__``, which Python runs first, included) and the imported module imports nothing
    at or above the importer's layer.
    """
    rank = {u: i for i, layer in enumerate(layers) for u in layer}
    top = len(layers)
    upward: list[str] = []

    def below(dep: str, limit: int) -> bool:
        eager, lazy = graph.get(dep, ({dep}, set()))
        return all(rank.get(_unit(d, packages), top) < limit for d in eager | lazy)

    for module, (eager, lazy) in graph.items():
        unit = _unit(module, packages)
        for dep in sorted(eager | lazy):
            dep_unit = _unit(dep, packages)
            if dep_unit == unit or rank.get(dep_unit, top) < rank.get(unit, -1):
                continue
            if dep in eager:
                allowed = any(
                    dep in (target, target.rpartition(".")[0])
                    for importer, target in reach_in if importer == unit
                ) and below(dep, rank.get(unit, -1))
            else:
                allowed = (unit, dep_unit) in lazy_upward
            if not allowed:
                upward.append(f"{module} -> {dep}{'' if dep in eager else ' (lazy)'}")
    return upward


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """``(node, lazy)`` for every node run at some point, ``lazy`` inside a function body.

    Nodes under ``if TYPE_CHECKING:`` are never executed and are left out.
    """
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, lazy = stack.pop()
        yield node, lazy
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, lazy) for child in node.orelse)
            continue
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _imports(module: str, path: Path) -> tuple[set[str], set[str], set[str]]:
    """Top-level names of outside imports, then cnilib modules imported eagerly and lazily."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    external: set[str] = set()
    eager: set[str] = set()
    lazy_deps: set[str] = set()
    known = set(_source_modules())
    for node, lazy in _runtime_nodes(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                up = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join(["cnilib", *up, *([node.module] if node.module else [])])
            # ``from . import x`` may name a submodule: count it as one when it is.
            subs = [f"{base}.{a.name}" for a in node.names]
            targets = [base, *(s for s in subs if s.removeprefix("cnilib.") in known)]
        for target in targets:
            if target == "cnilib" or target.startswith("cnilib."):
                name = target.removeprefix("cnilib").removeprefix(".")
                if name and name != module:
                    (lazy_deps if lazy else eager).add(name)
            else:
                external.add(target.split(".")[0])
    return external, eager, lazy_deps - eager


def _public(name: str) -> ModuleType:
    return importlib.import_module(f"cnilib.{name}")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_module_all_names_exist_once(name: str) -> None:
    """Every public module declares ``__all__``; each name in it exists and appears once."""
    module = _public(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def _reexported(name: str) -> set[str]:
    """The names of public module ``name`` that ``cnilib`` re-exports."""
    if name in NOT_REEXPORTED_MODULES:
        return set()
    return set(_public(name).__all__) - NOT_REEXPORTED.get(name, frozenset())


def test_top_level_all_is_the_union_of_the_modules() -> None:
    """``cnilib.__all__`` is every public module's ``__all__``, minus the listed exclusions."""
    expected = set(PRIVATE_REEXPORTS)
    for name in PUBLIC_MODULES:
        expected |= _reexported(name)
    actual = cnilib.__all__
    assert len(actual) == len(set(actual))
    assert expected == set(actual)


def test_exclusions_are_real_modules_kept_apart() -> None:
    """Each excluded module is public, and none of its own names leaks into ``cnilib``."""
    assert set(NOT_REEXPORTED_MODULES) <= set(PUBLIC_MODULES)
    for name in NOT_REEXPORTED_MODULES:
        module = _public(name)
        own = {n for n in module.__all__
               if getattr(getattr(module, n), "__module__", module.__name__) == module.__name__}
        assert own & set(cnilib.__all__) == set()


def test_excluded_names_exist() -> None:
    """A single-name exclusion names a real export (a stale entry would hide nothing)."""
    for name, excluded in NOT_REEXPORTED.items():
        assert excluded <= set(_public(name).__all__)


def test_no_top_level_name_is_also_a_submodule() -> None:
    """No public name is spelled like a submodule, which importing would shadow."""
    submodules = {m.split(".")[0] for m in _source_modules()}
    assert sorted(set(cnilib.__all__) & submodules) == []


def test_every_top_level_name_resolves_to_its_definition() -> None:
    """``cnilib.X`` is the very object its module defines, and ``dir(cnilib)`` lists it."""
    owner: dict[str, object] = {}
    clashes: list[str] = []
    for name in PUBLIC_MODULES:
        module = _public(name)
        for attr in sorted(_reexported(name)):
            obj = getattr(module, attr)
            # Two modules may export one name only when it is the same object (a re-export).
            if owner.setdefault(attr, obj) is not obj:
                clashes.append(f"{name}.{attr}")
    assert clashes == []
    json_module = importlib.import_module("cnilib._json")
    for attr in PRIVATE_REEXPORTS:
        owner[attr] = getattr(json_module, attr)
    mismatched = [n for n, obj in owner.items() if getattr(cnilib, n) is not obj]
    assert mismatched == []
    assert set(cnilib.__all__) <= set(dir(cnilib))


def test_unknown_top_level_name_is_an_attribute_error() -> None:
    """The lazy ``__getattr__`` keeps Python's contract for names it does not have."""
    missing = "no_such_name"
    with pytest.raises(AttributeError, match=missing):
        getattr(cnilib, missing)


def _fresh_python(code: str, tmp_path: Path) -> str:
    # The same cnilib the test process imported (checkout or installed wheel), in a clean process
    # started outside the checkout so the current directory cannot shadow it.
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_cnilib_is_lazy_and_light(tmp_path: Path) -> None:
    """``import cnilib`` imports none of attrs, cattrs, jsonschema, subprocess, asyncio."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import cnilib\n"
        "print(json.dumps({'new': sorted(set(sys.modules) - before), 'file': cnilib.__file__}))\n"
    )
    report = json.loads(_fresh_python(code, tmp_path))
    assert Path(report["file"]).resolve().parent == PACKAGE_DIR
    new_tops = {m.split(".")[0] for m in report["new"]}
    assert sorted(new_tops & set(HEAVY)) == []


def test_jsonschema_is_only_imported_when_needed(tmp_path: Path) -> None:
    """Importing every public module leaves jsonschema unloaded (brief: import it lazily)."""
    mods = ", ".join(f"cnilib.{m}" for m in PUBLIC_MODULES)
    code = f"import sys\nimport {mods}\nprint('jsonschema' in sys.modules)\n"
    assert _fresh_python(code, tmp_path).strip() == "False"


def test_layers_list_every_module() -> None:
    """Every unit of the package has a layer, no layer names a unit twice, and every name in
    the layers, PURE and SUBPROCESS_ALLOWED exists (a stale entry would hide nothing)."""
    packages = _private_packages()
    layered = [m for layer in LAYERS for m in layer]
    assert len(layered) == len(set(layered))
    modules = set(_source_modules())
    assert {_unit(m, packages) for m in modules} == set(layered)
    assert (PURE | SUBPROCESS_ALLOWED) - modules - packages == set()


def test_imports_only_go_down_the_layers() -> None:
    """Imports go strictly down the layers, but within a private package, LAZY_UPWARD and
    REACH_IN."""
    assert _upward_imports(_graph(), LAYERS, _private_packages(), LAZY_UPWARD, REACH_IN) == []


def test_layer_checker_reports_what_goes_up() -> None:
    """The checker itself, on a synthetic graph: an upward import is reported (eager or lazy,
    into or out of a package), siblings are not, and each exception allows only its own edge."""
    layers = (("low",), ("_pkg", "mid"), ("high",))
    packages = frozenset({"_pkg"})
    clean: Graph = {
        "low": (set(), set()),
        "_pkg": (set(), set()),
        "_pkg.a": ({"low", "_pkg.b"}, set()),  # down, and a sibling
        "_pkg.b": ({"low"}, set()),
        "mid": ({"low"}, set()),
        "high": ({"_pkg", "_pkg.a", "mid"}, set()),
    }
    assert _upward_imports(clean, layers, packages) == []
    cases: list[tuple[Graph, list[str]]] = [
        ({**clean, "low": ({"mid"}, set())}, ["low -> mid"]),
        ({**clean, "low": (set(), {"high"})}, ["low -> high (lazy)"]),
        ({**clean, "_pkg.b": ({"high"}, set())}, ["_pkg.b -> high"]),
        ({**clean, "_pkg.b": ({"mid"}, set())}, ["_pkg.b -> mid"]),  # same layer
        ({**clean, "low": ({"_pkg", "_pkg.b"}, set())}, ["low -> _pkg", "low -> _pkg.b"]),
        ({**clean, "nowhere": (set(), set())}, []),  # an unlayered module imports nothing
        ({**clean, "mid": ({"nowhere"}, set())}, ["mid -> nowhere"]),
    ]
    for graph, expected in cases:
        assert _upward_imports(graph, layers, packages) == expected
    lazy = {**clean, "low": (set(), {"_pkg.a"})}
    assert _upward_imports(lazy, layers, packages, lazy_upward=frozenset({("low", "_pkg")})) == []
    # A reach-in is allowed while its target stays below the importer; not once it climbs.
    reach = frozenset({("mid", "_pkg.b")})
    into = {**clean, "mid": ({"_pkg", "_pkg.b"}, set())}
    assert _upward_imports(into, layers, packages, reach_in=reach) == []
    assert _upward_imports({**into, "_pkg.b": ({"mid"}, set())}, layers, packages,
                           reach_in=reach) == ["_pkg.b -> mid", "mid -> _pkg.b"]
    assert _upward_imports({**into, "mid": ({"_pkg.a"}, set())}, layers, packages,
                           reach_in=reach) == ["mid -> _pkg.a"]
    # And on the real graph: one module of a package reaching a higher one is caught.
    real = _graph()
    steps_eager, steps_lazy = real["_plans.steps"]
    real["_plans.steps"] = (steps_eager | {"_exec.engine"}, steps_lazy)
    assert _upward_imports(real, LAYERS, _private_packages(), LAZY_UPWARD, REACH_IN) == [
        "_plans.steps -> _exec.engine"]


def test_upward_exceptions_are_still_needed() -> None:
    """Every LAZY_UPWARD pair is a lazy import and never an eager one, and every REACH_IN
    import exists (a stale exception hides nothing)."""
    packages = _private_packages()
    graph = _graph()
    for unit, dep_unit in sorted(LAZY_UPWARD):
        pairs = [(eager, lazy) for m, (eager, lazy) in graph.items()
                 if _unit(m, packages) == unit]
        assert any(dep_unit in {_unit(d, packages) for d in lazy} for _, lazy in pairs)
        assert not any(dep_unit in {_unit(d, packages) for d in eager} for eager, _ in pairs)
    for unit, target in sorted(REACH_IN):
        assert any(target in eager for m, (eager, _) in graph.items()
                   if _unit(m, packages) == unit)


def test_pure_modules_start_no_process_and_no_loop() -> None:
    """The sans-IO core imports neither subprocess nor asyncio (docs/design.md)."""
    packages = _private_packages()
    offenders: list[str] = []
    for module, path in _source_modules().items():
        if module in PURE or _unit(module, packages) in PURE:
            external = _imports(module, path)[0]
            banned = sorted(external & {"subprocess", "asyncio"})
            offenders += [f"{module} imports {e}" for e in banned]
    assert offenders == []


def test_only_the_executor_imports_subprocess() -> None:
    """Only invoke's process helper, invoke and the demo edge import subprocess."""
    users = {
        module
        for module, path in _source_modules().items()
        if "subprocess" in _imports(module, path)[0]
    }
    assert users <= SUBPROCESS_ALLOWED
    assert "_exec.spawn" in users or "invoke" in users


def test_only_the_strategies_import_hypothesis() -> None:
    """hypothesis is an optional extra: one public module needs it, nothing else imports it."""
    users = {
        module
        for module, path in _source_modules().items()
        if "hypothesis" in _imports(module, path)[0]
    }
    assert users == HYPOTHESIS_ALLOWED


def test_every_runtime_dependency_is_imported_and_nothing_else() -> None:
    """A runtime image installs no package cnilib never imports (issue 8, "Honest
    dependencies"), and cnilib imports no package it does not declare."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    assert declared == RUNTIME_DEPENDENCIES
    external: set[str] = set()
    for module, path in _source_modules().items():
        external |= _imports(module, path)[0]
    outside = external - set(sys.stdlib_module_names) - {"__future__"}
    assert outside == RUNTIME_DEPENDENCIES | ALSO_IMPORTED


def test_layering_scanner_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The scanner itself: function-level and relative imports count, TYPE_CHECKING ones not."""
    # version.py imports errors at the top and _json inside parse_plugin_info.
    external, eager, lazy = _imports("version", PACKAGE_DIR / "version.py")
    assert (eager, lazy) == ({"errors"}, {"_json"})
    assert {"attrs", "json"} <= external
    fake = tmp_path / "fake.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import errors\n"
        "if TYPE_CHECKING:\n    import asyncio\n    from .api import CNIConfig\n"
        "class C:\n    from .types import v100\n"
        "def f():\n    import subprocess\n    from .protocol import Command\n",
        encoding="utf-8",
    )
    external, eager, lazy = _imports("fake", fake)
    assert external == {"typing", "subprocess"}
    assert eager == {"errors", "types", "types.v100"}
    assert lazy == {"protocol"}


def test_package_carries_py_typed_and_schemas() -> None:
    """The imported package has py.typed, its schema folder holds every kind's schemas and the
    plugin schemas, and the example networks are there."""
    from cnilib.schema import schema_dir

    assert importlib.resources.files("cnilib").joinpath("py.typed").is_file()
    schemas = schema_dir()
    assert schemas.joinpath("1.0.0").joinpath("netconflist.json").is_file()
    assert schemas.joinpath("plugins").joinpath("bridge.json").is_file()
    from cnilib._demo import DEMO_CONFIG, examples_dir

    assert (examples_dir() / DEMO_CONFIG).is_file()
    if os.environ.get("CNILIB_TEST_INSTALLED") == "1":
        # Under tox: the built wheel is what runs, and it carries the schemas itself, so the
        # checkout fallback of schema.py cannot hide a packaging miss.
        # (.tox/ lives inside the checkout, so compare with the checkout's package itself.)
        assert (ROOT / "cnilib").resolve() != PACKAGE_DIR
        assert (PACKAGE_DIR / "__init__.py").is_file()
        assert Path(str(schemas)).resolve() == PACKAGE_DIR / "schemas"
        # The example networks ship too: `cnilib demo` works from an installed wheel.
        assert examples_dir() == PACKAGE_DIR / "examples"
