"""`lwa cca EXPERIMENT`: layer-wise CCA experiments."""

from __future__ import annotations

import typer

from lwa_cli.choices import CCA_EXPERIMENTS, CCA_METRICS
from lwa_cli.cli.analysis import layer_table
from lwa_cli.cli.common import complete_layer, complete_model, out_console, print_json, state
from lwa_cli.cli.data import _complete_split

EXPERIMENTS = CCA_EXPERIMENTS
METRICS = CCA_METRICS


def _complete(options: tuple[str, ...]):
    return lambda incomplete: [o for o in options if o.startswith(incomplete)]


def cca(ctx: typer.Context,
        experiment: str = typer.Argument(..., autocompletion=_complete(EXPERIMENTS),
                                         help="mel | intra | inter | phone | word | agwe | "
                                              "glove"),
        model: str = typer.Option(..., "--model", autocompletion=complete_model),
        split: str = typer.Option("dev-clean", "--split", autocompletion=_complete_split),
        sample: str = typer.Option("1", "--sample"),
        layer: list[str] = typer.Option([], "--layer", autocompletion=complete_layer,
                                        help="Layers to score (default: all extracted)."),
        base_layer: str = typer.Option("T0", "--base-layer", autocompletion=complete_layer,
                                       help="Reference layer of `intra`."),
        other_model: str = typer.Option(None, "--other-model", autocompletion=complete_model,
                                        help="Second model of `inter`."),
        metric: str = typer.Option("pwcca", "--metric", autocompletion=_complete(METRICS),
                                   help="pwcca (the reference's weighting) | pwcca-morcos | "
                                        "svcca | cka"),
        mean_score: bool = typer.Option(False, "--mean-score",
                                        help="Average the x- and y-side PWCCA."),
        seed: int = typer.Option(0, "--seed", help="Seed of splits, trials and ε order."),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda (statistics pass)."),
        force: bool = typer.Option(False, "--force", help="Recompute stored results."),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Cross-validated PWCCA between each layer and a property (mel, phones, words, …)."""
    from lwa_cli.pipeline.cca import run_cca

    st = state(ctx)
    records = run_cca(st.workspace, experiment, model=model, split=split, sample=sample,
                      layers=layer, base_layer=base_layer, other_model=other_model,
                      metric=metric, mean_score=mean_score, seed=seed, device=device,
                      force=force, reporter=st.reporter)
    if as_json:
        print_json(records)
    elif not records:
        out_console.print("all requested layers have stored results (use --force to "
                          "recompute, `lwa report` to see them)")
    else:
        out_console.print(layer_table(f"cca {experiment} ({metric}), {model}", records,
                                      ["score", "n", "dims", "wall_seconds"]))
