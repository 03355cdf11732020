"""Find where JSON pointers point in a JSON text: line and column, for error messages.

Rules of this file:

* Its work is linear in the size of the text plus the total length of the pointers, however
  many pointers there are (a hostile file may have a problem every few bytes; G17
  (docs/guarantees.md)): the pointers are merged into a tree, and the text is walked once,
  along that tree only. A value no pointer goes into is skipped with the C decoder, and so is
  the rest of an array after the last element a pointer names (skipping that array whole). A
  character is read by the walk and by at most one skip per array above it that a pointer
  goes into (in CNI documents, one or two). Lines and columns come from
  :func:`cnilib._json.line_columns` (one index of line starts,
  searched by bisection).
* An object member is located at its key (where an editor should put the cursor); an array
  element, or the document itself, at its first character. With duplicate keys the last one
  wins, as in :func:`json.loads`, also for pointers below the key.
* Lines and columns are 1-based; columns count characters (code points), not bytes.
* It never raises: a pointer it cannot follow (the text and the value disagree, the text is
  not JSON) gives ``None``. It is meant for text that parsed: if the walk meets anything that
  is not JSON, every pointer but the document's own gives ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from cnilib._json import line_column, line_columns, unescape_token

__all__ = ["locate", "line_column", "STEPS"]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


#: What :func:`locate` has read, in total: ``[members and elements stepped through,
#: characters skipped with the C decoder]``; the tests read it to prove the walk linear
#: without timing it.
STEPS = [0, 0]


class _Node:
    """One token of the pointer tree, and where the walk last saw it."""

    __slots__ = ("at", "children", "last", "parent_visit", "visit")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.last = -1  # the highest array index among the children's tokens
        self.at = -1  # index in the text, -1 while unseen
        self.visit = -1  # which visit of this node recorded `at`
        self.parent_visit = -1  # the parent's visit it was recorded in


def _tree(pointers: Iterable[str]) -> tuple[_Node, dict[str, _Node]]:
    root = _Node()
    ends: dict[str, _Node] = {}
    for pointer in pointers:
        if pointer in ends:
            continue
        node = root
        if pointer:
            if pointer[0] != "/":
                continue  # not a pointer: left out, hence None
            for raw in pointer[1:].split("/"):
                token = unescape_token(raw)
                child = node.children.get(token)
                if child is None:
                    child = node.children[token] = _Node()
                    if token.isascii() and token.isdigit() and str(int(token)) == token:
                        node.last = max(node.last, int(token))
                node = child
        ends[pointer] = node
    return root, ends


def _walk(text: str, root: _Node) -> None:
    """Record in the tree where each of its nodes starts (the last occurrence wins)."""
    ws = _WS.match
    skip = _DECODER.raw_decode
    i = ws(text, 0).end()  # type: ignore[union-attr]  # "*" always matches
    if i >= len(text):
        return
    root.at = i
    root.visit = 0
    visits = 1
    steps = skipped = 0
    # One frame per open container the walk entered: its node, is it an object, the next
    # element's index, where it starts.
    stack: list[list[object]] = []
    node = root
    while True:
        # Enter the value at i, of `node`: step into it only if a pointer goes below it.
        if node.children and text[i] in "{[":
            stack.append([node, text[i] == "{", 0, i])
            i = ws(text, i + 1).end()  # type: ignore[union-attr]
            first = True
        else:
            end = skip(text, i)[1]
            skipped += end - i
            i = ws(text, end).end()  # type: ignore[union-attr]
            first = False
        # Find the next member or element to enter, closing the containers that end here.
        while stack:
            frame = stack[-1]
            close = "}" if frame[1] else "]"
            if text[i] == close:
                stack.pop()
                i = ws(text, i + 1).end()  # type: ignore[union-attr]
                first = False
                continue
            if not first:
                if text[i] != ",":
                    raise ValueError
                i = ws(text, i + 1).end()  # type: ignore[union-attr]
            first = False
            steps += 1
            parent: _Node = frame[0]  # type: ignore[assignment]
            if frame[1]:
                if text[i] != '"':
                    raise ValueError
                at = i
                # The public decoder reads the key: json.decoder.scanstring (undocumented)
                # would save about 60 ns a key, 1 to 4% of a walk that reads every key of a
                # corpus document (tests/benchmarks/bench_json_internals.py).
                key, i = skip(text, i)
                i = ws(text, i).end()  # type: ignore[union-attr]
                if text[i] != ":":
                    raise ValueError
                i = ws(text, i + 1).end()  # type: ignore[union-attr]
                child = parent.children.get(key)
            else:
                at = i
                index: int = frame[2]  # type: ignore[assignment]
                if index > parent.last:
                    # Past the last element a pointer names: skip the rest of the array, by
                    # skipping it whole (so what was read of it is read once more).
                    start: int = frame[3]  # type: ignore[assignment]
                    end = skip(text, start)[1]
                    skipped += end - start
                    stack.pop()
                    i = ws(text, end).end()  # type: ignore[union-attr]
                    continue
                frame[2] = index + 1
                child = parent.children.get(str(index))
            if child is None:
                end = skip(text, i)[1]
                skipped += end - i
                i = ws(text, end).end()  # type: ignore[union-attr]
                continue
            child.at = at
            child.visit = visits
            child.parent_visit = parent.visit
            visits += 1
            node = child
            break
        else:
            STEPS[0] += steps
            STEPS[1] += skipped
            return


def _found(root: _Node, ends: dict[str, _Node]) -> set[int]:
    # A node counts if it was seen in the last visit of its parent, and so on up: this is
    # what drops what a duplicate key's earlier value held.
    good = {id(root)} if root.at >= 0 else set()
    todo = [root] if good else []
    while todo:
        node = todo.pop()
        for child in node.children.values():
            if child.at >= 0 and child.parent_visit == node.visit:
                good.add(id(child))
                todo.append(child)
    return good


def locate(text: str | bytes, pointers: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """Map each RFC 6901 pointer to the ``(line, column)`` where it starts in ``text``.

    Args:
        text: The JSON document as written (bytes are decoded as UTF-8).
        pointers: JSON pointers, e.g. ``"/plugins/1/type"``; ``""`` is the whole document.
            Array indexes are written as in RFC 6901 (``"01"`` matches no element).

    Returns:
        ``{pointer: (line, column)}``, with ``None`` for a pointer that cannot be found.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", "replace")
    pointers = list(pointers)
    root, ends = _tree(pointers)
    try:
        _walk(text, root)
        good = _found(root, ends)
    except (ValueError, IndexError, RecursionError):
        good = {id(root)} if root.at >= 0 else set()
    found = [p for p in pointers if p in ends and id(ends[p]) in good]
    result: dict[str, tuple[int, int] | None] = dict.fromkeys(pointers)
    result.update(zip(found, line_columns(text, [ends[p].at for p in found]), strict=True))
    return result
