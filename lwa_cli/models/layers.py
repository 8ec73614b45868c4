"""Layer names and the one `--layer` parser every command uses.

Layers are ``C1``…``Cn`` (conv blocks) and ``T0``…``TL`` (transformer input and layer
outputs). A layer specification is a comma-separated list of items: a single layer
(``T4``, ``c3``), a range within one kind (``T0-T6``, ``T2-6``, ``C1-C3``), a whole kind
(``C``, ``T``) or ``all``. Results are always in canonical order without duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lwa_cli.errors import LwaUsageError

_SINGLE = re.compile(r"([CT])(\d+)")
_RANGE = re.compile(r"([CT])(\d+)-([CT]?)(\d+)")


def layer_names(n_conv: int, n_transformer: int) -> list[str]:
    """All layer names of a model in canonical order: C1..Cn, then T0..TL."""
    return [f"C{i}" for i in range(1, n_conv + 1)] + [f"T{i}" for i in range(n_transformer + 1)]


def is_conv(name: str) -> bool:
    """Whether ``name`` is a conv layer (``C3``) rather than a transformer one (``T3``)."""
    return name.startswith("C")


def layer_index(name: str) -> int:
    """The number in a canonical layer name (``C3`` → 3, ``T0`` → 0)."""
    return int(name[1:])


def valid_range(n_conv: int, n_transformer: int) -> str:
    """Human-readable valid layers of a model, for error messages."""
    if n_conv == 0:
        return f"T0-T{n_transformer} (or T, all); the model has no conv layers"
    return f"C1-C{n_conv}, T0-T{n_transformer} (or C, T, all)"


def parse_layers(
    specs: Sequence[str], n_conv: int, n_transformer: int, *, model: str | None = None
) -> list[str]:
    """Expand ``--layer`` values into canonical layer names.

    Parameters
    ----------
    specs : values of ``--layer`` (repeatable, each may be comma-separated); an empty
        sequence means all layers.
    n_conv, n_transformer : the model's number of conv blocks and transformer layers.
    model : model name used in error messages.

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
    known = set(names)
    wanted: set[str] = set()
    where = f" of {model}" if model else ""
    valid = valid_range(n_conv, n_transformer)
    for spec in specs:
        for item in str(spec).split(","):
            token = item.strip().upper()
            if not token:
                raise LwaUsageError(
                    f"--layer has an empty item in {spec!r}; valid layers{where}: {valid}."
                )
            wanted.update(_expand(token, item.strip(), names, known, where, valid))
    return [name for name in names if name in wanted]


def _expand(
    token: str, raw: str, names: list[str], known: set[str], where: str, valid: str
) -> list[str]:
    """Layer names of one upper-cased ``--layer`` item."""
    if token == "ALL":
        return names
    if token in ("C", "T"):
        return [n for n in names if n[0] == token]
    single = _SINGLE.fullmatch(token)
    if single:
        name = f"{single.group(1)}{int(single.group(2))}"
        if name not in known:
            raise LwaUsageError(f"--layer {raw} is out of range; valid layers{where}: {valid}.")
        return [name]
    ranged = _RANGE.fullmatch(token)
    if ranged:
        kind, first, kind2, last = ranged.groups()
        if kind2 and kind2 != kind:
            raise LwaUsageError(
                f"--layer {raw} mixes conv and transformer layers; give two ranges, "
                f"e.g. C1-C7,T0-T12. Valid layers{where}: {valid}."
            )
        lo, hi = int(first), int(last)
        if lo > hi:
            raise LwaUsageError(f"--layer {raw} is an empty range (start after end).")
        span = [f"{kind}{i}" for i in range(lo, hi + 1)]
        if any(n not in known for n in span):
            raise LwaUsageError(f"--layer {raw} is out of range; valid layers{where}: {valid}.")
        return span
    raise LwaUsageError(f"--layer {raw} is not a layer name; valid layers{where}: {valid}.")
