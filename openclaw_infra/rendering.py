"""Render the package's templates: every file a deploy writes has its content in templates/."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        # templates/ is mapped to openclaw_infra.templates, which PackageLoader cannot see through.
        loader=jinja2.FileSystemLoader(str(resources.files("openclaw_infra.templates"))),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, never an empty string in a unit file
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - renders config files, not HTML
    )


def render(template: str, **variables: Any) -> str:
    return _environment().get_template(template).render(**variables)
