"""YAML for files a user or a stranger hands us (specs, system files, ``--set`` values).

PyYAML's safe loader builds only plain data, but it still expands aliases (a 372-byte "billion
laughs" document becomes gigabytes), follows nesting as deep as the text goes and reads files of
any size. ``load_yaml`` refuses anchors and aliases (no spec needs them), nesting deeper than
``MAX_YAML_DEPTH`` and text over ``MAX_YAML_BYTES``; ``read_text_capped`` reads at most that
much of a file. Every refusal is one line that starts with ``where``, raised as the caller's
``UserError`` subclass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aiperf.errors import UserError

MAX_YAML_BYTES = 32 << 10  # 32 KiB: the largest shipped spec is about 2 KiB; pure-Python YAML
# parses ~100 KiB a second, so a hostile file costs at most a third of a second
MAX_YAML_DEPTH = 32  # a spec nests 5 levels deep (spec.search.space.lr.min)


class _Refused(Exception):
    """Raised inside the loader; ``load_yaml`` turns it into the caller's error."""


class _StrictLoader(yaml.SafeLoader):
    """The safe loader without anchors or aliases, and with a nesting limit."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(f"line {line}: YAML anchors and aliases (&name, *name) are not allowed")
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused(f"line {line}: nested deeper than {MAX_YAML_DEPTH} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PlainDumper(yaml.SafeDumper):
    """The safe dumper, never writing anchors: what it writes ``load_yaml`` reads back."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_yaml(text: str, where: str, error: type[UserError] = UserError) -> Any:
    """The plain data in ``text``; ``error`` (one line starting with ``where``) if it is hostile."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_YAML_BYTES:
        raise error(f"{where}: {size} bytes is over the limit of {MAX_YAML_BYTES} bytes")
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as err:
        raise error(f"{where}: {err}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        # ValueError: e.g. an integer of more digits than Python converts.
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise error(f"{where}: invalid YAML ({first})") from None
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    """``data`` as block YAML in the given key order, without anchors or aliases."""
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False)


def read_text_capped(
    path: Path, where: str, error: type[UserError] = UserError, limit: int = MAX_YAML_BYTES
) -> str:
    """The UTF-8 text of ``path``, refused past ``limit`` bytes before more than that is read."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise error(f"{where}: {size} bytes is over the limit of {limit} bytes")
        with path.open("rb") as file:
            data = file.read(limit + 1)  # a device or a growing file may say 0 bytes in stat
    except OSError as err:
        raise error(f"{where}: cannot read ({err.strerror or err})") from None
    if len(data) > limit:
        raise error(f"{where}: over the limit of {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{where}: cannot read (not UTF-8 text at byte {err.start})") from None


def load_yaml_file(path: Path, where: str, error: type[UserError] = UserError) -> Any:
    """The plain data in a YAML (or JSON) file, read and parsed with every cap above."""
    return load_yaml(read_text_capped(path, where, error), where, error)
