"""`lwa sample frame --from-list FILE.tsv`: a frame sample of any corpus, from a list file.

The list holds ``utt_id<TAB>audio path`` lines (`lwa_cli.data.filelist`); no LibriSpeech
layout or alignments are needed, so `lwa extract --span frame` and `lwa segment apply` run on
Buckeye or any other corpus. The sample records the list file's path and fingerprint: a
changed list is a different sample (replacing it needs ``--force``, as for other samples).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lwa_cli.data import sampling
from lwa_cli.data.filelist import read_audio_list
from lwa_cli.errors import LwaError, param_error
from lwa_cli.pipeline.sample import _existing, _locked
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.provenance import file_digest
from lwa_cli.workspace.samples import Sample, save_sample


@_locked("frame")
def sample_frames_from_list(ws: Workspace, split: str, name: str, *, list_file: Path,
                            utterances: int | None = None, seed: int = 0, force: bool = False,
                            reporter: Reporter = SILENT) -> Sample:
    """A frame sample of the utterances of `list_file` (all, in list order, by default).

    With `utterances`, that many are drawn at random (seeded by `seed`) and kept in list
    order; more than the list holds takes all of them, with a warning. `split` only names
    the sample's place in the workspace (e.g. ``buckeye-val``).
    """
    if utterances is not None and utterances < 1:
        raise param_error("utterances", utterances, "must be at least 1")
    path = Path(list_file).expanduser().resolve()
    if not path.is_file():
        raise LwaError(f"audio list {path} not found (--from-list)")
    request = {"from_list": str(path), "list_fingerprint": file_digest(path),
               "utterances": utterances}
    if old := _existing(ws, split, "frame", name, seed, request, force, reporter):
        return old
    listed = read_audio_list(path)
    n = len(listed.utt_ids)
    picked = np.arange(n, dtype=np.int64)
    if utterances is not None:
        if utterances > n:
            reporter.warn(f"{path.name} lists {n} utterances; using all of them")
        picked = sampling.sample_utterances(n, utterances, np.random.default_rng(seed))
    sample = Sample(split=split, kind="frame", name=name, seed=seed,
                    utt_ids=listed.utt_ids[picked], audio_paths=listed.audio_paths[picked],
                    durations=listed.durations[picked], params=request)
    save_sample(ws, sample, alignments={})
    return sample
