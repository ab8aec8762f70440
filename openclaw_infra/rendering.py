"""Render the package's templates: every file a deploy writes has its content in templates/."""

from __future__ import annotations

import functools
import json
import os
import plistlib
from collections.abc import Callable
from importlib import resources
from typing import Any

import jinja2

from openclaw_infra import quoting

# templates/ is mapped to openclaw_infra.templates, which PackageLoader cannot see through. Resolved once, here:
# operation fixtures (pyinfra-testing) fake os.stat while an operation runs, and path lookups stat.
TEMPLATES_DIR = str(resources.files("openclaw_infra.templates"))


def _template_source(name: str) -> tuple[str, None, Callable[[], bool]]:
    # Plain open() (no stat) and never "out of date": templates do not change while a deploy runs.
    with open(os.path.join(TEMPLATES_DIR, name), encoding="utf-8") as template:
        return template.read(), None, lambda: True


# Every value a template writes goes through one of these, chosen by what reads the file (openclaw_infra.quoting).
QUOTING_FILTERS = {
    "shell_word": quoting.shell_word,
    "cron_word": quoting.cron_word,
    "systemd_word": quoting.systemd_word,
    "systemd_exec_word": quoting.systemd_exec_word,
    "systemd_executable": quoting.systemd_executable,
    "systemd_path": quoting.systemd_path,
    "logrotate_path": quoting.logrotate_path,
    "yaml_string": quoting.yaml_string,
}


@functools.cache
def _environment(xml: bool = False) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, never an empty string in a unit file
        keep_trailing_newline=True,
        # XML (libvirt's domain definitions): every value escaped, so none can add an element or attribute.
        autoescape=xml,  # noqa: S701 - the other templates are config files, each value quoted by its filter
    )
    environment.filters.update(QUOTING_FILTERS)
    return environment


def render(template: str, **variables: Any) -> str:
    return _environment().get_template(template).render(**variables)


def render_xml(template: str, **variables: Any) -> str:
    """``render`` with every value XML-escaped (``&``, ``<``, ``>``, both quotes)."""
    return _environment(xml=True).get_template(template).render(**variables)


def render_plist(template: str, **variables: Any) -> bytes:
    """A property list (launchd's jobs): the template renders JSON, every value through ``tojson``, and plistlib
    writes it as XML in the template's key order."""
    return plistlib.dumps(json.loads(render(template, **variables)), sort_keys=False)


def template_text(name: str) -> str:
    """A file of templates/ as it is (a script copied to hosts, no variables)."""
    return _template_source(name)[0]
