"""The messages' words: Jinja2 templates, a plain-text and an HTML part and a subject line per kind
of message. An operator overrides any of them by putting a file of the same name in the folder
``RIGHTLY_TEMPLATES`` names (the built-in ones, in ``rightly/mail/templates``, show what each
template is given); the rest stay built in.

Per kind ``K``: ``K.subject.txt`` (one line), ``K.txt`` and ``K.html`` (which may extend
``_layout.html``). HTML is autoescaped; the text part is not (it is not HTML).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

BUILT_IN = Path(__file__).parent / "templates"
KINDS = ("verify", "reminder", "received", "extended", "results", "deleted", "denied", "closed")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, override: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(override))] if override else []
        self.env = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(str(BUILT_IN))]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        if kind not in KINDS:
            raise ValueError(f"no message of kind {kind!r}")
        subject = self.env.get_template(f"{kind}.subject.txt").render(context)
        return Rendered(
            subject=" ".join(subject.split())[:300],  # one line: no header can be smuggled in
            text=self.env.get_template(f"{kind}.txt").render(context),
            html=self.env.get_template(f"{kind}.html").render(context),
        )


@lru_cache(maxsize=8)
def templates_for(override: Path | None) -> Templates:
    return Templates(override)
