"""The documentation says what the code does: the checks a Sphinx build cannot make.

Rules of this file:

* The tutorial is executed: every ```python block of docs/tutorial.md runs, in order, in one
  namespace, from the repository root, and a ```text block right after one is the exact output
  it must print. (```{code-block} blocks are shown only: they need root and real plugins.)
* The API reference documents every public module, and every public class and function has a
  docstring of its own (Sphinx -W -n then checks that each one renders and links).
* Pages that restate code (the error tree, the import layers) restate it exactly.
* The README says what cnilib is, how to install it, then the two commands (which exist).
* Every ```python block of the README and of docs/*.md runs, alone, from the repository root,
  and prints the ```text block right after it if there is one; a block that cannot run here
  (it needs root, plugins, or is a plugin executable) says why on the line before its fence,
  ``<!-- not run: ... -->``. Every block, run or not, passes ``mypy --strict`` (one mypy run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import os
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import cnilib.errors
from tests.test_exports import LAYERS, PUBLIC_MODULES, _public

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _fences(text: str) -> list[tuple[str, str, int, int]]:
    """``(info, body, start, end)`` of every fenced block, in order."""
    return [(m["info"].strip(), m["body"], m.start(), m.end()) for m in _FENCE.finditer(text)]


def _tutorial_steps() -> list[tuple[str, str | None]]:
    """Each ```python block with the ```text block that directly follows it, if any."""
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    fences = _fences(text)
    steps: list[tuple[str, str | None]] = []
    for i, (info, body, _, end) in enumerate(fences):
        if info != "python":
            continue
        expected = None
        if i + 1 < len(fences):
            nxt_info, nxt_body, nxt_start, _ = fences[i + 1]
            if nxt_info == "text" and text[end:nxt_start].strip() == "":
                expected = nxt_body
        steps.append((body, expected))
    return steps


def test_tutorial_runs_and_prints_what_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tutorial step runs, and prints exactly the output shown under it."""
    monkeypatch.chdir(ROOT)  # the tutorial loads examples/ by a relative path
    steps = _tutorial_steps()
    assert len(steps) >= 8
    assert sum(expected is not None for _, expected in steps) >= 5
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for number, (code, expected) in enumerate(steps, start=1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"docs/tutorial.md python block {number}", "exec"), namespace)
        if expected is not None:
            assert (number, out.getvalue()) == (number, expected)


def _documented_modules() -> list[str]:
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    return re.findall(r"^\.\. automodule:: cnilib\.(\S+)\s*$", text, re.MULTILINE)


def test_api_reference_documents_every_public_module() -> None:
    """docs/api.rst has one ``automodule`` per public module (and per public submodule)."""
    documented = _documented_modules()
    assert len(documented) == len(set(documented))
    assert set(PUBLIC_MODULES) <= set(documented)
    extra = set(documented) - set(PUBLIC_MODULES)
    # Only public submodules of public packages (cnilib.types.common), never a private one.
    assert all(m.split(".")[0] in PUBLIC_MODULES and "._" not in f".{m}" for m in extra)
    for m in extra:
        assert _public(m).__all__


def _own_doc(obj: object) -> str:
    if inspect.isclass(obj):
        return str(vars(obj).get("__doc__") or "")
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize("name", sorted(set(PUBLIC_MODULES) | set(_documented_modules())))
def test_every_public_class_and_function_has_a_docstring(name: str) -> None:
    """Public classes and functions, and the public methods a class defines, say what they do."""
    module = _public(name)
    assert (module.__doc__ or "").strip() != ""
    missing: list[str] = []
    for attr in module.__all__:
        obj = getattr(module, attr)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants and aliases are documented by their #: comments
        if not _own_doc(obj).strip():
            missing.append(attr)
        if inspect.isclass(obj) and obj.__module__.startswith("cnilib."):
            for member, value in vars(obj).items():
                func = value.fget if isinstance(value, property) else value
                if member.startswith("_") or not inspect.isfunction(func):
                    continue
                if any(member in vars(base) for base in obj.__mro__[1:]
                       if base.__module__ == "builtins"):
                    continue  # a hook Python defines, e.g. ExceptionGroup.derive
                if not (func.__doc__ or "").strip():
                    missing.append(f"{attr}.{member}")
    assert missing == []


def _toctree_entries(index: str) -> list[str]:
    entries: list[str] = []
    for info, body, _, _ in _fences(index):
        if info == "{toctree}":
            entries += [line.strip() for line in body.splitlines()
                        if line.strip() and not line.startswith(":")]
    return entries


def test_every_page_is_in_the_table_of_contents() -> None:
    """Each page in docs/ is listed in index.md's toctree once, and each entry is a page."""
    entries = _toctree_entries((DOCS / "index.md").read_text(encoding="utf-8"))
    pages = sorted(p.stem for p in DOCS.iterdir() if p.suffix in {".md", ".rst"}
                   and p.stem != "index")
    assert len(entries) == len(set(entries))
    assert sorted(entries) == pages


def _tree_of_errors_module() -> list[str]:
    doc = cnilib.errors.__doc__ or ""
    tail = doc.split("The tree::", 1)[1]
    return [line[4:].rstrip() for line in tail.splitlines() if line.strip()]


def test_error_tree_page_matches_the_module() -> None:
    """docs/errors.md draws the tree of cnilib/errors.py's docstring, line for line."""
    page = (DOCS / "errors.md").read_text(encoding="utf-8")
    trees = [body for info, body, _, _ in _fences(page) if body.startswith("CNIError\n")]
    assert len(trees) == 1
    assert trees[0].rstrip().splitlines() == _tree_of_errors_module()


def test_error_tree_names_every_error_class() -> None:
    """The drawn tree has every exception class of cnilib.errors, each once."""
    drawn = [re.sub(r"^[│├└─\s]+", "", line).split()[0] for line in _tree_of_errors_module()]
    classes = [n for n in cnilib.errors.__all__
               if inspect.isclass(getattr(cnilib.errors, n))
               and issubclass(getattr(cnilib.errors, n), BaseException)]
    assert sorted(drawn) == sorted(classes)


def test_design_page_lists_the_tested_layers() -> None:
    """docs/design.md's layer table is exactly the LAYERS that test_exports.py enforces."""
    page = (DOCS / "design.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", page, re.MULTILINE)
    table = [tuple(re.findall(r"`([^`]+)`", cells)) for _, cells in rows]
    assert [int(n) for n, _ in rows] == list(range(len(LAYERS)))
    assert table == list(LAYERS)


def test_changelog_page_includes_the_changelog() -> None:
    """docs/changelog.md includes CHANGELOG.md, which keeps an Unreleased section on top."""
    page = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert "```{include} ../CHANGELOG.md" in page
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", changelog, re.MULTILINE)
    assert headings[0] == "Unreleased"


def test_readme_says_what_then_how_to_install_then_the_two_commands() -> None:
    """The README opens with what cnilib is, then installing it, then the demo and the test
    command (both scripts runnable), then usage."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# cnilib\n\ncnilib is ")
    sections = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert sections[:3] == ["Installing", "The two commands", "Usage"]
    install = readme[readme.index("## Installing"):readme.index("## The two commands")]
    assert "pip install ." in install
    assert ".whl" in install
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:  # each runtime dependency is named
        assert f"`{re.split(r'[<>=!~; ]', requirement)[0]}`" in install
    section = readme[readme.index("## The two commands"):readme.index("## Usage")]
    first = _fences(section)[0]
    commands = [line.split("#")[0].strip() for line in first[1].splitlines()]
    assert commands == ["bash .ci/demo.sh", "bash .ci/test.sh"]
    for command in commands:
        script = ROOT / command.removeprefix("bash ")
        assert script.is_file()
        assert os.access(script, os.X_OK)
        assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")


# -- every Python example of the README and of docs/ -------------------------------------------

_PYTHON = ("python", "py", "python3", "{code-block} python")
# The line right before a fence that is shown but not run, and why (an HTML comment: invisible
# on GitHub and in the Sphinx output).
_NOT_RUN = re.compile(r"<!-- not run: (?P<why>[^\n]*?) -->\n\Z")


@dataclasses.dataclass(frozen=True)
class Example:
    """One ```python block: where it is, its code, the output shown under it, why not run."""

    page: str
    number: int
    line: int
    code: str
    expected: str | None
    not_run: str | None

    @property
    def name(self) -> str:
        return f"{self.page} python block {self.number} (line {self.line})"


def _examples() -> list[Example]:
    found = []
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        page = path.relative_to(ROOT).as_posix()
        fences = _fences(text)
        number = 0
        for i, (info, body, start, end) in enumerate(fences):
            if info not in _PYTHON:
                continue
            number += 1
            expected = None
            if i + 1 < len(fences):
                nxt_info, nxt_body, nxt_start, _ = fences[i + 1]
                if nxt_info == "text" and text[end:nxt_start].strip() == "":
                    expected = nxt_body
            marker = _NOT_RUN.search(text[:start])
            not_run = marker["why"] if marker else None
            if info.startswith("{code-block}"):
                not_run = not_run or "shown only ({code-block})"
            found.append(Example(page, number, text.count("\n", 0, start) + 1, body, expected,
                                 not_run))
    return found


EXAMPLES = _examples()
# The tutorial's blocks share one namespace; test_tutorial_runs_and_prints_what_it_shows runs
# them in order. Every other block stands alone.
RUNNABLE = [e for e in EXAMPLES if e.not_run is None and e.page != "docs/tutorial.md"]


def test_examples_are_found_and_every_skip_says_why() -> None:
    pages = {e.page for e in EXAMPLES}
    assert {"README.md", "docs/index.md", "docs/tutorial.md", "docs/versions.md"} <= pages
    assert len(RUNNABLE) >= 8
    for example in EXAMPLES:
        assert example.not_run is None or len(example.not_run) > 10, example.name


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda e: f"{e.page}-{e.number}")
def test_example_runs_and_prints_what_it_shows(example: Example,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Each block that needs no root runs on its own, from the repository root (the examples
    use ``examples/`` by a relative path), and prints the ```text block shown under it."""
    monkeypatch.chdir(ROOT)
    module = types.ModuleType("docs_example")  # a real module: dataclasses look it up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example.code, example.name, "exec"), module.__dict__)
    if example.expected is not None:
        assert out.getvalue() == example.expected


def test_every_example_passes_mypy_strict(tmp_path: Path) -> None:
    """Every block, run or not, type-checks with ``mypy --strict`` and the project's settings:
    one module per block (the tutorial's blocks, which share a namespace, as one module), all
    in one mypy run."""
    modules: dict[str, str] = {}
    tutorial = [e for e in EXAMPLES if e.page == "docs/tutorial.md"]
    modules["docs_tutorial.py"] = "".join(
        f"# {e.name}\n{e.code}\n" for e in tutorial)
    for e in EXAMPLES:
        if e.page != "docs/tutorial.md":
            stem = re.sub(r"\W", "_", e.page.removesuffix(".md")).lower()
            modules[f"{stem}_{e.number}.py"] = f"# {e.name}\n{e.code}"
    for file, code in modules.items():
        (tmp_path / file).write_text(code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--strict", "--cache-dir", str(tmp_path / ".mypy_cache"), *sorted(modules)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"no issues found in {len(modules)} source files" in proc.stdout


def test_plugin_authors_page_shows_the_tested_example() -> None:
    """The worked example of docs/plugin-authors.md is the real file the tests run."""
    page = (DOCS / "plugin-authors.md").read_text(encoding="utf-8")
    shown = [info.split(None, 1)[1] for info, _, _, _ in _fences(page)
             if info.startswith("{literalinclude}")]
    assert shown == ["../examples/plugins/cnilib-example-extra-ip.py"]
    example = (DOCS / shown[0]).resolve()
    assert example.is_file()
    tests = (ROOT / "tests" / "integration" / "test_skel_plugins.py").read_text(encoding="utf-8")
    assert f'"{example.name}"' in tests
