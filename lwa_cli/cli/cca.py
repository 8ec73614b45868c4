"""`lwa cca EXPERIMENT`: layer-wise CCA experiments."""

from __future__ import annotations

import typer

from lwa_cli.choices import ATTRIBUTE_MAPS, CCA_EXPERIMENTS, CCA_METRICS
from lwa_cli.cli.analysis import show_records
from lwa_cli.cli.common import (
    DEVICE_OPT,
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    complete_from,
    complete_layer,
    complete_model,
    model_option,
    seed_option,
    split_option,
    state,
)

EXPERIMENTS = CCA_EXPERIMENTS
METRICS = CCA_METRICS


def cca(ctx: typer.Context,
        experiment: str = typer.Argument(..., autocompletion=complete_from(EXPERIMENTS),
                                         help=" | ".join(EXPERIMENTS)),
        model: str = model_option(),
        split: str = split_option("auto", "Split of the sample to score (auto: train-clean for "
                                          "semantic/syntactic, else dev-clean)."),
        sample: str = SAMPLE_OPT,
        layer: list[str] = LAYER_OPT,
        base_layer: str = typer.Option("T0", "--base-layer", autocompletion=complete_layer,
                                       help="Reference layer of `intra`."),
        other_model: str = typer.Option(None, "--other-model", autocompletion=complete_model,
                                        help="Second model of `inter`."),
        metric: str = typer.Option("pwcca", "--metric", autocompletion=complete_from(METRICS),
                                   help="pwcca (the reference's weighting) | pwcca-morcos "
                                        "(Morcos et al.) | svcca (Raghu et al.: SVD, then "
                                        "CCA) | mean-cca (mean ρ) | cka (linear CKA)."),
        svd_keep: float = typer.Option(0.99, "--svd-keep", min=0.0, max=1.0,
                                       help="svcca: fraction of each view's variance its SVD "
                                            "step keeps."),
        null_tol: str = typer.Option("auto", "--null-tol",
                                     help="Drop null directions below this relative eigenvalue "
                                          "before whitening: auto (1e-12 for phone/word "
                                          "one-hot targets), off (the reference's exact "
                                          "computation), or a number."),
        mean_score: bool = typer.Option(False, "--mean-score",
                                        help="Average the x- and y-side PWCCA."),
        instance_cap: int = typer.Option(None, "--instance-cap", min=1,
                                         help="semantic/syntactic: keep at most this many "
                                              "random tokens per word (seeded by --seed)."),
        seed: int = seed_option("the CV splits, trials and ε order"),
        device: str = DEVICE_OPT,
        force: bool = FORCE_RESULTS_OPT,
        as_json: bool = JSON_OPT) -> None:
    """Cross-validated PWCCA between each layer and a property (mel, phones, words, …)."""
    from lwa_cli.pipeline.cca import run_cca

    st = state(ctx)
    if split == "auto":
        split = "train-clean" if experiment in ATTRIBUTE_MAPS else "dev-clean"
    records = run_cca(st.workspace, experiment, model=model, split=split, sample=sample,
                      layers=layer, base_layer=base_layer, other_model=other_model,
                      metric=metric, mean_score=mean_score, seed=seed, svd_keep=svd_keep,
                      null_tol=null_tol, instance_cap=instance_cap, device=device,
                      force=force, reporter=st.reporter)
    show_records(ctx, records, as_json, f"cca {experiment} ({metric}), {model}",
                 ["score", "n", "dims"])
