"""``sync --git-ref``: deploy the stack file as it is at a git commit.

The tree at the commit is exported (``git archive``, no working-tree changes
needed) into ``<state root>/sync/<repo>-<commit>``, once per commit, so build
contexts and bind-mount sources keep existing while the stack runs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from stackctl.errors import UsageError


def checkout(repo: str, ref: str, files: list[str], dest_root: Path,
             project_directory: str | None) -> tuple[list[str], str]:
    """Export ``ref`` of ``repo``; return the -f files and project directory inside it."""
    repo_path = Path(repo).resolve()
    top = _git(repo_path, "rev-parse", "--show-toplevel")
    commit = _git(repo_path, "rev-parse", "--verify", f"{ref}^{{commit}}")
    dest = Path(dest_root) / f"{Path(top).name}-{commit[:12]}"
    if not dest.exists():
        dest_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest_root, prefix=".export-"))
        try:
            archive = subprocess.run(["git", "-C", top, "archive", "--format=tar", commit],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True,
                           capture_output=True)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    # paths given relative to the repository (or absolute inside it) map into the export
    sub = repo_path.relative_to(top)
    mapped = [str(dest / _inside(top, repo_path, f)) for f in files]
    pdir = str(dest / _inside(top, repo_path, project_directory)) if project_directory \
        else (None if mapped else str(dest / sub))
    return mapped, pdir or str(Path(mapped[0]).parent)


def _inside(top: str, cwd: Path, path: str) -> Path:
    p = Path(path)
    full = p if p.is_absolute() else (cwd / p)
    try:
        return full.resolve().relative_to(top)
    except ValueError:
        raise UsageError(f"{path}: not inside the git repository {top}") from None


def _git(cwd: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                             text=True)
    except FileNotFoundError:
        raise UsageError("--git-ref needs git installed") from None
    except subprocess.CalledProcessError as exc:
        raise UsageError(f"git {' '.join(args)}: {exc.stderr.strip()}",
                         hint="check --git-repo and --git-ref") from None
    return out.stdout.strip()


__all__ = ["checkout"]
