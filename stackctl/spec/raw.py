"""``load_raw``: stack files + environment -> one merged raw tree with positions.

The pipeline, per file then across files (the order compose-go uses):

    locate files, project dir, env, profiles (files.py)
    project name (-p, env, the files' name: interpolated, else the directory);
        it joins the environment as COMPOSE_PROJECT_NAME, as in compose
    for each -f file:  read -> YAML + positions (yamlpos.py; several documents
                       in one file merge in order)
                       -> interpolate against the environment (interpolate.py)
                       -> include (include.py) -> extends (extends.py)
    merge the files in order (merge.py), drop the !reset/!override markers

The result's data is plain Python (dict/list/str/int/float/bool/None), owned by
the caller; ``positions`` locates every key and item in its source file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from stackctl.errors import Location, SpecError
from stackctl.spec.extends import LoadedFile, resolve_extends
from stackctl.spec.files import STDIN, active_profiles, locate, project_name
from stackctl.spec.include import IncludeRequest, apply_include, make_paths_absolute
from stackctl.spec.interpolate import Interpolator, missing_warning
from stackctl.spec.merge import merge_documents
from stackctl.spec.options import LoadOptions, Positions, RawProject
from stackctl.spec.yamlpos import (
    Document,
    Override,
    Pos,
    flatten,
    load_documents,
    strip_markers,
)

__all__ = ["STDIN_NAME", "load_raw"]

STDIN_NAME = "<stdin>"  # the file name locations carry for "-f -"


def load_raw(opts: LoadOptions, *, cwd: str | None = None) -> RawProject:
    """Read, interpolate, include, extend and merge the project's files."""
    located = locate(opts, cwd)
    pipeline = _Pipeline(opts)
    # The name comes first: compose offers it to interpolation as COMPOSE_PROJECT_NAME.
    # Always the name in use, even over an inherited COMPOSE_PROJECT_NAME (``-p`` or
    # STACKCTL_PROJECT_NAME won): compose-go's projectName sets it unconditionally.
    name = pipeline.project_name(located.files, located.working_dir, located.environment)
    environment = dict(located.environment)
    environment["COMPOSE_PROJECT_NAME"] = name
    data, pos = pipeline.load_files(located.files, located.working_dir, environment, ())
    data, pos = strip_markers(data, pos)
    warnings = list(located.warnings)
    warnings.extend(missing_warning(v) for v in pipeline.missing)
    return RawProject(
        name=name,
        working_dir=located.working_dir,
        files=located.files,
        environment=environment,
        data=data,
        positions=Positions(flatten(pos)),
        warnings=tuple(warnings),
        profiles=active_profiles(opts, located.environment),
        env_files=located.env_files,
    )


class _Pipeline:
    """One load: caches parsed files per environment and collects unset variables."""

    def __init__(self, opts: LoadOptions) -> None:
        self.opts = opts
        self.missing: dict[str, None] = {}  # ordered set of unset variable names
        self._texts: dict[str, str] = {}
        self._docs: dict[str, Document] = {}
        # Keyed by the environment's id; the environment is kept alive in the value.
        self._parsed: dict[tuple[str, int], tuple[Mapping[str, str], LoadedFile]] = {}

    def project_name(self, files: tuple[str, ...], working_dir: str,
                     environment: Mapping[str, str]) -> str:
        """-p / environment / the last top-level ``name:`` (interpolated) / directory."""
        from_file: Any = None
        location = None
        if not self.opts.project_name:
            for path in files:
                doc = self._document(path)
                if "name" in doc.data:
                    from_file = doc.data["name"]
                    if isinstance(from_file, Override):
                        from_file = from_file.value
                    location = doc.pos.child("name").loc
            if isinstance(from_file, str) and self.opts.interpolate:
                # Only the name: the full interpolation warns once the name is known.
                from_file = Interpolator(environment).tree(
                    from_file, Pos.of(location or Location("?")))
        return project_name(self.opts.project_name, environment, from_file, working_dir,
                            location)

    def load_files(self, files: tuple[str, ...], base_dir: str,
                   environment: Mapping[str, str], chain: tuple[str, ...],
                   ) -> tuple[dict[str, Any], Pos]:
        merged: tuple[dict[str, Any], Pos] | None = None
        for path in files:
            loaded = self._parse(path, base_dir, environment)
            data, pos = apply_include(
                loaded.data, loaded.pos, file=loaded.file, base_dir=base_dir,
                environment=environment, chain=chain, load=self._load_included,
            )
            doc = LoadedFile(loaded.file, base_dir, data, pos)

            def load_extended(p: str, env: Mapping[str, str] = environment) -> LoadedFile:
                return self._parse(p, os.path.dirname(p), env)

            data, pos = resolve_extends(doc, load_extended)
            merged = (data, pos) if merged is None else merge_documents(*merged, data, pos)
        assert merged is not None
        return merged

    def _load_included(self, request: IncludeRequest) -> tuple[dict[str, Any], Pos]:
        data, pos = self.load_files(request.files, request.project_directory,
                                    request.environment, request.chain)
        return make_paths_absolute(data, request.project_directory), pos

    def _parse(self, path: str, base_dir: str, environment: Mapping[str, str]) -> LoadedFile:
        key = (path, id(environment))
        cached = self._parsed.get(key)
        if cached is not None:
            done = cached[1]
            return LoadedFile(done.file, base_dir, done.data, done.pos)
        doc = self._document(path)
        file = doc.file
        data: dict[str, Any] = doc.data
        if self.opts.interpolate:
            interpolator = Interpolator(environment)
            data = interpolator.tree(doc.data, doc.pos)
            for name in interpolator.missing:
                self.missing.setdefault(name)
        loaded = LoadedFile(file, base_dir, data, doc.pos)
        self._parsed[key] = (environment, loaded)
        return loaded

    def _document(self, path: str) -> Document:
        doc = self._docs.get(path)
        if doc is None:
            docs = load_documents(self._read(path), STDIN_NAME if path == STDIN else path)
            doc = docs[0]
            for more in docs[1:]:  # several documents in one file merge in order
                data, pos = merge_documents(doc.data, doc.pos, more.data, more.pos)
                doc = Document(doc.file, data, pos)
            self._docs[path] = doc
        return doc

    def _read(self, path: str) -> str:
        text = self._texts.get(path)
        if text is not None:
            return text
        if path == STDIN:
            stream = self.opts.stdin if self.opts.stdin is not None else sys.stdin
            text = stream.read()
        else:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError as exc:
                raise SpecError(f"not UTF-8 text (byte {exc.start})",
                                location=Location(path)) from None
            except OSError as exc:
                raise SpecError(f"cannot read {path}: {exc.strerror}",
                                location=Location(path)) from None
        self._texts[path] = text
        return text
