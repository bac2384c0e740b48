"""Finding tools: the built-in modules of `copilot.tools`, the `speech_copilot.tools` entry points and learned heads."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from copilot.errors import ToolError
from copilot.tool import Tool

ENTRY_POINT_GROUP = "speech_copilot.tools"


class Registry:
    """The tools a planner may call, by name."""

    def __init__(self, tools: Iterable[Tool]):
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise ToolError(f"two tools are named {t.name!r}")
            self._tools[t.name] = t

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; an unknown name is a `ToolError` that lists the known ones."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(self._tools)}") from None

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self]


def tools_in(module: ModuleType) -> list[Tool]:
    """The `Tool` objects a module defines at its top level."""
    return [v for v in vars(module).values() if isinstance(v, Tool)]


def builtin_tools() -> list[Tool]:
    """Every tool defined by a module of the `copilot.tools` package."""
    package = importlib.import_module("copilot.tools")
    found: list[Tool] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            found += tools_in(importlib.import_module(f"copilot.tools.{info.name}"))
    return found


def plugin_tools() -> list[Tool]:
    """Tools from installed packages' `speech_copilot.tools` entry points (a Tool or a module of Tools).

    A plugin that fails to load is reported on stderr and skipped, so one broken package
    cannot take the built-in tools down with it.
    """
    found: list[Tool] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import error in third-party code
            print(f"warning: skipping tool plugin {ep.name!r} ({ep.value}): {exc}", file=sys.stderr)
            continue
        tools = tools_in(obj) if isinstance(obj, ModuleType) else [obj]
        bad = [t for t in tools if not isinstance(t, Tool)]
        if bad or not tools:
            print(f"warning: tool plugin {ep.name!r} ({ep.value}) is not a Tool or a module of Tools", file=sys.stderr)
            continue
        found += tools
    return found


def learned_tools(taken: set[str]) -> list[Tool]:
    """A tool for every trained or installed learned head (`copilot.heads`) whose name no other tool has."""
    from copilot.heads.as_tools import head_tools

    found = []
    for t in head_tools():
        if t.name in taken:
            print(f"warning: skipping head {t.name!r}: a tool of that name exists; train it under another name", file=sys.stderr)
            continue
        found.append(t)
    return found


@cache
def default_registry() -> Registry:
    """The built-in tools, every installed plugin's tools and every learned head."""
    tools = [*builtin_tools(), *plugin_tools()]
    return Registry([*tools, *learned_tools({t.name for t in tools})])
