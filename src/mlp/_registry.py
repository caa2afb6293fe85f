"""Name → object lookup shared by activations, losses, optimisers and initialisers.

One place turns a public string name (``"relu"``, ``"mse"``, ``"adam"``, ``"he"``)
into an object, and raises one kind of error — a ``ValueError`` listing the
known names — for a name it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class Registry:
    """A named table of factories, e.g. ``ACTIVATIONS["relu"]``.

    Parameters
    ----------
    kind : str
        What the entries are ("activation", "loss", ...), used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, entry: Any) -> Any:
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Any:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(repr(k) for k in self._entries)
            raise ValueError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def resolve(self, value: Any, base: type, make: Callable[[Any], Any] | None = None) -> Any:
        """Return ``value`` if it is already a ``base`` instance, else look its name up.

        ``make`` turns the registry entry into an object (default: call it).
        """
        if isinstance(value, base):
            return value
        if isinstance(value, str):
            entry = self[value]
            return make(entry) if make is not None else entry()
        known = ", ".join(repr(k) for k in self._entries)
        raise TypeError(
            f"{self.kind} must be a name ({known}) or a {base.__name__}, "
            f"got {type(value).__name__}"
        )
