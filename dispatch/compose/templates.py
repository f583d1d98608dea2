"""Planner-written templates, rendered in Jinja2's immutable sandbox with a small grammar.

A message template needs tokens (``{{guest_name}}``), conditions
(``{% if reception_venue %}``) and a few text filters (``default``,
``upper``…). Everything else — loops, attribute access, calls, arithmetic,
``set``, macros, includes — is refused when the template is read, so no
template can reach Python objects, run for long or build huge output.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dispatch.errors import TemplateRefused

MAX_TEMPLATE_LENGTH = 20_000
ALLOWED_FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim"})
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Filter,
    nodes.Concat,
)
# What a planner wrote, in their words, for the refusal message.
_DESCRIPTIONS: dict[type[nodes.Node], str] = {
    nodes.For: "{% for %} loops",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.With: "{% with %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.Getattr: "attribute access (a dot after a token)",
    nodes.Getitem: "indexing ([…] after a token)",
    nodes.Call: "calling functions",
    nodes.BinExpr: "arithmetic",
    nodes.UnaryExpr: "arithmetic",
    nodes.List: "lists",
    nodes.Tuple: "tuples",
    nodes.Dict: "dictionaries",
    nodes.Test: "“is” tests",
}


class VisibleUndefined(Undefined):
    """An unknown token shows as itself, so a preview never hides a mistake as a blank."""

    def __str__(self) -> str:
        return "{{" + str(self._undefined_name) + "}}"


def _environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        autoescape=html, undefined=VisibleUndefined, keep_trailing_newline=True
    )
    # Jinja's globals (range, lipsum, cycler, namespace…) are Python objects;
    # a message template has no use for them.
    environment.globals.clear()
    return environment


_TEXT = _environment(html=False)
_HTML = _environment(html=True)
# Names Jinja gives a meaning of its own (``self`` is the template object).
_RESERVED_NAMES = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})
_TOKEN_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    source: str
    # Every token the template names.
    tokens: frozenset[str]
    # Tokens printed as they are: empty ones would leave a blank. A token
    # printed through ``default`` or only tested in an ``if`` is not here.
    bare_tokens: frozenset[str]
    _template: Any

    def render(self, values: Mapping[str, str]) -> str:
        try:
            return str(self._template.render(values))
        except (TemplateError, TypeError, ValueError, RecursionError) as error:
            # The grammar check should leave nothing that fails here; if it
            # ever does, the planner hears about it instead of a crash.
            raise TemplateRefused(f"The template cannot be rendered: {error}") from None


@functools.lru_cache(maxsize=256)
def compile_template(source: str, *, html: bool, part: str) -> CompiledTemplate:
    """Read a template; raise ``TemplateRefused`` naming ``part`` (e.g. "SMS text") and why.

    Cached: every batch of a campaign composes with the same templates, and
    compiling them took longer than rendering a batch's worth of messages. A
    compiled template is immutable and safe to share; refusals are not cached.
    """
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateRefused(
            f"The {part} is {len(source):,} characters; the limit is {MAX_TEMPLATE_LENGTH:,}."
        )
    environment = _HTML if html else _TEXT
    try:
        tree = environment.parse(source)
        for node in tree.find_all(nodes.Node):
            _check(node, part)
        tokens = frozenset(name.name for name in tree.find_all(nodes.Name))
        bare = frozenset(_bare_names(tree))
        compiled = environment.from_string(tree)
    except TemplateSyntaxError as error:
        raise TemplateRefused(
            f"The {part} cannot be read (line {error.lineno}): {error.message}."
        ) from None
    except RecursionError:
        raise TemplateRefused(
            f"The {part} nests conditions or brackets too deeply to be read."
        ) from None
    return CompiledTemplate(source, tokens, bare, compiled)


def _check(node: nodes.Node, part: str) -> None:
    if isinstance(node, nodes.Name) and (
        node.name in _RESERVED_NAMES or not _TOKEN_NAME.fullmatch(node.name)
    ):
        raise TemplateRefused(
            f"The {part} uses “{{{{{node.name}}}}}” (line {node.lineno}); tokens are lower-case "
            "names such as {{guest_name}}."
        )
    if isinstance(node, _ALLOWED_NODES) and not isinstance(node, nodes.Test):
        if isinstance(node, nodes.Filter):
            _check_filter(node, part)
        if isinstance(node, nodes.Compare):
            _check_compare(node, part)
        if isinstance(node, nodes.Const) and not isinstance(node.value, str | int | bool):
            raise TemplateRefused(f"The {part} uses a value templates cannot hold.")
        return
    description = next(
        (text for kind, text in _DESCRIPTIONS.items() if isinstance(node, kind)),
        f"“{type(node).__name__}”",
    )
    raise TemplateRefused(
        f"The {part} uses {description} (line {node.lineno}), which message templates "
        "cannot use. Write tokens such as {{guest_name}} and, for optional parts, "
        "{% if reception_venue %}…{% endif %}."
    )


def _check_filter(node: nodes.Filter, part: str) -> None:
    if node.name not in ALLOWED_FILTERS:
        allowed = ", ".join(sorted(ALLOWED_FILTERS - {"d"}))
        raise TemplateRefused(
            f"The {part} uses the filter “{node.name}” (line {node.lineno}); "
            f"message templates can use {allowed}."
        )
    takes = 2 if node.name in {"default", "d"} else 0
    if (
        node.dyn_args is not None
        or node.dyn_kwargs is not None
        or node.kwargs
        or len(node.args) > takes
        or not all(isinstance(arg, nodes.Const) for arg in node.args)
    ):
        usage = 'default("…")' if takes else node.name
        raise TemplateRefused(
            f"The {part} gives the filter “{node.name}” arguments it does not take "
            f"(line {node.lineno}); write {{{{ token | {usage} }}}}."
        )


def _check_compare(node: nodes.Compare, part: str) -> None:
    """Only equality with a text: ``{% if rsvp_status == "confirmed" %}``."""
    operands = [node.expr, *(operand.expr for operand in node.ops)]
    if any(op.op not in {"eq", "ne"} for op in node.ops) or not all(
        isinstance(operand, nodes.Name)
        or (isinstance(operand, nodes.Const) and isinstance(operand.value, str))
        for operand in operands
    ):
        raise TemplateRefused(
            f"The {part} compares values in a way templates cannot (line {node.lineno}); "
            'only == and != with a text in quotes, such as rsvp_status == "confirmed".'
        )


def _bare_names(node: nodes.Node, safe: frozenset[str] = frozenset()) -> Iterator[str]:
    """Names printed where an empty value would show as a blank.

    A name is safe inside ``{% if name %}…{% endif %}`` (and the ``x if x``
    branch of an inline if), under ``default``, and in a condition itself.
    """
    if isinstance(node, nodes.Name):
        if node.name not in safe:
            yield node.name
        return
    if isinstance(node, nodes.If):
        tested = safe | _names(node.test)
        for child in node.body:
            yield from _bare_names(child, tested)
        for branch in (*node.elif_, *node.else_):
            yield from _bare_names(branch, safe)
        return
    if isinstance(node, nodes.CondExpr):
        yield from _bare_names(node.expr1, safe | _names(node.test))
        if node.expr2 is not None:
            yield from _bare_names(node.expr2, safe)
        return
    if isinstance(node, nodes.Filter) and node.name in {"default", "d"}:
        return
    for child in node.iter_child_nodes():
        yield from _bare_names(child, safe)


def _names(node: nodes.Node) -> frozenset[str]:
    found = [node] if isinstance(node, nodes.Name) else node.find_all(nodes.Name)
    return frozenset(name.name for name in found)
