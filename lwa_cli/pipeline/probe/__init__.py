"""`lwa probe phone|word|speaker`: a probing classifier per layer, with MDL and baselines.

The inputs of each task (rows, labels, classes) come from `lwa_cli.pipeline.probe.data`; the
probe and its measures from `lwa_cli.analysis.probe`. One result per layer is stored through
`score_layers` (analysis ``probe-<task>``, score = accuracy on the evaluation rows), so a
rerun reuses current results. The MLP probe and ``--with-silence`` keep their own result
files (tags ``mlp``, ``sil``); ``--mdl`` adds the online codelength to the same record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lwa_cli.analysis.probe import probe_layer
from lwa_cli.analysis.probe.linear import C_GRID
from lwa_cli.analysis.probe.mdl import BLOCKS, UNIFORM_MIX
from lwa_cli.analysis.probe.mlp import HIDDEN
from lwa_cli.choices import PROBE_KINDS, PROBE_TASKS
from lwa_cli.errors import LwaUsageError, param_error
from lwa_cli.pipeline.inputs import resolve_device_name
from lwa_cli.pipeline.probe.data import (
    SPEAKER_EVAL_FRACTION,
    phone_inputs,
    speaker_inputs,
    word_inputs,
)
from lwa_cli.pipeline.results import UNSET, ResultSpec, Unset, record_field, score_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace

MAX_TRAIN = 100_000


@dataclass(frozen=True, kw_only=True)
class ProbeOptions:
    """The options that define a probe result (the settings of another probe are None)."""

    probe: str = record_field()
    mdl: bool = record_field()
    seed: int = record_field()
    max_train: int | None
    train_split: str | None = record_field()  # None for the speaker task
    eval_split: str = record_field()
    c_grid: list[float] | None  # linear probe only
    hidden: int | None  # MLP probe only
    mdl_blocks: list[float] | None
    mdl_uniform_mix: float | None
    control: bool
    speaker_eval_fraction: float | None
    with_silence: bool | Unset = record_field()  # phone only (UNSET elsewhere: no tag bit)

    @classmethod
    def of(cls, task: str, probe: str, mdl: bool, seed: int, max_train: int | None,
           train_split: str, eval_split: str, c_grid: Sequence[float], hidden: int,
           with_silence: bool) -> ProbeOptions:
        return cls(probe=probe, mdl=mdl, seed=seed, max_train=max_train or None,
                   train_split=None if task == "speaker" else train_split,
                   eval_split=eval_split,
                   c_grid=sorted(float(c) for c in c_grid) if probe == "linear" else None,
                   hidden=hidden if probe == "mlp" else None,
                   mdl_blocks=list(BLOCKS) if mdl else None,
                   mdl_uniform_mix=UNIFORM_MIX if mdl else None,
                   control=task == "word",
                   speaker_eval_fraction=SPEAKER_EVAL_FRACTION if task == "speaker" else None,
                   with_silence=with_silence if task == "phone" else UNSET)


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
        raise param_error("task", task, f"is not one of {', '.join(PROBE_TASKS)}")
    if probe not in PROBE_KINDS:
        raise param_error("probe", probe, f"is not one of {', '.join(PROBE_KINDS)}")
    if task != "speaker" and train_split == eval_split:
        raise param_error("train_split", train_split, "equals `eval_split`: the probe would "
                          "be scored on the rows it was trained on", also=("eval_split",))
    if with_silence and task != "phone":
        raise LwaUsageError("`with_silence` applies to the phone task only",
                            params=("with_silence",))
    if max_train is not None and max_train < 0:
        raise param_error("max_train", max_train, "must be >= 0 (0: all rows)")
    if not c_grid or any(not c > 0 for c in c_grid):
        raise param_error("c_grid", list(c_grid), "must hold positive numbers")
    if hidden < 1:
        raise param_error("hidden", hidden, "must be >= 1")
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
        options = ProbeOptions.of(task, probe, mdl, seed, max_train, train_split,
                                  eval_split, c_grid, hidden, with_silence)
        spec = ResultSpec.build(f"probe-{task}", model, eval_split, sample, data.inputs,
                                options)

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
