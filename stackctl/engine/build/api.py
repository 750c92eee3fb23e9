"""The builder as the scheduler calls it: a compose ``build:`` section -> an image.

    build_for_service(engine, {"context": "/abs/app", "dockerfile": "Dockerfile",
                               "args": {"V": "1"}, "target": "prod"}, tag="app:latest")

Keys follow the compose specification: ``context``, ``dockerfile``,
``dockerfile_inline``, ``args`` (mapping or ``K=V`` list; a key without a
value is taken from the environment, or skipped), ``target``, ``labels``,
``no_cache``, ``tags``. Paths should already be absolute (the spec loader
resolves them against the project directory); a relative one is taken from
the current directory. Keys a local offline build cannot honour
(``cache_from``, ``platforms``, ``ssh``, ``secrets``...) are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stackctl.engine.build.builder import Builder, BuildRequest, Progress
from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.errors import BuildError

__all__ = ["build_for_service", "registry_puller", "request_from_compose"]


def _pairs(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    items: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = []
        for entry in value:
            k, eq, v = str(entry).partition("=")
            items.append((k, v if eq else None))
    else:
        raise BuildError(f"build.{key} must be a mapping or a list of KEY=VALUE")
    out: dict[str, str] = {}
    for k, v in items:
        if v is None:
            if k in os.environ:
                out[k] = os.environ[k]
            continue
        out[k] = str(v)
    return out


def request_from_compose(build: Mapping[str, Any], *, tag: str | None) -> BuildRequest:
    """The BuildRequest for a compose ``build:`` section (pure, apart from
    reading the Dockerfile)."""
    context = Path(str(build.get("context") or "."))
    inline = build.get("dockerfile_inline")
    if inline is not None:
        data, name = str(inline).encode(), "Dockerfile (inline)"
    else:
        name = str(build.get("dockerfile") or "Dockerfile")
        path = Path(name) if os.path.isabs(name) else context / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BuildError(f"cannot read the Dockerfile {path}: {exc.strerror}",
                             hint="check build.context and build.dockerfile") from None
        name = str(path)
    tags = tuple(t for t in (tag, *(build.get("tags") or ())) if t)
    return BuildRequest(
        context=context, dockerfile=data, dockerfile_name=name, tags=tags,
        build_args=_pairs(build.get("args"), "args"),
        target=build.get("target") or None,
        no_cache=bool(build.get("no_cache")),
        labels=_pairs(build.get("labels"), "labels"),
    )


def registry_puller(store: ImageStore, root: Path,
                    notify: Callable[[str], None] | None = None
                    ) -> Callable[[str], ImageRecord]:
    """A ``Builder(pull=...)`` that fetches a missing base image from its registry."""

    def pull(name: str) -> ImageRecord:
        from stackctl.engine.registry.pull import pull_image

        if notify is not None:
            notify(f"pulling {name}: not in the local store")
        pull_image(store, name, auth_root=root)
        return store.resolve(name)

    return pull


def build_for_service(engine: Any, build: Mapping[str, Any], *, tag: str | None,
                      progress: Progress | None = None) -> str:
    """Build a service's image into ``engine``'s store (pulling a missing base, as
    compose does); return the image ID."""
    req = request_from_compose(build, tag=tag)
    builder = Builder(engine.images, run_root=engine.run_root, progress=progress,
                      pull=registry_puller(engine.images, engine.root))
    return builder.build(req).image_id
