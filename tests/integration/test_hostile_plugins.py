"""Hostile plugins, as real processes: partial output and a signal, huge results.

Each ends in its documented typed error (or, for a huge result within the caps, in success at
a cost proportionate to its size), leaving nothing behind.
"""

from __future__ import annotations

import signal

import pytest

from cnilib.errors import AddError, PluginError
from cnilib.protocol import RuntimeConf
from tests.integration.helpers import Runtime, Scene, cache_files, unique_id
from tests.plugins import MISBEHAVE

NETNS = "/var/run/netns/not-used-by-the-test-plugins"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV, signal.SIGTERM,
                                 signal.SIGABRT], ids=lambda s: s.name)
def test_a_plugin_killed_after_partial_output_is_reported_with_its_signal(
        runtime: Runtime, scene: Scene, sig: signal.Signals) -> None:
    """Issue 7 item 10: the message names the signal, not only the truncated JSON."""
    net = scene.conflist([scene.record("a"),
                          {"type": MISBEHAVE, "recordFile": str(scene.record_file),
                           "which": "m", "mode": "partial-kill", "signal": sig.name,
                           "on": ["ADD"]}])
    with pytest.raises(AddError) as info:
        runtime.add_network_list(net, RuntimeConf(unique_id(), NETNS, "eth0"))
    cause = info.value.cause
    assert type(cause) is PluginError
    assert cause.exit_status == -sig
    assert f"killed by signal {sig.name}" in cause.msg
    assert "after writing partial output" in cause.msg
    assert '{\\"cniVersion\\": \\"1.0.0\\"' in cause.msg  # what it wrote, quoted
    assert f"killed by signal {sig.name}" in str(info.value)
    assert cache_files(scene) == []
