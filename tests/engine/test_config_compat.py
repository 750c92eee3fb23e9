"""ContainerConfig rows stored before a field existed still load (the field gets its
default), and the network attachments derive from the older single-network fields."""

from __future__ import annotations

import json

from stackctl.engine.containers import ContainerConfig, NetworkAttachment


def test_a_row_from_before_networks_ipc_and_links_loads() -> None:
    old = {"image": "busybox", "network": "front", "network_aliases": ["web"],
           "env": ["A=1"], "restart": {"name": "always", "max_retries": 0}}
    c = ContainerConfig.from_json(json.dumps(old))
    assert (c.networks, c.ipc, c.links) == (None, "private", ())
    assert c.attachments() == (NetworkAttachment("front", ("web",)),)
    assert ContainerConfig.from_json(c.to_json()) == c


def test_attachments_round_trip_and_connect_disconnect_shape() -> None:
    nets = (NetworkAttachment("a", ("x",), "172.30.0.9"), NetworkAttachment("b"))
    c = ContainerConfig("busybox").with_attachments(nets)
    assert (c.network, c.network_aliases, c.bridged) == ("a", ("x",), True)
    back = ContainerConfig.from_json(c.to_json())
    assert back.attachments() == nets and back == c
    # the primary leaves: the next one becomes primary; the last leaves: loopback only
    assert c.with_attachments(nets[1:]).network == "b"
    alone = c.with_attachments(())  # keeps its mode, may be connected again
    assert (alone.network, alone.attachments(), alone.bridged) == ("a", (), True)
    assert ContainerConfig.from_json(alone.to_json()).attachments() == ()
    for mode in ("none", "host", "container:abc"):
        assert ContainerConfig("busybox", network=mode).attachments() == ()
