"""A griffe extension for the API reference: the reST of NumPy-style docstrings made readable in Markdown.

* A ``.. math::`` block becomes a fenced ``tex`` code block, so that the equation shows as written (LaTeX source)
  instead of running into the prose. The site loads no MathJax: it works offline, and the docstrings' Unicode
  equations need none.
* A Sphinx cross-reference role, ``:func:`~sgdpotential.theory.decompose``` or ``:class:`.LinearSGD```, becomes
  the code span it names (the last part with ``~`` or a leading ``.``), instead of the literal role.
"""

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


_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _role(m: re.Match) -> str:
    target = m.group("target")
    short = m.group("tilde") or target.startswith(".")
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def plain_roles(text: str) -> str:
    """``:role:`~a.b.c``` → ```c```; ``:role:`a.b``` → ```a.b```."""
    return _ROLE.sub(_role, text)


def fence_math(text: str) -> str:
    """``.. math:: X`` (with indented continuation lines) → a fenced ``tex`` block of X."""
    return _MATH.sub(_fence, text if text.endswith("\n") else text + "\n").rstrip("\n")


class MathBlocks(griffe.Extension):
    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is None:
            return
        text = obj.docstring.value
        if ".. math::" in text:
            text = fence_math(text)
        obj.docstring.value = plain_roles(text)
