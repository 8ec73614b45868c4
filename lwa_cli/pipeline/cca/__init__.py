"""`lwa cca EXPERIMENT`: cross-validated PWCCA of each layer against a property (SPEC §6).

Experiments and their views (x = layer features, y = property):

- ``mel``: C1…C7 (``frame-local``) vs the aligned log-mel; T1…TL (``frame``) vs the log-mel
  subsampled to 20 ms (the ``mel/C7`` frames of ``frame-local``), utterance by utterance;
  models without conv layers pair T1…TL with the log-mel their frame file holds at their
  frame rate (pipeline.cca.mel).
- ``intra``: each T layer vs the base layer (default T0) of the same model.
- ``inter``: the same layer of `model` and `other_model` (same frame sample).
- ``phone`` / ``word``: segment features vs one-hot codes of their labels.
- ``agwe`` / ``glove``: word segment features vs that embedding map (segments whose word has
  no vector are dropped and counted).
- ``semantic`` / ``syntactic``: all-words features vs the word's attribute row (see
  pipeline.cca.targets: tokens without a row dropped and counted, optional per-word cap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.cca import METRICS, cross_validated_pwcca
from lwa_cli.analysis.cca.inputs import check_fraction
from lwa_cli.analysis.embeddings import lookup, one_hot
from lwa_cli.choices import ATTRIBUTE_MAPS, CCA_EXPERIMENTS
from lwa_cli.data.phones import PHONES_39
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.models.layers import (
    canonical_layer,
    is_conv,
    is_transformer,
    layer_names,
    parse_layers,
)
from lwa_cli.pipeline.cca.mel import mel_layers, mel_views, without_conv_layers
from lwa_cli.pipeline.cca.targets import attribute_view
from lwa_cli.pipeline.inputs import open_features, resolve_device_name, select_layers
from lwa_cli.pipeline.results import (
    UNSET,
    ResultSpec,
    Unset,
    artefact_input,
    derived_input,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.pipeline.views import RowSubset, aligned_frames
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.embeddings import embeddings_fingerprint, has_embeddings, load_embeddings
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.provenance import array_digest

EXPERIMENTS = CCA_EXPERIMENTS
TOKEN_SPAN = {"phone": "phone", "word": "word", "agwe": "word", "glove": "word",
              "semantic": "allwords", "syntactic": "allwords"}


@dataclass(frozen=True, kw_only=True)
class CCAOptions:
    """The options that define a CCA result (`UNSET`: does not apply to the experiment)."""

    metric: str = record_field()
    mean_score: bool = record_field()
    seed: int = record_field()
    null_tol: float | None = record_field()
    svd_keep: float | Unset  # svcca only
    other_model: str | Unset = record_field()  # inter only
    base_layer: str | Unset = record_field()  # intra only
    instance_cap: int | None | Unset  # semantic/syntactic only (stored with the targets)

    @classmethod
    def of(cls, experiment: str, *, metric: str, mean_score: bool, seed: int,
           null_tol: float | None, svd_keep: float, other_model: str | None,
           base_layer: str, instance_cap: int | None) -> CCAOptions:
        """The options of a run of `experiment` (those that do not apply left `UNSET`)."""
        return cls(metric=metric, mean_score=mean_score, seed=seed, null_tol=null_tol,
                   svd_keep=svd_keep if metric == "svcca" else UNSET,
                   other_model=other_model if experiment == "inter" else UNSET,
                   base_layer=base_layer if experiment == "intra" else UNSET,
                   instance_cap=instance_cap if experiment in ATTRIBUTE_MAPS else UNSET)


STABLE_NULL_TOL = 1e-12
"""Relative eigenvalue threshold of the stable CCA for one-hot targets: their null
direction sits at ~1e-16 of the largest eigenvalue, real low-variance signal (golden case c)
at ~5e-11, so 1e-12 separates the two."""


def resolve_null_tol(value: float | str | None, experiment: str) -> float | None:
    """The null-direction threshold a run uses (see `run_cca`)."""
    if value is None or value == "off":
        return None
    if value == "auto":
        return STABLE_NULL_TOL if experiment in ("phone", "word") else None
    try:
        tol = float(value)
    except (TypeError, ValueError):
        raise param_error("null_tol", value, "must be auto, off or a number") from None
    check_fraction("null_tol", tol, upper_open=True)
    return tol


def _token_targets(ws: Workspace, experiment: str, labels: np.ndarray,
                   reporter: Reporter) -> tuple[np.ndarray, np.ndarray, str, dict]:
    """Property view for token experiments: (targets, kept-row mask, source, provenance)."""
    if experiment in ("phone", "word"):
        name = f"one-hot-{experiment}"
        if has_embeddings(ws, name):
            vocab, vectors = load_embeddings(ws, name)
            ref = artefact_input(ws, "embeddings", ws.embeddings_path(name),
                                 embeddings_fingerprint(ws, name))
        else:
            vocab = np.array(PHONES_39 if experiment == "phone" else sorted(set(labels)))
            vectors = one_hot(vocab.tolist())
            name = "one-hot (labels of the sample)"
            ref = derived_input(array_digest(vocab), name)
    else:
        vocab, vectors = load_embeddings(ws, experiment)
        name = experiment
        ref = artefact_input(ws, "embeddings", ws.embeddings_path(name),
                             embeddings_fingerprint(ws, name))
    targets, found = lookup(labels.tolist(), vocab.tolist(), vectors)
    dropped = int((~found).sum())
    if dropped:
        reporter.warn(f"{dropped} of {len(labels)} segments have no {name} vector and were "
                      "dropped")
    if not found.any():
        raise LwaError(f"no segment label has a {name} vector")
    return np.asarray(targets, dtype=np.float64), found, name, ref


def _views(experiment: str, layer: str, files: dict[str, FeatureFile], base_layer: str):
    """(x, y, labels) of one layer; x/y are row-sliceable and streamed by the CCA core."""
    if experiment == "mel":
        if "local" not in files:  # no conv layers: the frame file holds the mel (cca_mel)
            return (*mel_views(files["frame"], layer), None)
        local = files["local"]
        if is_conv(layer):
            return local.features(layer), local.mel(layer), None
        n_conv = len(local.meta["spec"]["conv_layers"])
        last = layer_names(n_conv, 0)[n_conv - 1]  # the last, 20 ms conv layer (C7; Whisper C2)
        if f"mel/{last}" not in set(local.datasets()):
            raise LwaError(f"cca mel of T layers pairs them with the 20 ms log-mel stored with "
                           f"{last}: extract it with `lwa extract ... --span frame --rep local "
                           f"--layer {last}`")
        x, y = aligned_frames(files["frame"], f"features/{layer}", local, f"mel/{last}")
        return x, y, None
    if experiment == "intra":
        f = files["frame"]
        return f.features(layer), f.features(base_layer), None
    if experiment == "inter":
        x, y = aligned_frames(files["frame"], f"features/{layer}", files["other"],
                              f"features/{layer}")
        return x, y, None
    f = files["tokens"]
    x = f.features(layer)
    keep = files["keep"]
    return (x if keep.all() else RowSubset(x, np.flatnonzero(keep))), files["targets"], \
        files["labels"][keep]


def _sources(files: dict) -> str:
    return ", ".join(str(f.path) for f in files.values() if isinstance(f, FeatureFile))


#: Cross-validation trials and ε candidates per trial of `cross_validated_pwcca`'s defaults:
#: the units of work a layer's progress counts.
CV_TRIALS, CV_CANDIDATES = 3, 6


def run_cca(ws: Workspace, experiment: str, *, model: str, split: str = "dev-clean",
            sample: str = "1", layers: Sequence[str] | None = None, base_layer: str = "T0",
            other_model: str | None = None, metric: str = "pwcca", mean_score: bool = False,
            seed: int = 0, svd_keep: float = 0.99, null_tol: float | str | None = "auto",
            instance_cap: int | None = None, device: str = "auto", force: bool = False,
            reporter: Reporter = SILENT) -> list[dict]:
    """Score each layer and store one result per layer.

    `null_tol` drops numerically null directions of each view before whitening (see
    analysis.cca.fit): ``"auto"`` uses `STABLE_NULL_TOL` for the one-hot targets of
    ``phone``/``word`` (singular by construction) and the reference's exact computation
    elsewhere; None or ``"off"`` is always the reference's; a number is used as given.
    `instance_cap` (semantic/syntactic only) keeps at most that many seeded random tokens
    of each word.

    A stored result is reused while its provenance (input files and options) matches the
    request, and recomputed otherwise (see pipeline.results). Returns every requested
    layer's record, with ``cached`` telling which were reused.
    """
    if experiment not in EXPERIMENTS:
        raise LwaUsageError(f"unknown CCA experiment {experiment!r}; one of "
                            f"{', '.join(EXPERIMENTS)}")
    if metric not in METRICS:
        raise param_error("metric", metric, f"is not one of {', '.join(METRICS)}")
    if experiment == "inter" and not other_model:
        raise LwaUsageError("cca inter needs `other_model`", params=("other_model",))
    if instance_cap is not None and experiment not in ATTRIBUTE_MAPS:
        raise LwaUsageError("`instance_cap` applies to cca semantic and syntactic only",
                            params=("instance_cap",))
    base_layer = canonical_layer(base_layer, param="base_layer")
    device = resolve_device_name(device)
    null_tol = resolve_null_tol(null_tol, experiment)
    files: dict = {}
    try:
        names = _open_inputs(ws, experiment, model, split, sample, other_model, layers,
                             base_layer, files, reporter, instance_cap=instance_cap, seed=seed)
        inputs = {role: features_input(ws, f) for role, f in files.items()
                  if isinstance(f, FeatureFile)}
        options = CCAOptions.of(experiment, metric=metric, mean_score=mean_score, seed=seed,
                                null_tol=null_tol, svd_keep=svd_keep, other_model=other_model,
                                base_layer=base_layer, instance_cap=instance_cap)
        extra: dict = {}
        if "targets_ref" in files:
            inputs["targets"] = files["targets_ref"]
            extra.update(targets=files["targets_source"],
                         segments_dropped=int((~files["keep"]).sum()))
        if "target_fields" in files:  # attribute maps: dropped vs capped tokens, the cap
            extra.update(files["target_fields"],
                         segments_dropped=files["target_fields"]["tokens_dropped"])
        spec = ResultSpec.build(f"cca-{experiment}", model, split, sample, inputs, options,
                                extra)

        def score(name: str, progress) -> dict:
            x, y, labels = _views(experiment, name, files, base_layer)
            res = cross_validated_pwcca(x, y, labels, seed=seed, metric=metric,
                                        mean_score=mean_score, svd_keep=svd_keep,
                                        null_tol=null_tol, device=device,
                                        name=f"layer {name} ({_sources(files)})",
                                        progress=progress)
            return {"score": res.score, "n": res.n, "dims": [res.dx, res.dy],
                    "dims_kept": res.dims_kept, "chosen_eps": res.chosen_eps,
                    "trial_scores": res.trial_scores, "trials_skipped": len(res.skipped),
                    "svd_keep": res.svd_keep, "null_dims_dropped": res.null_dims_dropped,
                    "n_directions": res.n_directions}

        work = (CV_TRIALS, "CV trial") if metric == "cka" else \
            (CV_TRIALS * CV_CANDIDATES, "CV candidate")
        return score_layers(ws, spec, names, score, force=force, reporter=reporter, work=work)
    finally:
        for f in files.values():
            if isinstance(f, FeatureFile):
                f.close()


def _open_inputs(ws: Workspace, experiment: str, model: str, split: str, sample: str,
                 other_model: str | None, layers: Sequence[str] | None, base_layer: str,
                 files: dict, reporter: Reporter, *, instance_cap: int | None = None,
                 seed: int = 0) -> list[str]:
    """Open the feature files an experiment needs (into `files`); return the layers to score."""
    if experiment == "mel":
        if without_conv_layers(ws, model, split, sample):  # AV-HuBERT: see pipeline.cca.mel
            files["frame"] = open_features(ws, model, split, sample, "frame")
            return mel_layers(files["frame"], layers)
        local = files["local"] = open_features(ws, model, split, sample, "frame", "local")
        spec = local.meta["spec"]
        n_layers = spec["n_layers"]
        wanted = parse_layers(list(layers), len(spec["conv_layers"]), n_layers) if layers \
            else local.layers + [f"T{i}" for i in range(1, n_layers + 1)]
        conv = [n for n in wanted if is_conv(n)]
        conv = select_layers(local, conv) if conv else []
        t_layers = [n for n in wanted if is_transformer(n)]
        if t_layers:
            try:
                files["frame"] = open_features(ws, model, split, sample, "frame")
            except LwaError as exc:
                if layers:
                    raise
                reporter.warn(f"scoring conv layers only: {exc}")
                return conv
            t_layers = select_layers(files["frame"], t_layers) if layers else \
                [n for n in files["frame"].layers if is_transformer(n) and n != "T0"]
        return conv + t_layers
    if experiment in ("intra", "inter"):
        files["frame"] = open_features(ws, model, split, sample, "frame")
        if experiment == "inter":
            files["other"] = open_features(ws, other_model, split, sample, "frame")
        names = select_layers(files["frame"], layers)
        if experiment == "intra":
            if base_layer not in files["frame"].layers:
                raise param_error("base_layer", base_layer,
                                  f"is not in {files['frame'].path.name}")
            names = [n for n in names if n != base_layer and is_transformer(n)]
        elif layers:
            select_layers(files["other"], names)
        else:  # models of different depths: the layers both have
            names = [n for n in names if n in set(files["other"].layers)]
        return names
    files["tokens"] = open_features(ws, model, split, sample, TOKEN_SPAN[experiment])
    labels = files["tokens"].rows("label")
    if experiment in ATTRIBUTE_MAPS:
        view = attribute_view(ws, experiment, labels, instance_cap=instance_cap, seed=seed,
                              reporter=reporter)
        files.update(labels=labels, targets=view.targets, keep=view.keep,
                     targets_source=experiment, targets_ref=view.ref, target_fields=view.fields)
        return select_layers(files["tokens"], layers)
    targets, keep, source, ref = _token_targets(ws, experiment, labels, reporter)
    files.update(labels=labels, targets=targets, keep=keep, targets_source=source,
                 targets_ref=ref)
    return select_layers(files["tokens"], layers)
