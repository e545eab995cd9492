"""Global options accepted anywhere on the command line: ``bitstore exists KEY --json``.

`GlobalOptionsGroup` is the class of the ``bitstore`` group. Every command (and sub-group)
added to it, now or later, gets a copy of the group's options; a copy given on the command line
overrides the group's value on the settings object (``ctx.obj``) before the command runs.
Parsing is left to click, so an option given both before and after the command name ends with
the later value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.core import ParameterSource

__all__ = ["GlobalOptionsGroup"]


def _overriding(option: click.Option) -> click.Option:
    """A copy of the group's ``option`` for a command: its value, when given on the command
    line, is set on ``ctx.obj`` (the attribute of the option's name) instead of being passed."""
    local = copy.copy(option)
    parse: Callable[..., Any] | None = option.callback
    local.show_default = False
    local.expose_value = False

    def override(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if parse is not None:
            value = parse(ctx, param, value)
        given = ctx.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE
        if given and ctx.obj is not None and param.name is not None:
            setattr(ctx.obj, param.name, value)
        return value

    local.callback = override
    return local


class GlobalOptionsGroup(click.Group):
    """A group whose options every command below it accepts too, after its own name."""

    #: Sub-groups made with ``group.group()`` are of this class, so they pass the options on.
    group_class = type

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inherited: Sequence[click.Option] = ()

    def shared_options(self) -> list[click.Option]:
        """The options every command below accepts: this group's own (except the eager ones,
        ``--version`` and ``--help``) and those it inherited."""
        own = [p for p in self.params if isinstance(p, click.Option) and not p.is_eager]
        return [*self._inherited, *own]

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add ``cmd`` with copies of the shared options it does not define itself."""
        shared = self.shared_options()
        taken = {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
        taken |= {param.name for param in cmd.params if param.name}
        for option in shared:
            if option.name not in taken and not taken.intersection(option.opts):
                cmd.params.append(_overriding(option))
                taken |= {option.name or "", *option.opts, *option.secondary_opts}
        if isinstance(cmd, GlobalOptionsGroup):
            cmd.inherit(shared)
        super().add_command(cmd, name)

    def inherit(self, options: Sequence[click.Option]) -> None:
        """Pass ``options`` on to the commands of this sub-group, present and future."""
        self._inherited = options
        for command in list(self.commands.values()):
            self.add_command(command)
