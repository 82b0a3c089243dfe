"""argparse's own usage errors in the language in use. argparse builds them from English templates
in its own gettext domain, which has no Nepali (and which reads the environment, not the language
``--lang`` chose): the templates our commands can meet are repeated here for the catalog, and a
message made from one is made again from its translation."""

from __future__ import annotations

import re
from functools import cache

from ..i18n import N_, _

TEMPLATES = (
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("expected at most one argument"),
    N_("not allowed with argument %s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("ignored explicit argument %r"),
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]|%[sr]")
POSITIONAL = "value_"  # the group name of a template's one unnamed %s


def translated_usage_error(message: str) -> str:
    """``message`` (as argparse made it) made again from its template's translation; a message of
    ours inside one (a type's refusal) is already translated and stays as it is."""
    for template in TEMPLATES:
        found = _pattern(template).fullmatch(message)
        if found is not None:
            return _filled(_(template), {name: translated_usage_error(value) if name == "message" else value
                                         for name, value in found.groupdict().items()})
    return message


def _filled(template: str, values: dict[str, str]) -> str:
    """``template`` with its placeholders replaced by the texts argparse put there."""
    return PLACEHOLDER.sub(lambda placeholder: values[placeholder.group(1) or POSITIONAL], template)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """The template as a regular expression, each placeholder a named group."""
    parts, end = [], 0
    for placeholder in PLACEHOLDER.finditer(template):
        parts += [re.escape(template[end:placeholder.start()]),
                  f"(?P<{placeholder.group(1) or POSITIONAL}>.+?)"]
        end = placeholder.end()
    return re.compile("".join(parts) + re.escape(template[end:]), re.DOTALL)
