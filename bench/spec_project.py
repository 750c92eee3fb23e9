"""load_project on a 50-service stack file (budget: well under 100 ms), split into
the text pipeline (load_raw) and the model side (validation, checks, resolution,
normalisation); and the cold ``stackctl config -q`` process on the same file.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICE = """
  svc{i}:
    image: registry.example.com/team/svc{i}:1.{i}
    build:
      context: ./svc{i}
      args: [VERSION=1.{i}]
    command: ["python", "-m", "svc{i}", "--port", "80{i:02d}"]
    environment:
      - SERVICE=svc{i}
      - DB_URL=postgres://db/svc{i}
    ports: ["{port}:80", "127.0.0.1:{port2}:9000/udp"]
    volumes: ["./data/svc{i}:/data:ro", "cache{i}:/cache"]
    networks:
      front:
        aliases: [svc{i}.local]
      back:
    depends_on:
      {dep}:
        condition: service_started
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost/health"]
      interval: 10s
      timeout: 2s
      retries: 3
    deploy:
      resources:
        limits: {{cpus: "0.5", memory: 256m}}
    labels:
      com.example.svc: "svc{i}"
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
"""


def stack_text(n: int = 50) -> str:
    parts = ["name: bench\nservices:\n  db:\n    image: postgres:16\n"]
    for i in range(n - 1):
        dep = "db" if i == 0 else f"svc{i - 1}"
        parts.append(SERVICE.format(i=i, dep=dep, port=10000 + i, port2=20000 + i))
    parts.append("networks:\n  front:\n  back:\nvolumes:\n")
    parts.extend(f"  cache{i}:\n" for i in range(n - 1))
    return "".join(parts)


def _median_ms(fn: object, runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    from stackctl.spec.options import LoadOptions
    from stackctl.spec.project import load_project, project_from_raw
    from stackctl.spec.raw import load_raw

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(stack_text())
        opts = LoadOptions(files=(str(path),), environ={"HOME": "/root"})
        t0 = time.perf_counter()
        project = load_project(opts)
        first = (time.perf_counter() - t0) * 1000
        assert len(project.services) == 50
        raw = load_raw(opts)
        print("50 services")
        print(f"  load_project, first call in process: {first:7.1f} ms")
        total = _median_ms(lambda: load_project(opts))
        print(f"  load_project (median):               {total:7.1f} ms")
        print(
            f"    load_raw (text pipeline):          {_median_ms(lambda: load_raw(opts)):7.1f} ms"
        )
        print(
            f"    project_from_raw (models...):      "
            f"{_median_ms(lambda: project_from_raw(raw, opts)):7.1f} ms"
        )
        cli = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "stackctl", "config", "-q", "-f", str(path)], check=True
            )
            cli.append(time.perf_counter() - t0)
        print(f"  stackctl config -q, cold process:    {statistics.median(cli) * 1000:7.0f} ms")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import stackctl.spec.models_top"], check=True)
        models = time.perf_counter() - t0
        subprocess.run([sys.executable, "-c", "import pydantic"], check=True)
        base = time.perf_counter() - t0 - models
        print(
            f"  import of the models (process):      {models * 1000:7.0f} ms "
            f"(of which python+pydantic {base * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
