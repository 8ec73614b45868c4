"""Tiny seeded checkpoints of the issue 18 encoder families, built with `save_pretrained`.

One builder for the CLI tests (tests/test_cli_encoders.py, tests/test_families_every_analysis.py):

* ``tiny_w2v_bert``: a w2v-BERT 2.0 directory (SeamlessM4T fbank input, no conv layers, 20 ms);
* ``tiny_conformer``: a rotary wav2vec2-conformer in a fake Hugging Face cache, read by hub id
  (``org/tiny-conformer`` at commit `COMMIT`; 7 conv layers, 20 ms);
* ``tiny_unispeech_sat``: a UniSpeech-SAT directory (post-LN, group-norm conv stack: 7 conv
  layers, 20 ms);
* ``tiny_sew``: a SEW directory, which has no family module: the generic AutoModel path (no C
  layers, 20 ms after its squeeze).

Every model has 2 transformer layers of width 32, so layers T0-T2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import transformers as tf

from lwa_cli.demo.models import TINY_CONV

CONV = {"conv_dim": [d for d, _, _ in TINY_CONV], "conv_kernel": [k for _, k, _ in TINY_CONV],
        "conv_stride": [s for _, _, s in TINY_CONV]}
SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 48, "layerdrop": 0.0}
COMMIT = "c" * 40
HUB_ID = "org/tiny-conformer"
NAMES = ("tiny_w2v_bert", "tiny_conformer", "tiny_unispeech_sat", "tiny_sew")


def hub_snapshot(root: Path) -> Path:
    """The cache folder of `HUB_ID` under the fake ``HF_HOME`` `root`/hf."""
    return root / "hf" / "hub" / "models--org--tiny-conformer"


def write_checkpoints(root: Path, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    """Write the checkpoints `names` under `root` (seeded: the same files every time);
    return name -> what ``lwa extract --checkpoint`` takes (a directory, or `HUB_ID`)."""
    out: dict[str, str] = {}
    for name in names:
        torch.manual_seed(0)
        out[name] = _BUILDERS[name](root)
    return out


def _w2v_bert(root: Path) -> str:
    path = root / "w2vbert"
    tf.Wav2Vec2BertModel(tf.Wav2Vec2BertConfig(
        **SMALL, conv_depthwise_kernel_size=5, left_max_position_embeddings=8,
        right_max_position_embeddings=2)).save_pretrained(path)
    tf.SeamlessM4TFeatureExtractor().save_pretrained(path)
    return str(path)


def _conformer(root: Path) -> str:
    snap = hub_snapshot(root)
    tf.Wav2Vec2ConformerModel(tf.Wav2Vec2ConformerConfig(
        **SMALL, **CONV, position_embeddings_type="rotary", conv_depthwise_kernel_size=5,
        num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer", do_stable_layer_norm=True)).save_pretrained(
        snap / "snapshots" / COMMIT)
    (snap / "refs").mkdir()
    (snap / "refs" / "main").write_text(COMMIT)
    return HUB_ID


def _unispeech_sat(root: Path) -> str:
    path = root / "unispeech_sat"
    tf.UniSpeechSatModel(tf.UniSpeechSatConfig(
        **SMALL, **CONV, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        feat_extract_norm="group", do_stable_layer_norm=False)).save_pretrained(path)
    tf.Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(path)
    return str(path)


def _sew(root: Path) -> str:
    path = root / "sew"
    conv = {"conv_dim": [16] * 4, "conv_kernel": [10, 4, 4, 2], "conv_stride": [5, 4, 4, 2]}
    tf.SEWModel(tf.SEWConfig(**SMALL, **conv, squeeze_factor=2, num_conv_pos_embeddings=8,
                             num_conv_pos_embedding_groups=2)).save_pretrained(path)
    tf.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(path)
    return str(path)


_BUILDERS = {"tiny_w2v_bert": _w2v_bert, "tiny_conformer": _conformer,
             "tiny_unispeech_sat": _unispeech_sat, "tiny_sew": _sew}


@contextmanager
def offline_hub(root: Path) -> Iterator[None]:
    """A fake, offline Hugging Face cache at `root`/hf for the duration (``HF_HOME``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HOME", str(root / "hf"))
        mp.delenv("HF_HUB_CACHE", raising=False)
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield
