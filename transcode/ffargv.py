"""A small, pure builder of ffmpeg command lines: one input, an optional filter, one output.

It replaces ffmpeg-python, which was used only to compile argv lists. The order of the
options is the one ffmpeg-python produced (options sorted by name, the output format first),
so every preset gives the same command line, and so the same bytes, as before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Options = Mapping[str, Any]


def option_args(options: Options) -> list[str]:
    """``{"c:v": "libx264", "crf": 23}`` → ``["-c:v", "libx264", "-crf", "23"]``, sorted by name;
    a value None gives a bare flag."""
    args: list[str] = []
    for key in sorted(options):
        value = options[key]
        args.append(f"-{key}")
        if value is not None:
            args.append(str(value))
    return args


@dataclass(frozen=True)
class Filter:
    """One filter on the first input's stream ``source`` (e.g. ``scale`` with ``(1920, 1080)``)."""

    source: str
    name: str
    args: tuple[Any, ...] = ()
    label: str = "s0"

    def graph(self) -> str:
        """The ``-filter_complex`` text: ``[0:v:0]scale=1920:1080[s0]``."""
        body = ":".join(_escape(str(a)) for a in self.args)
        return f"[0:{self.source}]{self.name}{'=' + body if body else ''}[{self.label}]"

    @property
    def output(self) -> str:
        """The map name of the filter's output."""
        return f"[{self.label}]"


def _escape(text: str) -> str:
    """Escape the characters that end or split a filter argument."""
    for ch in "\\'=:":
        text = text.replace(ch, "\\" + ch)
    return text


def ffmpeg_argv(
    exe: str,
    global_args: Sequence[str],
    source: str,
    output: str,
    *,
    maps: Sequence[str | Filter],
    input_options: Options | None = None,
    output_options: Options | None = None,
) -> list[str]:
    """``exe global… [input options] -i source [-filter_complex …] -map … [-f fmt] options… output``.

    ``maps``: stream specifiers of the first input (``"v:0"``, ``"a:0?"``) or a Filter whose
    output is mapped. Paths must already be safe (absolute, see presets.safe_path)."""
    argv = [exe, *global_args, *option_args(input_options or {}), "-i", source]
    filters = [m for m in maps if isinstance(m, Filter)]
    if filters:
        argv += ["-filter_complex", ";".join(f.graph() for f in filters)]
    for m in maps:
        argv += ["-map", m.output if isinstance(m, Filter) else f"0:{m}"]
    opts = dict(output_options or {})
    fmt = opts.pop("f", None)
    if fmt is not None:
        argv += ["-f", str(fmt)]
    return [*argv, *option_args(opts), output]
