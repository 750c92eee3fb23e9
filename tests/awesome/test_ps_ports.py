"""ps PORTS in Docker's form (the samples' READMEs show ``0.0.0.0:8000->8000/tcp``)."""

from __future__ import annotations

from stackctl.cli.ps_cmd import ports_text


def test_ports_column_is_dockers() -> None:
    assert ports_text(("127.0.0.1:8080:80", "8000:8000/tcp", "53/udp", "9000-9001:90-91")) == (
        "53/udp, 0.0.0.0:8000->8000/tcp, 127.0.0.1:8080->80/tcp, 0.0.0.0:9000->90/tcp, "
        "0.0.0.0:9001->91/tcp")  # docker's DisplayablePorts: ports on their own numbers
    # (grouped into ranges), then those mapped to other numbers, each by container port


def test_exposed_ports_that_are_not_published_show_alone() -> None:
    # the READMEs' "3306/tcp, 33060/tcp" and "5000/tcp, 0.0.0.0:8000->8000/tcp"
    assert ports_text((), ("3306/tcp", "33060/tcp")) == "3306/tcp, 33060/tcp"
    assert ports_text(("8000:8000",), ("8000/tcp", "5000/tcp")) == \
        "5000/tcp, 0.0.0.0:8000->8000/tcp"


def test_consecutive_ports_show_as_one_range() -> None:
    assert ports_text(("8000-8003:8000-8003", "8005:8005", "7000:7000/udp")) == (
        "0.0.0.0:8000-8003->8000-8003/tcp, 0.0.0.0:7000->7000/udp, 0.0.0.0:8005->8005/tcp")
    assert ports_text((), ("5000/tcp", "5001/tcp", "53/udp")) == "53/udp, 5000-5001/tcp"
