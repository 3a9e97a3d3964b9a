"""MkDocs hook: show the docstrings' Sphinx roles as plain code in the API pages.

kanlab's docstrings cross-reference with Sphinx roles (``:func:`~kanlab.training.loop.fit```), which
Markdown renders as ``:func:<code>~kanlab.training.loop.fit</code>``. This drops the role and, as Sphinx
does for a leading ``~``, keeps the last component of the name: ``<code>fit</code>``.
"""

from __future__ import annotations

import re

ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):<code>(~?)([^<]*)</code>"
)


def _plain(match: re.Match) -> str:
    tilde, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if tilde else name}</code>"


def on_page_content(html: str, **kwargs) -> str:
    return ROLE.sub(_plain, html)
