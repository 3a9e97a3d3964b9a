"""MkDocs hook: the docstrings' Sphinx roles become links to the API reference.

kanlab's docstrings cross-reference with Sphinx roles (``:func:`~kanlab.training.loop.fit```),
which Markdown renders as ``:func:<code>~kanlab.training.loop.fit</code>``. This drops the role,
keeps the last component of the name for a leading ``~`` as Sphinx does (``<code>fit</code>``;
``title <target>`` shows the title), and hands the name to mkdocs-autorefs as an optional
cross-reference: a link where the API reference documents the object, plain code where it does
not (torch's classes, a re-export).
A name without a ``kanlab.`` prefix is looked up next to the object whose docstring holds it,
then in that object's module (the ``::: kanlab.x.y`` section it is in).
"""

from __future__ import annotations

import re
from html import escape

ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):<code>(~?)([^<]*)</code>"
)
# an API object's heading (mkdocstrings: id = its full path), or a role
TOKEN = re.compile(r'<h([2-6]) id="(kanlab(?:\.\w+)*)"|' + ROLE.pattern)


def on_page_content(html: str, **kwargs) -> str:
    module = current = ""

    def replace(match: re.Match) -> str:
        nonlocal module, current
        level, heading, tilde, name = match.groups()
        if heading is not None:
            current = heading
            if level == "2":  # one ``::: kanlab.x.y`` section per module
                module = heading
            return match.group(0)
        explicit = re.fullmatch(r"(.+?)\s*&lt;([\w.]+)&gt;", name)  # ``title <target>``
        if explicit:
            shown, name = explicit.groups()
        else:
            shown = name.rsplit(".", 1)[-1] if tilde else name
        if name.startswith("kanlab") or not module:
            candidates = [name]
        else:  # a sibling of the documented object, or a name of its module
            candidates = [f"{current.rsplit('.', 1)[0]}.{name}", f"{module}.{name}"]
        slug = f' slug="{escape(candidates[1])}"' if len(candidates) > 1 else ""
        return (f'<autoref identifier="{escape(candidates[0])}"{slug} optional>'
                f"<code>{shown}</code></autoref>")

    return TOKEN.sub(replace, html)
