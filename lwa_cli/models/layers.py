"""Layer names and the one layer vocabulary every command uses.

Layers are ``C1``…``Cn`` (conv blocks) and ``T0``…``TL`` (transformer input and layer
outputs). A layer specification is a comma-separated list of items: a single layer
(``T4``, ``c3``), a range within one kind (``T0-T6``, ``T2-6``, ``C1-C3``), a whole kind
(``C``, ``T``) or ``all``; case does not matter. Results are always in canonical order
without duplicates.

`parse_layers` expands specifications against a model's architecture, `match_layers`
against the layers that are there (e.g. stored results), `canonical_layer` reads one
name. `split_layer`, `layer_kind`, `is_conv`, `layer_index` and `layer_sort_key` are the
only tests of a layer name's form in the package. Import-light: the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lwa_cli.errors import LwaUsageError

_NAME = re.compile(r"([CT])(\d+)")
_RANGE = re.compile(r"([CT])(\d+)-([CT]?)(\d+)")
KINDS = ("C", "T")
"""Layer kinds: ``C`` conv blocks, ``T`` transformer input and layers."""


def split_layer(name: object) -> tuple[str, int] | None:
    """``"C3"`` → ``("C", 3)``, ``"T10"`` → ``("T", 10)``; None for anything else.

    Only canonical (upper-case) names are layers here; user input goes through
    `canonical_layer` or `parse_layers` first.
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    return (match.group(1), int(match.group(2))) if match else None


def _split(name: str) -> tuple[str, int]:
    parsed = split_layer(name)
    if parsed is None:
        raise ValueError(f"not a layer name: {name!r}; expected C1, C2, … or T0, T1, …")
    return parsed


def layer_kind(name: str) -> str:
    """``"C"`` for a conv layer, ``"T"`` for a transformer one (ValueError otherwise)."""
    return _split(name)[0]


def is_conv(name: str) -> bool:
    """Whether ``name`` is a conv layer (``C3``) rather than a transformer one (``T3``)."""
    return layer_kind(name) == "C"


def is_transformer(name: str) -> bool:
    """Whether ``name`` is a transformer layer (``T0`` is the transformer input)."""
    return layer_kind(name) == "T"


def layer_index(name: str) -> int:
    """The number in a canonical layer name (``C3`` → 3, ``T0`` → 0)."""
    return _split(name)[1]


def layer_sort_key(name: str) -> tuple[int, int]:
    """Sort key of canonical order: every C layer, by number, before every T layer."""
    kind, number = _split(name)
    return KINDS.index(kind), number


def layer_names(n_conv: int, n_transformer: int) -> list[str]:
    """All layer names of a model in canonical order: C1..Cn, then T0..TL."""
    return [f"C{i}" for i in range(1, n_conv + 1)] + [f"T{i}" for i in range(n_transformer + 1)]


def valid_range(n_conv: int, n_transformer: int) -> str:
    """Human-readable valid layers of a model, for error messages."""
    if n_conv == 0:
        return f"T0-T{n_transformer} (or T, all); the model has no conv layers"
    return f"C1-C{n_conv}, T0-T{n_transformer} (or C, T, all)"


@dataclass(frozen=True)
class _Item:
    """One item of a layer specification: all layers, a kind, or a range within a kind."""

    raw: str
    kind: str | None = None  # None: all
    lo: int | None = None  # None: the whole kind
    hi: int | None = None
    single: bool = False

    def covers(self, name: str) -> bool:
        kind, number = _split(name)
        if self.kind is None:
            return True
        if kind != self.kind:
            return False
        return self.lo is None or self.lo <= number <= self.hi


def _items(specs: Sequence[str], param: str) -> list[_Item]:
    """The parsed items of layer specifications (syntax only, no model needed)."""
    items = []
    for spec in specs:
        for piece in str(spec).split(","):
            raw = piece.strip()
            token = raw.upper()
            if not token:
                raise LwaUsageError(f"{param}={str(spec)!r} has an empty item.", params=(param,))
            items.append(_item(token, raw, param))
    return items


def _item(token: str, raw: str, param: str) -> _Item:
    if token == "ALL":
        return _Item(raw)
    if token in KINDS:
        return _Item(raw, token)
    single = _NAME.fullmatch(token)
    if single:
        number = int(single.group(2))
        return _Item(raw, single.group(1), number, number, single=True)
    ranged = _RANGE.fullmatch(token)
    if ranged is None:
        raise LwaUsageError(f"{param}={raw!r} is not a layer name.", params=(param,))
    kind, first, kind2, last = ranged.groups()
    if kind2 and kind2 != kind:
        raise LwaUsageError(f"{param}={raw!r} mixes conv and transformer layers; give two "
                            "ranges, e.g. C1-C7,T0-T12.", params=(param,))
    lo, hi = int(first), int(last)
    if lo > hi:
        raise LwaUsageError(f"{param}={raw!r} is an empty range (start after end).",
                            params=(param,))
    return _Item(raw, kind, lo, hi)


def canonical_layer(name: str, *, param: str = "layer") -> str:
    """One layer name, any case (``t0`` → ``T0``); LwaUsageError naming `param` otherwise."""
    parsed = split_layer(str(name).strip().upper())
    if parsed is None:
        raise LwaUsageError(f"{param}={name!r} is not a layer name; expected e.g. T0 or C3.",
                            params=(param,))
    return f"{parsed[0]}{parsed[1]}"


def parse_layers(specs: Sequence[str], n_conv: int, n_transformer: int, *,
                 model: str | None = None, param: str = "layers") -> list[str]:
    """Expand layer specifications into a model's canonical layer names.

    Parameters
    ----------
    specs : layer specifications (each may be comma-separated); empty means all layers.
    n_conv, n_transformer : the model's number of conv blocks and transformer layers.
    model : model name used in error messages.
    param : the caller's parameter name, which error messages name.

    Returns
    -------
    Canonical, de-duplicated layer names (C1..Cn, then T0..TL order).

    Raises
    ------
    LwaUsageError : an unknown item or a layer outside the model's range.
    """
    names = layer_names(n_conv, n_transformer)
    if not specs:
        return names
    where = f" of {model}" if model else ""
    valid = valid_range(n_conv, n_transformer)
    try:
        items = _items(specs, param)
    except LwaUsageError as exc:
        raise LwaUsageError(f"{exc} Valid layers{where}: {valid}.", params=exc.params) from None
    wanted: set[str] = set()
    for item in items:
        if item.lo is not None:
            span = [f"{item.kind}{i}" for i in range(item.lo, item.hi + 1)]
            if any(name not in names for name in span):
                raise LwaUsageError(f"{param}={item.raw!r} is out of range; valid "
                                    f"layers{where}: {valid}.", params=(param,))
        wanted.update(name for name in names if item.covers(name))
    return [name for name in names if name in wanted]


def match_layers(specs: Sequence[str], available: Iterable[str], *,
                 param: str = "layer", what: str = "stored") -> list[str]:
    """Expand layer specifications against the layers that are there (e.g. stored results).

    A single name must be among `available`; a range, a kind or ``all`` selects the
    available layers it covers and must cover at least one.

    Returns
    -------
    The selected names of `available`, in canonical order.

    Raises
    ------
    LwaUsageError : a syntax error, or an item that matches nothing (naming `param` and
        listing the `available` layers as `what`).
    """
    present = sorted({name for name in available if split_layer(name)}, key=layer_sort_key)
    wanted: set[str] = set()
    missing = []
    for item in _items(specs, param):
        hits = [name for name in present if item.covers(name)]
        if not hits:
            missing.append(item.raw.upper() if item.single else item.raw)
        wanted.update(hits)
    if missing:
        raise LwaUsageError(f"{param}={', '.join(missing)!r}: no {what} results; {what}: "
                            f"{', '.join(present) or 'none'}", params=(param,))
    return [name for name in present if name in wanted]
