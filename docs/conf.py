"""Sphinx configuration for cnilib's documentation.

Rules of this file:

* The build is ``sphinx-build -W -n -b html docs docs/_build/html``: every warning is an error
  and every cross-reference must resolve (nitpicky), so a renamed function breaks the build.
* Pages are Markdown (myst-parser); the API reference is ``api.rst`` (autodoc + napoleon, from
  the Google-style docstrings in the code).
* No network: intersphinx reads Python's inventory from Debian's ``python3-doc`` on disk, never
  from a URL; without that package, standard-library names are ignored instead (see below).
* The docs document the code in this checkout (``sys.path`` gets the repository root first).
"""

from __future__ import annotations

import builtins
import importlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # docutils ships no type information; its nodes are typed as Any below.
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "cnilib"
author = "The cnilib developers"
copyright = "The cnilib developers"

try:
    from importlib.metadata import version as _dist_version

    release = _dist_version("cnilib")
except Exception:  # not installed: show no version
    release = ""
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# docs/performance/*.md are tables written by tests/benchmarks/bench_curves.py and included
# by performance.md, not pages of their own.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "performance/*.md"]
nitpicky = True

# -- myst ------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
# "concepts.md#the-result-cache"-style links between pages.
myst_heading_anchors = 3

# -- autodoc / napoleon ----------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_typehints = "signature"
# The JSON aliases are recursive string aliases (cnilib._json): show their names, linked to
# their entries in api.rst, instead of failing to evaluate them.
autodoc_type_aliases = {
    "JSON": "cnilib.JSON",
    "JSONObject": "cnilib.JSONObject",
    # Imported under TYPE_CHECKING only (cnilib.schema): name its real home.
    "Traversable": "importlib.resources.abc.Traversable",
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# -- intersphinx (offline) -------------------------------------------------------------------
# Debian's python3-doc ships the inventory of docs.python.org; .ci/setup.sh installs it.
_PY_INV = Path(os.environ.get("CNILIB_PYTHON_INV", "/usr/share/doc/python3/html/objects.inv"))
intersphinx_mapping: dict[str, tuple[str, tuple[str, ...]]] = {}
if _PY_INV.is_file():
    intersphinx_mapping["python"] = ("https://docs.python.org/3", (str(_PY_INV),))

# Genuine external names that no inventory here can resolve, each with its reason.
nitpick_ignore: list[tuple[str, str]] = []
nitpick_ignore_regex: list[tuple[str, str]] = [
    # attrs and cattrs (``attrs.evolve`` in docstrings): no inventory of theirs is on disk.
    (r"py:.*", r"(attr|attrs|cattrs)\..*"),
    # Hypothesis (the annotations of cnilib.testing.strategies, written ``st.SearchStrategy``):
    # no inventory of it is on disk either.
    (r"py:.*", r"(hypothesis|st)\..*"),
    # Private names (a dotted component starting with one underscore: cnilib._exec.engine.Engine,
    # a private TypeVar _T, a private base class) are undocumented on purpose; a reference to
    # one (a signature, a base class, a "see cnilib._results.codec") renders as plain code.
    (r"py:.*", r"(.*\.)?_[A-Za-z0-9]\w*(\..*)?"),
]
if "python" not in intersphinx_mapping:
    # Without python3-doc the standard library cannot be linked; do not fail the build over
    # names that are not ours.
    _STDLIB = ("collections|typing|enum|asyncio|subprocess|os|pathlib|importlib|contextlib|"
               "types|io|abc|signal|datetime|ipaddress")
    nitpick_ignore_regex.append((r"py:.*", rf"({_STDLIB})(\..*)?"))

# -- HTML ------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = "cnilib"
html_static_path: list[str] = []


# -- Local fixes -----------------------------------------------------------------------------
# Five small adjustments, each for a reason that would otherwise fail the nitpicky build or
# mislead a reader. They change only how signatures and references are rendered.


def _name_type_alias_refs() -> None:
    # Sphinx 9 evaluates annotations with autodoc_type_aliases by substituting placeholder
    # objects; nested in a union (``JSONObject | None``) a placeholder is rendered by its *class*
    # name, "TypeAliasForwardRef" (sphinx-doc/sphinx#14004 fixed evaluation, not rendering).
    # Giving each placeholder the alias's own module and name renders ``cnilib.JSONObject``.
    from sphinx.util import inspect as sphinx_inspect

    cls: Any = sphinx_inspect.TypeAliasForwardRef
    if getattr(cls, "_cnilib_named", False):
        return
    original = cls.__init__

    def init(self: Any, name: str) -> None:
        original(self, name)
        module, _, qualname = name.rpartition(".")
        self.__module__ = module
        self.__qualname__ = qualname
        self.__name__ = qualname

    cls.__init__ = init
    cls._cnilib_named = True


def _prose_attribute_docstrings() -> None:
    # Napoleon reads the first line of a data/attribute docstring as "type: description", so
    # "#: What a handler may return: a full Completed..." became a type named "What a handler
    # may return". cnilib declares types in annotations, never in attribute docstrings, so the
    # whole docstring is prose (its sections are still processed).
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    def consume_inline_attribute(self: Any) -> tuple[str, list[str]]:
        lines = [self._lines.next(), *self._dedent(self._consume_to_end())]
        return "", GoogleDocstring(lines, self._config).lines()

    docstring_class: Any = GoogleDocstring
    docstring_class._consume_inline_attribute = consume_inline_attribute


_ANNOTATED = re.compile(r"~?(?:[A-Za-z_]\w*\.)*Annotated\[")


def _strip_annotated(text: str) -> str:
    """``Annotated[T, override(rename="pciID")]`` becomes ``T``, at any depth."""
    # The metadata is cattrs' JSON naming (cnilib._results.codec), an implementation detail that would
    # also need cattrs' inventory. Sphinx may print the name with a module prefix, even a wrong
    # one ("cnilib.types.common.Annotated").
    out = []
    i = 0
    while (match := _ANNOTATED.search(text, i)) is not None:
        out.append(text[i:match.start()])
        depth, k, comma = 1, match.end(), -1
        while k < len(text) and depth:
            ch = text[k]
            if ch in "[(":
                depth += 1
            elif ch in "])":
                depth -= 1
            elif ch == "," and depth == 1 and comma == -1:
                comma = k
            k += 1
        inner_end = comma if comma != -1 else k - 1
        out.append(_strip_annotated(text[match.end():inner_end]).strip())
        i = k
    out.append(text[i:])
    return "".join(out)


def _process_signature(  # noqa: PLR0917 - the positional signature Sphinx calls
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None]:
    if signature and "Annotated[" in signature:
        signature = _strip_annotated(signature)
    if return_annotation and "Annotated[" in return_annotation:
        return_annotation = _strip_annotated(return_annotation)
    return signature, return_annotation


_BUILTIN_CLASSES = frozenset(n for n, v in vars(builtins).items() if isinstance(v, type))


def _resolve_builtins_first(app: Sphinx, doctree: Any) -> None:
    # PluginConfig.bytes and NetworkConfigList.bytes (fields the fixed interface names) make
    # every ``bytes`` type reference ambiguous in the Python domain's fuzzy search, which would
    # then link the *attribute*. A builtin class name in a type position always means the
    # builtin: resolve it against Python's inventory (or leave it as text) before the domain
    # looks.
    from sphinx import addnodes
    from sphinx.ext import intersphinx

    nodes: Any = importlib.import_module("docutils.nodes")  # untyped: keep mypy quiet

    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("refdomain") != "py" or node.get("reftype") not in {"class", "obj", "exc"}:
            continue
        target = str(node.get("reftarget", "")).removeprefix("builtins.")
        if target not in _BUILTIN_CLASSES:
            continue
        node["reftarget"] = target  # "builtins.bytes" (config.py's spelling) is "bytes"
        contnode = node[0].deepcopy() if len(node) else nodes.literal(target, target)
        resolved = None
        if "python" in intersphinx_mapping:
            resolved = intersphinx.missing_reference(app, app.env, node, contnode)
        node.replace_self(resolved if resolved is not None else contnode)


def _resolve_by_short_name(app: Sphinx, env: BuildEnvironment, node: Any, contnode: Any) -> Any:
    # Two kinds of references the Python domain leaves unresolved, that name exactly one
    # documented object:
    # * type aliases (cnilib.types.IPAddress, cnilib.testing.Reply...) are documented as data,
    #   but annotations refer to them as classes;
    # * a docstring names objects as its module sees them (``ResultError``, imported in
    #   cnilib.types.common; ``parse_cidr``, documented where cnilib.types re-exports it).
    # Accept the one documented object of a fitting kind whose name ends with the target;
    # nothing is guessed when there are several.
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    domain: Any = env.get_domain("py")
    reftype = str(node.get("reftype", ""))
    kinds = set(domain.objtypes_for_role(reftype) or ())
    if reftype in {"class", "obj"}:
        kinds |= {"data", "attribute", "type"}
    target = str(node.get("reftarget", "")).lstrip(".~")
    module = str(node.get("py:module") or "")
    objects = {name: entry for name, entry in domain.objects.items() if entry.objtype in kinds}
    found = [c for c in (f"{module}.{target}" if module else target, target) if c in objects]
    if not found:
        found = [name for name in objects if name.endswith(f".{target}")]
    if len(found) != 1:
        return None
    entry = objects[found[0]]
    return make_refnode(app.builder, str(node.get("refdoc", "")), entry.docname, entry.node_id,
                        contnode, found[0])


def _public_bases(app: Sphinx, name: str, obj: object, options: object, bases: list[Any]) -> None:
    # "Bases: Engine" would point readers at a private class (cnilib._exec.engine.Engine): show the
    # public bases only; the public behaviour is documented on the class itself.
    bases[:] = [b for b in bases
                if not any(part.startswith("_") and not part.startswith("__")
                           for part in f"{b.__module__}.{b.__qualname__}".split("."))
                ] or [object]


_name_type_alias_refs()
_prose_attribute_docstrings()


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the local fixes above."""
    app.connect("autodoc-process-signature", _process_signature)
    # doctree-read: before the Python domain resolves references (a post-transform).
    app.connect("doctree-read", _resolve_builtins_first)
    app.connect("missing-reference", _resolve_by_short_name)
    app.connect("autodoc-process-bases", _public_bases)
    return {"parallel_read_safe": True}
