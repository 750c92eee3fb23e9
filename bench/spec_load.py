"""How long the stack-file text pipeline (spec.raw.load_raw) takes.

Generates a 50-service stack file (ports, volumes, environment, healthcheck,
depends_on, an override file, an extends base) in a temp dir and prints the
median CPU time of repeated loads, split into YAML parsing and the whole pipeline.

    .venv/bin/python bench/spec_load.py [services]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from stackctl.spec.options import LoadOptions
from stackctl.spec.raw import load_raw
from stackctl.spec.yamlpos import load_yaml


def _stack(n: int) -> tuple[str, str]:
    lines = [
        "name: bench",
        "x-base: &base",
        "  restart: unless-stopped",
        "  logging: {driver: json-file, options: {max-size: 10m}}",
        "services:",
        "  base:",
        "    image: busybox:${TAG:-1.36}",
        "    environment: [A=1, B=2]",
    ]
    over = ["services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            "    <<: *base",
            "    extends: base",
            f"    command: [sh, -c, 'echo {i}; sleep 1000']",
            f"    ports: ['{10000 + i}:80', '127.0.0.1:{20000 + i}:443/tcp']",
            f"    volumes: ['./data/{i}:/data', 'cache{i}:/cache:ro']",
            "    environment:",
            f"      SERVICE: svc{i}",
            "      HOME_DIR: ${HOME:-/root}",
            "    healthcheck:",
            "      test: [CMD-SHELL, 'wget -q -O- localhost || exit 1']",
            "      interval: 10s",
            "      retries: 3",
        ]
        if i:
            lines.append(f"    depends_on: {{svc{i - 1}: {{condition: service_healthy}}}}")
        over += [f"  svc{i}:", "    environment: {DEBUG: '1'}", f"    ports: ['{30000 + i}:81']"]
    return "\n".join(lines) + "\n", "\n".join(over) + "\n"


def _median_ms(fn: object, rounds: int) -> float:
    """Median CPU time of one call (CPU time: the other cores may be busy)."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()  # type: ignore[operator]
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    base, override = _stack(n)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compose.yaml").write_text(base)
        Path(tmp, "compose.override.yaml").write_text(override)
        opts = LoadOptions(environ={"HOME": "/home/u"})
        raw = load_raw(opts, cwd=tmp)
        assert len(raw.data["services"]) == n + 1
        parse = _median_ms(lambda: load_yaml(base, "compose.yaml"), 30)
        single = _median_ms(
            lambda: load_raw(LoadOptions(files=(f"{tmp}/compose.yaml",), environ={}), cwd=tmp), 30
        )
        full = _median_ms(lambda: load_raw(opts, cwd=tmp), 30)
    print(
        f"{n} services, {len(base.splitlines())} + {len(override.splitlines())} lines, "
        f"{len(raw.positions.table)} located key paths"
    )
    print(f"  YAML + positions (one file):     {parse:6.2f} ms")
    print(f"  load_raw, one file:              {single:6.2f} ms")
    print(f"  load_raw, file + override:       {full:6.2f} ms")


if __name__ == "__main__":
    main()
