"""AWD speaker conditions: AP over same-word pairs of different speakers only / one speaker only."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.metrics import average_precision_score

from lwa_cli.analyses import result_tag
from lwa_cli.analysis.awd import awd_score
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.pipeline.awd import AWDOptions
from lwa_cli.pipeline.results import options_of
from tests.cli_runner import lwa, lwa_json
from tests.test_cli_awd_sts import M, fake_layers


def _pairs(values: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(values), 1)
    return values[i] == values[j]


@pytest.mark.parametrize("mode", ["all", "different", "same"])
def test_speaker_conditions_equal_brute_force(mode):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 6, 80)
    speakers = rng.integers(0, 4, 80)
    x = rng.normal(size=(6, 5))[labels] + rng.normal(size=(80, 5)) \
        + 0.7 * rng.normal(size=(4, 5))[speakers]
    d, same_word, same_spk = pdist(x, "cosine"), _pairs(labels), _pairs(speakers)
    keep = {"all": np.ones_like(same_word), "different": ~same_word | ~same_spk,
            "same": ~same_word | same_spk}[mode]
    res = awd_score(x, labels, speakers=speakers, speaker_pairs=mode)
    assert res.ap == pytest.approx(average_precision_score(same_word[keep], -d[keep]),
                                   abs=1e-12)
    assert res.n_same_pairs == int((same_word & keep).sum())


def test_speaker_conditions_differ_when_speakers_matter():
    rng = np.random.default_rng(5)
    labels, speakers = rng.integers(0, 5, 60), rng.integers(0, 3, 60)
    x = rng.normal(size=(5, 8))[labels] + 2 * rng.normal(size=(3, 8))[speakers] \
        + rng.normal(size=(60, 8))
    ap = {m: awd_score(x, labels, speakers=speakers, speaker_pairs=m).ap
          for m in ("all", "different", "same")}
    assert ap["same"] > ap["all"] > ap["different"]  # a speaker shift helps same-speaker pairs


def test_speaker_condition_input_errors():
    x, labels = np.eye(4), np.array([0, 0, 1, 1])
    with pytest.raises(LwaError, match="needs one speaker per token"):
        awd_score(x, labels, speaker_pairs="same")
    with pytest.raises(LwaError, match="no same-word pair from different speakers"):
        awd_score(x, labels, speakers=[1, 1, 2, 2], speaker_pairs="different")
    with pytest.raises(LwaUsageError, match="speaker_pairs must be one of"):
        awd_score(x, labels, speakers=[1, 1, 2, 2], speaker_pairs="cross")


def test_cli_speaker_variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("awdspk")
    ws = root / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("lwa_cli.pipeline.extract.extract_layers", fake_layers)
        lwa(ws, "demo", "corpus", str(root / "c"))
        lwa(ws, "demo", "models", str(root / "m"))
        lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"),
            "--alignments", str(root / "c" / "alignments"), "--split", "dev-clean")
        lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "8")
        lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
            "dev-clean", "--span", "word", "--layer", "T2")
    with h5py.File(ws / "features" / M / "dev-clean" / "sample-1" / "word.h5") as f:
        x = f["features/T2"][...]
        labels = f["rows/label"].asstr()[...]
        token = f["rows/token_index"][...]
    with h5py.File(ws / "samples" / "dev-clean" / "word-1.h5") as f:
        utt = f["tokens/utt_index"][...][token]
        ids = f["utterances/id"].asstr()[...]
    speakers = np.array([u.split("-")[0] for u in ids[utt]])
    (base,) = lwa_json(ws, "awd", "--model", M)
    for mode in ("different", "same"):
        (rec,) = lwa_json(ws, "awd", "--model", M, "--speakers", mode)
        want = awd_score(x, labels, speakers=speakers, speaker_pairs=mode)
        assert rec["ap"] == want.ap and rec["speakers"] == mode
        assert rec["same_pairs"] == want.n_same_pairs < base["same_pairs"]
        assert rec["file"].endswith(f"T2.spk-{mode}.json")
    assert "speakers" not in base or base["speakers"] is None
    assert lwa_json(ws, "awd", "--model", M)[0]["cached"]


def test_speaker_condition_tags_and_options():
    """"all" adds neither an option nor a tag bit (older results stay current and named)."""
    plain = options_of(AWDOptions.of("cosine", False, 0, 0.0, None, 0))
    same = options_of(AWDOptions.of("cosine", False, 0, 0.0, None, 0, "all"))
    assert plain == same and "speaker_pairs" not in plain
    assert result_tag("awd", plain) is None
    diff = options_of(AWDOptions.of("euclidean", True, 0, 0.0, 5, 2, "different"))
    assert diff["speaker_pairs"] == "different"
    assert result_tag("awd", diff) == "euclidean-spk-different-mvn-k5-seed2"
