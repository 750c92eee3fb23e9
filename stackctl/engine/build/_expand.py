"""Word expansion bound to one instruction: errors name its Dockerfile line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from stackctl.engine.build import instructions as ins
from stackctl.engine.build.shell import Lex, ShellError
from stackctl.errors import DockerfileParseError

__all__ = ["Expander", "fail"]


def fail(inst: ins.Instruction, file: str, message: str, hint: str | None = None) -> NoReturn:
    raise DockerfileParseError(message, file=file, line=inst.line, hint=hint)


class Expander:
    def __init__(self, inst: ins.Instruction, env: Mapping[str, str], escape: str,
                 file: str) -> None:
        self.inst, self.env, self.lex, self.file = inst, env, Lex(escape=escape), file

    def word(self, text: str) -> str:
        try:
            return self.lex.process_word(text, self.env)
        except ShellError as exc:
            raise DockerfileParseError(str(exc), file=self.file, line=self.inst.line,
                                       hint="check the quotes and ${...} of this line") from None

    def words(self, text: str) -> list[str]:
        try:
            return self.lex.process_words(text, self.env)
        except ShellError as exc:
            raise DockerfileParseError(str(exc), file=self.file, line=self.inst.line) from None
