"""`lwa similarity`: layer × layer similarity maps between two models (or one model and
itself), on the rows both feature files share.

Rows are paired as follows:

- ``--span frame``: utterance by utterance, each cut to the shorter of its two frame counts
  (`pipeline.views.aligned_frames`). Both models must have the same frame period: models at
  different frame rates are compared on ``phone``, ``word`` or ``utt`` spans (mean-pooled
  segments of the same sample), never on resampled frames.
- ``phone``/``word``/``utt``: the segment rows of the same sample, which must be the same
  segments in the same order in both files (checked).

Results are stored one per (layer of A, layer of B, measure) through
`pipeline.results.score_layers`: analysis ``similarity``, model A, ``layer`` the layer of A,
and the tag ``vs-<B>-<layer of B>-<measure>[-<span>]`` (the span only when not ``frame``;
from the options, `SimilarityOptions`, by the analysis registry),
e.g. ``results/similarity/demo_wav2vec2/dev-clean/sample-1/T3.vs-demo_hubert-T5-cka.json``.
Each record names ``other_model``, ``other_layer`` and ``metric`` (the measure) and ``span``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.cca import cross_validated_pwcca
from lwa_cli.analysis.similarity import FEATURE_MEASURES, check_options, similarity_map
from lwa_cli.errors import LwaError, LwaUsageError, param_error
from lwa_cli.pipeline.inputs import open_features, resolve_device_name, select_layers
from lwa_cli.pipeline.results import (
    UNSET,
    ResultSpec,
    features_input,
    record_field,
    score_layers,
)
from lwa_cli.pipeline.views import RowSubset, aligned_frames
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile

ANALYSIS = "similarity"
SPANS = ("frame", "phone", "word", "utt")


@dataclass(frozen=True, kw_only=True)
class SimilarityOptions:
    """The options that define one pair's result: B's model and layer, the measure, the span,
    and the settings of that measure (`UNSET`: the measure has no such setting)."""

    other_model: str = record_field()
    other_layer: str = record_field()
    measure: str  # stored in records as ``metric``
    span: str = record_field()
    seed: object = UNSET  # rsa, mknn, pwcca
    rsa_rows: object = UNSET
    knn_rows: object = UNSET  # mknn
    k: object = UNSET  # mknn
    alpha: object = UNSET  # procrustes

    @classmethod
    def of(cls, other_model: str, other_layer: str, measure: str, span: str, *, seed: int,
           rsa_rows: int, knn_rows: int, k: int, alpha: float) -> SimilarityOptions:
        """The options of one measure, only the settings that change its number."""
        return cls(other_model=other_model, other_layer=other_layer, measure=measure, span=span,
                   seed=seed if measure in ("rsa", "mknn", "pwcca") else UNSET,
                   rsa_rows=rsa_rows if measure == "rsa" else UNSET,
                   knn_rows=knn_rows if measure == "mknn" else UNSET,
                   k=k if measure == "mknn" else UNSET,
                   alpha=alpha if measure == "procrustes" else UNSET)


def _frame_period(f: FeatureFile) -> float | None:
    spec = f.meta.get("spec") or {}
    rate = spec.get("frame_rate_hz")
    return 1.0 / float(rate) if rate else None


def _paired_views(fa: FeatureFile, fb: FeatureFile | None, la: list[str], lb: list[str],
                  span: str) -> tuple[list, list | None]:
    """Row-aligned views of every layer of A and B (B None: A against itself)."""
    if fb is None:
        return [fa.features(name) for name in la], None
    if span == "frame":
        pa, pb = _frame_period(fa), _frame_period(fb)
        if pa and pb and abs(pa - pb) > 1e-9:
            raise LwaUsageError(f"{fa.path.name} has {pa * 1000:g} ms frames and "
                                f"{fb.path.name} {pb * 1000:g} ms: pair models of different "
                                "frame rates on segments (`span` phone, word or utt)",
                                params=("span",))
        x0, y0 = aligned_frames(fa, f"features/{la[0]}", fb, f"features/{lb[0]}")
        return ([RowSubset(fa.features(n), x0.index) for n in la],
                [RowSubset(fb.features(n), y0.index) for n in lb])
    ok = (np.array_equal(fa.units(), fb.units())
          and fa.features(la[0]).shape[0] == fb.features(lb[0]).shape[0])
    if ok and span != "utt":
        try:
            ok = np.array_equal(fa.rows("label"), fb.rows("label"))
        except KeyError:  # a file without segment labels: units and counts must do
            pass
    if not ok:
        raise LwaError(f"{fa.path.name} and {fb.path.name} do not hold the same {span} rows; "
                       "extract both from the same sample")
    return [fa.features(n) for n in la], [fb.features(n) for n in lb]


def run_similarity(ws: Workspace, *, model: str, other_model: str, split: str = "dev-clean",
                   sample: str = "1", layers: Sequence[str] | None = None,
                   other_layers: Sequence[str] | None = None,
                   measures: Sequence[str] = ("cka",), span: str = "frame",
                   rsa_rows: int = 2000, knn_rows: int = 2000, k: int = 10,
                   alpha: float = 1.0, seed: int = 0, device: str = "auto",
                   force: bool = False, reporter: Reporter = SILENT) -> list[dict]:
    """Score every (layer of `model`, layer of `other_model`) pair with each measure.

    A stored result is reused while its provenance matches; the shared measures are computed
    together (one pass, every pair) as soon as one of their pairs is missing or stale, and
    ``pwcca`` pair by pair, only for the pairs that are. Returns one record per
    pair and measure, measure by measure, B's layers outer, A's layers inner.
    """
    if span not in SPANS:
        raise param_error("span", span, f"is not one of {', '.join(SPANS)}")
    measures = check_options(measures, rsa_rows=rsa_rows, knn_rows=knn_rows, k=k, alpha=alpha)
    device = resolve_device_name(device)
    same = other_model == model
    fa = open_features(ws, model, split, sample, span)
    fb = None
    try:
        fb = fa if same else open_features(ws, other_model, split, sample, span)
        la = select_layers(fa, layers)
        lb = select_layers(fb, other_layers, param="other_layers")
        inputs = {"features": features_input(ws, fa)}
        if not same:
            inputs["other_features"] = features_input(ws, fb)
        computed: dict[str, np.ndarray] = {}
        views: dict[str, list] = {}
        shared_measures = [m for m in measures if m != "pwcca"]

        def pair_views() -> tuple[list, list]:
            if not views:
                shared = same and la == lb
                xs, ys = _paired_views(fa, None if shared else fb, la, lb, span)
                views.update(x=xs, y=xs if ys is None else ys, shared=[shared])
                reporter.info(f"similarity map {model} × {other_model}: {len(la)} × "
                              f"{len(lb)} layers, {xs[0].shape[0]} rows")
            return views["x"], views["y"]

        def value(measure: str, i: int, j: int) -> float:
            xs, ys = pair_views()
            if measure == "pwcca":  # per pair, only for the pairs not stored
                return cross_validated_pwcca(xs[i], ys[j], None, seed=seed, metric="pwcca",
                                             device=device,
                                             name=f"layers {la[i]} × {lb[j]}").score
            if not computed:  # every shared measure at once, at the first pair that needs one
                computed.update(similarity_map(
                    xs, None if views["shared"][0] else ys, shared_measures,
                    rsa_rows=rsa_rows, knn_rows=knn_rows, k=k, alpha=alpha, seed=seed))
            return float(computed[measure][i, j])

        records = []
        for measure in measures:
            for j, other in enumerate(lb):
                options = SimilarityOptions.of(other_model, other, measure, span, seed=seed,
                                               rsa_rows=rsa_rows, knn_rows=knn_rows, k=k,
                                               alpha=alpha)
                spec = ResultSpec.build(ANALYSIS, model, split, sample, inputs, options,
                                        {"metric": measure})

                def score(layer: str, measure=measure, j=j) -> dict:
                    result = value(measure, la.index(layer), j)
                    n = int(views["x"][0].shape[0])
                    rows = n if measure in FEATURE_MEASURES or measure == "pwcca" else \
                        min(n, rsa_rows if measure == "rsa" else knn_rows)
                    return {"score": result, "n": n, "rows_used": rows}

                records += score_layers(ws, spec, la, score, force=force, reporter=reporter)
        return records
    finally:
        fa.close()
        if fb is not None and fb is not fa:
            fb.close()

