"""Run the ZeroSpeech reference ABX (``zerospeech-libriabx2``) and lwa on the same files.

The reference imports torchaudio only for its CPC feature loader; a stub module is put in
``sys.modules`` before importing it (torchaudio has no build for the torch used here).
Used by the tests and by ``benchmarks/abx.py``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import types
from pathlib import Path

import numpy as np

from lwa_cli.analysis.abx import abx_score
from lwa_cli.data.abx_items import AbxItems, tokens_for, write_item_file


def import_oracle():
    """`zrc_abx2.eval_ABX` with a stub torchaudio (the tests need it: no skip when absent).

    The stub leaves ``sys.modules`` once the reference is imported: a module without a spec
    there breaks ``importlib.util.find_spec`` (transformers' availability checks).
    """
    stub = types.ModuleType("torchaudio")
    added = sys.modules.setdefault("torchaudio", stub) is stub
    try:
        from zrc_abx2 import eval_ABX
    except ImportError as exc:
        raise ImportError("the ABX test oracle is missing: `make install` installs it (pip "
                          "install --no-deps zerospeech-libriabx2==0.9.8)") from exc
    finally:
        if added:
            del sys.modules["torchaudio"]
    return eval_ABX


def write_inputs(root: Path, features: dict[str, np.ndarray], items: AbxItems) -> Path:
    """One ``<file>.npy`` per utterance under root/feats and root/items.item."""
    (root / "feats").mkdir(parents=True, exist_ok=True)
    for name, arr in features.items():
        np.save(root / "feats" / f"{name}.npy", arr.astype(np.float32))
    return write_item_file(items, root / "items.item")


def oracle_scores(root: Path, *, speaker: str, context: str, distance: str, pooling: str,
                  frame_period: float, max_size_group: int, max_x_across: int,
                  seed: int) -> dict[str, float]:
    """The reference's scores (fractions) keyed ``"<speaker>-<context>"``."""
    eval_abx = import_oracle()
    args = eval_abx.EvalArgs(str(root / "feats"), str(root / "items.item"),
                             file_extension=".npy", feature_size=frame_period,
                             speaker_mode=speaker, context_mode=context,
                             distance_mode="cosine" if distance == "angular" else distance,
                             max_size_group=max_size_group, max_x_across=max_x_across,
                             seed=seed, pooling=pooling)
    with contextlib.redirect_stdout(io.StringIO()):
        res = eval_abx.EvalABX().eval_abx(args)
    return {f"{r['abx-s-condition']}-{r['abx-c-condition']}": r["score"] for r in res}


def reference_file_order(root: Path) -> list[str]:
    """The order in which the reference reads the feature files (``os.walk``)."""
    eval_abx = import_oracle()
    return [name for name, _ in eval_abx.EvalABX()._find_all_files(str(root / "feats"), ".npy")]


def lwa_score(root: Path, features: dict[str, np.ndarray], items: AbxItems, *, speaker: str,
              context: str, distance: str, pooling: str, frame_period: float,
              max_size_group: int, max_x_across: int, seed: int,
              device: str = "cpu") -> float:
    """lwa's error rate (fraction) on the same inputs, files in the reference's order."""
    from lwa_cli.data.abx_items import read_item_file

    items = read_item_file(root / "items.item")  # the rounded times the reference reads
    order = [f for f in reference_file_order(root) if f in features]
    offsets = np.cumsum([0] + [len(features[f]) for f in order])
    table = tokens_for(items, order, {f: len(features[f]) for f in order},
                       {f: int(o) for f, o in zip(order, offsets, strict=False)}, frame_period)
    frames = np.concatenate([features[f] for f in order]).astype(np.float32, copy=False)
    return abx_score(frames, table.tokens, speaker=speaker, context=context, distance=distance,
                     pooling=pooling, max_size_group=max_size_group,
                     max_x_across=max_x_across, seed=seed, device=device).error_rate
