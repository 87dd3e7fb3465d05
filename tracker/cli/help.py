"""How every command's help names its values: ``--provider SLUG``, ``--format json|table``, ``FILE``.

Typer's help shows each parameter's Python type (``<str>``, ``<bool>``, ``<list[Path]>``): noise to
a regulator, and for a flag plainly wrong (a flag takes no value). The root group below rewrites
the whole command tree once, when typer builds it, so that

- a flag shows no value at all;
- an option with fixed choices shows them (``json|table|csv``), straight from its enum, so the
  help can never list formats the command does not take;
- any other option shows its metavar, or its own name in capitals (``--as-of AS_OF``);
- an argument shows its metavar or name in capitals, in the usage line too (``FILE``, ``[REVISION]``).

Commands declare ``metavar="DATE"``, ``"SLUG"`` and so on where the name alone says too little.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


def _choices(param: TyperOption) -> list[str] | None:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if getattr(descriptor, "is_choice", False) else None
    if not choices:
        return None
    return [str(getattr(choice, "value", choice)) for choice in choices]


class PlainOption(TyperOption):
    """An option whose help shows the value it takes, never a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        choices = _choices(self)
        return "|".join(choices) if choices else (self.name or "value").upper()

    def _get_number_range_help_str(self) -> str | None:
        return None  # "[x>=1]" reads as code: the help text says "at least 1" where it matters


class PlainArgument(TyperArgument):
    """An argument named in capitals (``FILE``), without a Python type beside it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:
        return self.metavar if self.metavar is not None else (self.name or "value").upper()

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return [f"{name}..." if self.nargs != 1 else name]


def _plain(params: list[Any]) -> list[Any]:
    # Typer builds exactly these two classes; anything else (a custom parameter) is left alone.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
    return params


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))  # the help option is made here, per context


class PlainGroup(TyperGroup):
    """The root group (``typer.Typer(cls=PlainGroup)``): makes its whole command tree plain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_tree(self)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


def _plain_tree(group: TyperGroup) -> None:
    for command in group.commands.values():
        if type(command) is TyperCommand:
            command.__class__ = PlainCommand
        elif type(command) is TyperGroup:
            command.__class__ = PlainGroup
            _plain_tree(command)
