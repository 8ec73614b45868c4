"""When `lwa extract` may reuse what is there: model names, weights and existing files.

A new model name close to a known one is probably a typo and is refused (so a misspelling
never starts a new model in the workspace); a complete feature file is reused while it comes
from the same weights and the current sample and holds the layers asked for; features from
other weights are never silently replaced.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from lwa_cli.errors import LwaError, LwaUsageError, did_you_mean
from lwa_cli.models.hub import checkpoint_fingerprint
from lwa_cli.models.layers import parse_layers
from lwa_cli.models.loading import LoadedModel
from lwa_cli.models.registry import REGISTRY, get_spec
from lwa_cli.progress import Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.features import FeatureFile
from lwa_cli.workspace.names import stored_models
from lwa_cli.workspace.samples import Sample

#: difflib similarity from which a new model name is taken for a typo of a known one:
#: ``hubert_bse`` (0.95), ``wavlm_base_plus_randm`` (0.98), ``demo_wav2vec`` (0.96) are;
#: ``fastvgs_plus_tiny`` next to ``fastvgs_plus_coco`` (0.76) is not.
TYPO_SIMILARITY = 0.88


def check_model_name(ws: Workspace, model: str, checkpoint: Path | None, new_model: bool,
                      reporter: Reporter) -> None:
    """A name outside the registry needs a checkpoint; a near miss of a registry name or of
    a model the workspace holds is probably a typo: refused unless `new_model`, so that a
    misspelling never starts a new model in the workspace."""
    if get_spec(model) is not None:
        return
    known = stored_models(ws)
    if model in known:
        return
    hint = did_you_mean(model, [*REGISTRY, *known])
    if checkpoint is None:
        raise LwaUsageError(f"model {model!r} is not in the registry{hint}; pass --checkpoint "
                            "PATH for your own model (see `lwa models`)")
    # A typo is a name one or two edits away (similarity ≥ TYPO_SIMILARITY), refused; a
    # looser resemblance (fastvgs_plus_tiny ~ fastvgs_plus_coco) only gets the hint.
    typo = difflib.get_close_matches(model, [*REGISTRY, *known], n=1, cutoff=TYPO_SIMILARITY)
    if typo and not new_model:
        raise LwaUsageError(f"model {model!r} is neither in the registry nor in the "
                            f"workspace{hint}; pass --new-model to extract {checkpoint} under "
                            "this new name", params=("new_model",))
    if hint:
        reporter.warn(f"model {model!r} is not in the registry{hint}; its architecture is read "
                      f"from {checkpoint}")



def weights_fingerprint(model: str, checkpoint: Path | None, seed: int) -> str | None:
    """The fingerprint `load_model` will give these weights, when it is cheap to know
    without loading them (a checkpoint file or directory); None for random weights."""
    if checkpoint is None or model.endswith("_random"):
        return None
    return checkpoint_fingerprint(checkpoint)  # a path or a cached hub id (models/hub.py)


def stale_reason(done: Path, smp: Sample, model: str, checkpoint: Path | None, seed: int,
                  loaded: LoadedModel | None) -> str | None:
    """None when a complete file may be reused; a reason to extract again when it is stale.

    Features from other weights are never silently replaced: that is an error unless
    --force, since results computed from them would change meaning.
    """
    with FeatureFile(done) as f:
        meta = f.meta
    if loaded is not None:
        same = loaded.fingerprint == meta["fingerprint"]
        ours = loaded.checkpoint
    elif checkpoint is None or model.endswith("_random"):
        ours = f"random:{int(seed)}"  # random weights are named by their seed
        same = meta["checkpoint"] == ours
    else:
        same = weights_fingerprint(model, checkpoint, seed) == meta["fingerprint"]
        ours = str(checkpoint)
    if not same:
        raise LwaError(f"{done} holds features of {model} from other weights "
                       f"({meta['checkpoint']}), not {ours}; pass --force to replace them "
                       "(results computed from them become stale), or use another --model name")
    if meta.get("sample_fingerprint") != smp.fingerprint:
        return "extracted from an older version of the sample"
    return None


def existing_layers(path: Path, layers: Sequence[str] | None, rep: str) -> list[str]:
    """The layers of a complete file, reused when it holds every requested layer; otherwise
    say which are missing."""
    with FeatureFile(path) as f:
        spec = f.meta["spec"]
        default = ["C"] if rep == "local" else ["T"]
        wanted = parse_layers(list(layers) if layers else default, len(spec["conv_layers"]),
                              spec["n_layers"])
        missing = [name for name in wanted if name not in f.layers]
        if missing:
            raise LwaError(f"{path} exists with layers {', '.join(f.layers)}, not "
                           f"{', '.join(missing)}; add --force to extract it again with the "
                           "layers you ask for")
        return list(f.layers)
