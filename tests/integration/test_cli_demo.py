"""``cnilib demo`` end to end: the bundled example network on a real namespace, with Debian's
plugins, leaving nothing behind."""

from __future__ import annotations

import io
import subprocess

import pytest

from cnilib.cli import run

pytestmark = pytest.mark.netns


def _namespaces() -> set[str]:
    """The demo's namespaces (others' come and go: tests of other runs share the machine)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    return {n for n in names if n.startswith("cnilib-demo-")}


def test_demo_attaches_checks_pings_and_cleans_up() -> None:
    assert _namespaces() == set()
    out, err = io.StringIO(), io.StringIO()
    status = run(["demo"], environ={"CNI_PATH": "/usr/lib/cni"}, stdout=out, stderr=err)
    assert (status, err.getvalue()) == (0, "")
    text = out.getvalue()
    assert "* CHECK passed" in text
    assert "reached the gateway 10.231.77.1" in text
    assert "* DEL done" in text
    assert _namespaces() == set()
    shown = subprocess.run(["ip", "link", "show", "cnilibdemo0"], capture_output=True,
                           check=False)
    assert shown.returncode != 0  # the bridge the demo made is gone
