"""A griffe extension for the API reference: a reST ``.. math::`` block of a NumPy-style docstring becomes a
fenced ``tex`` code block, so that the equation shows as written (LaTeX source) instead of running into the
prose. The site loads no MathJax: it works offline, and the docstrings' Unicode equations need none."""

from __future__ import annotations

import re

import griffe

_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)\n(?P<rest>(?:(?P=indent)[ \t]+\S.*\n|[ \t]*\n)*)",
                   re.M)


def _fence(m: re.Match) -> str:
    indent = m.group("indent")
    lines = [m.group("first")] + [line.strip() for line in m.group("rest").splitlines()]
    body = "\n".join(f"{indent}{line}" for line in lines if line)
    return f"{indent}```tex\n{body}\n{indent}```\n\n"


def fence_math(text: str) -> str:
    """``.. math:: X`` (with indented continuation lines) → a fenced ``tex`` block of X."""
    return _MATH.sub(_fence, text if text.endswith("\n") else text + "\n").rstrip("\n")


class MathBlocks(griffe.Extension):
    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None and ".. math::" in obj.docstring.value:
            obj.docstring.value = fence_math(obj.docstring.value)
