"""`lwa probe phone|word|speaker`: a probing classifier per layer, with MDL and baselines.

The inputs of each task (rows, labels, classes) come from `lwa_cli.pipeline.probe_data`; the
probe and its measures from `lwa_cli.analysis.probe`. One result per layer is stored through
`score_layers` (analysis ``probe-<task>``, score = accuracy on the evaluation rows), so a
rerun reuses current results. The MLP probe and ``--with-silence`` keep their own result
files (tags ``mlp``, ``sil``); ``--mdl`` adds the online codelength to the same record.
"""

from __future__ import annotations

from collections.abc import Sequence

from lwa_cli.analysis.probe import probe_layer
from lwa_cli.analysis.probe_linear import C_GRID
from lwa_cli.analysis.probe_mdl import BLOCKS, UNIFORM_MIX
from lwa_cli.analysis.probe_mlp import HIDDEN
from lwa_cli.choices import PROBE_KINDS, PROBE_TASKS
from lwa_cli.errors import LwaUsageError
from lwa_cli.pipeline.extract import resolve_device_name
from lwa_cli.pipeline.probe_data import (
    SPEAKER_EVAL_FRACTION,
    phone_inputs,
    speaker_inputs,
    word_inputs,
)
from lwa_cli.pipeline.results import ResultSpec, score_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace

MAX_TRAIN = 100_000


def probe_tag(probe: str, with_silence: bool) -> str | None:
    """Result file tag of the non-default variants (the MLP probe, phones with SIL)."""
    bits = ([] if probe == "linear" else [probe]) + (["sil"] if with_silence else [])
    return "-".join(bits) or None


def run_probe(ws: Workspace, task: str, *, model: str, layers: Sequence[str] | None = None,
              probe: str = "linear", mdl: bool = False, train_split: str = "train-clean",
              eval_split: str = "dev-clean", sample: str = "1", with_silence: bool = False,
              max_train: int | None = MAX_TRAIN, c_grid: Sequence[float] = C_GRID,
              hidden: int = HIDDEN, seed: int = 0, device: str = "cpu", force: bool = False,
              reporter: Reporter = SILENT) -> list[dict]:
    """Probe each layer for `task` and store one result per layer (see module doc).

    ``speaker`` splits the utterances of `eval_split`'s frame sample per speaker
    (`train_split` is not used). One layer's rows are in memory at a time.
    """
    if task not in PROBE_TASKS:
        raise LwaUsageError(f"probe task must be one of {', '.join(PROBE_TASKS)}, got {task!r}")
    if probe not in PROBE_KINDS:
        raise LwaUsageError(f"--probe must be one of {', '.join(PROBE_KINDS)}, got {probe!r}")
    if task != "speaker" and train_split == eval_split:
        raise LwaUsageError(f"--train-split and --eval-split are both {train_split}: the probe "
                            "would be scored on the rows it was trained on")
    if with_silence and task != "phone":
        raise LwaUsageError("--with-silence applies to `lwa probe phone` only")
    if max_train is not None and max_train < 0:
        raise LwaUsageError(f"--max-train must be >= 0 (0: all rows), got {max_train}")
    if not c_grid or any(not c > 0 for c in c_grid):
        raise LwaUsageError(f"--c-grid must hold positive numbers, got {list(c_grid)}")
    if hidden < 1:
        raise LwaUsageError(f"--hidden must be >= 1, got {hidden}")
    device = resolve_device_name(device)
    if task == "phone":
        data = phone_inputs(ws, model, layers, train_split=train_split, eval_split=eval_split,
                            sample=sample, with_silence=with_silence, max_train=max_train,
                            seed=seed, reporter=reporter)
    elif task == "word":
        data = word_inputs(ws, model, layers, train_split=train_split, eval_split=eval_split,
                           sample=sample, max_train=max_train, seed=seed)
    else:
        data = speaker_inputs(ws, model, layers, split=eval_split, sample=sample, seed=seed)
    try:
        splits = {"train_split": None if task == "speaker" else train_split,
                  "eval_split": eval_split}
        options = {"probe": probe, "mdl": mdl, "seed": seed, "max_train": max_train or None,
                   **splits,
                   "c_grid": sorted(float(c) for c in c_grid) if probe == "linear" else None,
                   "hidden": hidden if probe == "mlp" else None,
                   "mdl_blocks": list(BLOCKS) if mdl else None,
                   "mdl_uniform_mix": UNIFORM_MIX if mdl else None,
                   "control": task == "word",
                   "speaker_eval_fraction": SPEAKER_EVAL_FRACTION if task == "speaker"
                   else None}
        fields = {"probe": probe, "mdl": mdl, "seed": seed, **splits}
        if task == "phone":  # only phones have the option (absent: no tag bit, no variant)
            options["with_silence"] = fields["with_silence"] = with_silence
        spec = ResultSpec(f"probe-{task}", model, eval_split, sample, data.inputs, options,
                          tag=probe_tag(probe, with_silence), fields=fields)

        def score(layer: str) -> dict:
            d = data.load(layer)
            res = probe_layer(d.train_x, d.train_y, d.eval_x, d.eval_y, d.classes,
                              probe=probe, c_grid=c_grid, mdl=mdl,
                              control_types=d.control_types, seed=seed, device=device,
                              hidden=hidden)
            return {"score": res.accuracy, **res.to_dict(), **d.counts, "device": device}

        return score_layers(ws, spec, data.layers, score, force=force, reporter=reporter)
    finally:
        data.close()
