"""``cnilib validate``: lint configuration files for people and for CI.

Rules of this file:

* The checks are :func:`cnilib.lint.lint`'s; this file only chooses the paths and prints.
* Paths are required; with none, ``$NETCONFPATH``; with neither, a usage error. It never
  falls back to the bundled examples.
* Four formats, each problem once: ``human`` (``file:line:col: severity: message
  [pointer]``), ``json`` (a list of ``{file, line, column, pointer, severity, rule,
  message}``), ``github`` (workflow commands, shown inline on pull requests) and ``sarif``
  (SARIF 2.1.0, for code scanning).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cnilib.errors import ConfigError, Problem, Severity

from . import FAILED, OK, USAGE, Command, Context, UsageError

__all__ = ["VALIDATE", "to_json", "to_github", "to_sarif", "to_human"]

_INFO_URI = "https://github.com/cnilib/cnilib/blob/main/docs/cli.md"


def _configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Check configuration files (.conf, .conflist, .json; directories are searched, not "
        "recursively): the spec's rules, libcni's, each reference plugin's documented "
        "options, networks defined twice in one directory, .conf files holding a list, and "
        "with --plugins the plugins themselves. "
        f"Exit status: {OK} clean (warnings only, unless --strict), {FAILED} problems, "
        f"{USAGE} usage error.")
    p.add_argument("paths", nargs="*",
                   help="files or directories (default: $NETCONFPATH; required without it)")
    p.add_argument("--format", choices=("human", "json", "github", "sarif"), default="human",
                   help="output format (default human)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    p.add_argument("--plugins", action="store_true",
                   help="check that each plugin is on the plugin path ($CNI_PATH) and that "
                        "its VERSION answer lists the network's version (runs VERSION)")
    p.add_argument("--plugin-path", default=None, metavar="DIRS",
                   help="plugin directories, ':'-separated (implies --plugins)")
    p.add_argument("--schema", action="append", default=[], metavar="TYPE=FILE",
                   help="a JSON Schema for plugin TYPE's configuration (a third-party plugin, "
                        "or to replace a bundled one); repeatable")


def to_json(problems: Sequence[Problem]) -> str:
    """The problems as a JSON array of ``{file, line, column, pointer, severity, rule,
    message}`` objects."""
    return json.dumps([{"file": p.file, "line": p.line, "column": p.column,
                        "pointer": p.pointer, "severity": p.severity.value, "rule": p.rule,
                        "message": p.message} for p in problems], indent=2, ensure_ascii=False)


def to_human(problems: Sequence[Problem]) -> list[str]:
    """One line per problem: ``file:line:col: severity: message [pointer]``."""
    return [f"{p.location or '<input>'}: {p.severity.value}: {p.message} [{p.pointer or '/'}]"
            for p in problems]


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def to_github(problems: Sequence[Problem]) -> list[str]:
    """GitHub Actions workflow commands (``::error file=…,line=…,col=…::message``)."""
    lines = []
    for p in problems:
        props = [f"file={_escape(p.file or '', prop=True)}"]
        if p.line is not None:
            props += [f"line={p.line}", f"col={p.column or 1}"]
        title = "cnilib validate: " + (p.rule or p.severity.value)
        props.append(f"title={_escape(title, prop=True)}")
        text = f"{p.message} [{p.pointer or '/'}]"
        lines.append(f"::{p.severity.value} {','.join(props)}::{_escape(text)}")
    return lines


def _uri(path: str | None) -> str:
    if not path:
        return ""
    posix = Path(path).as_posix()
    return quote(posix, safe="/:")


def to_sarif(problems: Sequence[Problem], version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run of ``cnilib validate``."""
    from cnilib.lint import LINT_RULES as RULES

    rule_ids = sorted({p.rule or "cnilib" for p in problems})
    rules = []
    for rule in rule_ids:
        described = RULES.get(rule) or RULES.get(rule.split("/")[0]) or f"rule {rule}"
        rules.append({"id": rule, "shortDescription": {"text": described}})
    results = []
    for p in problems:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(p.file)}}
        if p.line is not None:
            location["region"] = {"startLine": p.line, "startColumn": p.column or 1}
        results.append({
            "ruleId": p.rule or "cnilib",
            "ruleIndex": rule_ids.index(p.rule or "cnilib"),
            "level": "error" if p.severity is Severity.ERROR else "warning",
            "message": {"text": f"{p.message} [{p.pointer or '/'}]"},
            "locations": [{"physicalLocation": location}],
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "cnilib", "version": version,
                                "informationUri": _INFO_URI, "rules": rules}},
            "results": results,
        }],
    }


def _schemas(given: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in given:
        kind, sep, path = item.partition("=")
        if not sep or not kind or not path:
            msg = f"--schema wants TYPE=FILE, not {item!r}"
            raise UsageError(msg)
        out[kind] = path
    return out


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from cnilib import __version__
    from cnilib.lint import has_failures, lint_paths

    paths = list(args.paths)
    if not paths:
        if not ctx.environ.get("NETCONFPATH"):
            msg = "no paths given and $NETCONFPATH is not set: name files or directories"
            raise UsageError(msg)
        paths = [ctx.environ["NETCONFPATH"]]
    plugin_path = ([d for d in args.plugin_path.split(os.pathsep) if d]
                   if args.plugin_path is not None else None)
    if plugin_path is None and ctx.environ.get("CNI_PATH"):
        plugin_path = [d for d in ctx.environ["CNI_PATH"].split(os.pathsep) if d]
    try:
        problems = lint_paths(paths, schemas=_schemas(args.schema),
                              plugins=args.plugins or args.plugin_path is not None,
                              plugin_path=plugin_path)
    except ConfigError as err:  # only an unusable --schema file: the arguments are wrong
        raise UsageError(str(err)) from err
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(to_json(problems), file=ctx.out)
    elif fmt == "sarif":
        print(json.dumps(to_sarif(problems, __version__), indent=2), file=ctx.out)
    elif fmt == "github":
        for line in to_github(problems):
            print(line, file=ctx.out)
    else:
        for line in to_human(problems):
            print(line, file=ctx.out)
        errors = sum(p.severity is Severity.ERROR for p in problems)
        print(f"{errors} error(s), {len(problems) - errors} warning(s)", file=ctx.out)
    return FAILED if has_failures(problems, strict=args.strict) else OK


VALIDATE = Command("validate", "check configuration files (for people and CI)", _configure, _run)
