"""`lwa prepare-sts`: read a spoken STS set offline into the workspace.

Sources: the ``juice500/spoken_sts`` parquet shards (a directory, searched recursively, or one
``.parquet`` file) or a TSV manifest (see `lwa_cli.data.sts`). Parquet audio is decoded,
resampled to 16 kHz and written as WAV files inside the workspace
(``sts/<name>/audio/<utt>.wav``); a manifest's audio files are referenced where they are, by
absolute path, and resampled when `lwa extract` reads them. The set is stored with a content
fingerprint (utterance ids, speakers, audio bytes, durations, rows, scores) together with a
sample of kind ``utt`` of the pseudo-split ``sts`` that `lwa extract --span utt` reads.

A rerun over an unchanged source is a no-op; a set of the same name from another source (or
with another score note) is replaced only with ``force``, which deletes the features extracted
from the old utterances and the results computed from them.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from lwa_cli.data.audio import audio_duration
from lwa_cli.data.sts import STSData, read_sts_manifest, read_sts_parquet
from lwa_cli.errors import LwaError
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.core import check_name
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import digest, file_digest
from lwa_cli.workspace.samples import Sample, invalidate_features, save_sample
from lwa_cli.workspace.sts import (
    STS_SPLIT,
    StoredSTS,
    load_sts,
    save_sts,
    sts_audio_dir,
    sts_dir,
    sts_path,
)

#: What the similarity scores are unless ``--score-note`` says otherwise.
DEFAULT_SCORE_NOTE = "human similarity judgements (as given by the source)"


def source_kind(source: Path) -> str:
    """``"tsv"`` or ``"parquet"`` from the path, or an error saying what is expected."""
    if not source.exists():
        raise LwaError(f"STS source {source} does not exist")
    if source.is_file() and source.suffix.lower() in (".tsv", ".txt"):
        return "tsv"
    if source.is_dir() or source.suffix.lower() == ".parquet":
        return "parquet"
    raise LwaError(f"{source}: expected a .tsv manifest, a .parquet file or a directory of "
                   "parquet shards")


def _parquet_fingerprint(source: Path) -> str:
    files = sorted(source.rglob("*.parquet")) if source.is_dir() else [source]
    if not files:
        raise LwaError(f"no *.parquet files under {source}")
    base = source if source.is_dir() else source.parent
    return digest([[str(f.relative_to(base)), file_digest(f)] for f in files])


def _audio_facts(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(durations in seconds, file digests) of the audio files, read from disk."""
    durations = np.array([audio_duration(p) for p in paths], dtype=np.float64)
    digests = np.array([file_digest(p) for p in paths], dtype=str)
    return durations, digests


def _stored(name: str, data: STSData, paths: list[Path], kind: str, source: Path,
            source_fp: str, score_note: str) -> StoredSTS:
    durations, digests = _audio_facts(paths)
    pair_ids, speakers, utt_a, utt_b, scores = data.index_arrays()
    return StoredSTS(
        name=name, source=str(source), source_kind=kind, source_fingerprint=source_fp,
        score_note=score_note, utt_ids=np.array([u.utt_id for u in data.utterances], dtype=str),
        utt_speakers=np.array([u.speaker for u in data.utterances], dtype=str),
        audio_paths=np.array([str(p) for p in paths], dtype=str), durations=durations,
        audio_digests=digests, pair_ids=np.array(pair_ids, dtype=str),
        pair_speakers=np.array(speakers, dtype=str), utt_a=utt_a, utt_b=utt_b, scores=scores)


def sts_summary(sts: StoredSTS, status: str) -> dict:
    """Counts that describe a stored set, for tables and --json."""
    rows_per_pair = Counter(Counter(sts.pair_ids.tolist()).values())
    return {"name": sts.name, "status": status, "source": sts.source,
            "source_kind": sts.source_kind, "utterances": len(sts.utt_ids),
            "rows": len(sts.pair_ids), "sentence_pairs": sts.n_sentence_pairs,
            "speakers": int(np.unique(sts.utt_speakers).size),
            "speakers_per_pair": {str(k): v for k, v in sorted(rows_per_pair.items())},
            "seconds": round(float(np.sum(sts.durations)), 3),
            "audio": "written into the workspace (16 kHz WAV)" if sts.source_kind == "parquet"
            else "referenced where it is (absolute paths)",
            "scores": sts.score_note, "fingerprint": sts.fingerprint,
            "sample": f"split {STS_SPLIT}, utt sample {sts.name}"}


def prepare_sts(ws: Workspace, source: Path, name: str, *, score_note: str | None = None,
                force: bool = False, reporter: Reporter = SILENT) -> dict:
    """Store the STS set read from `source` as `name` (see the module doc); its summary."""
    check_name(name, "STS set name")
    source = Path(source).expanduser().resolve()
    kind = source_kind(source)
    note = score_note or DEFAULT_SCORE_NOTE
    ws.ensure()
    path = sts_path(ws, name)
    sample_path = ws.sample_path(STS_SPLIT, "utt", name)
    with write_lock(path, wait=ws.wait, what="STS set"), \
            write_lock(sample_path, wait=ws.wait, what="utt sample"):
        old = _old_set(ws, name, force, reporter)
        if kind == "parquet":
            source_fp = _parquet_fingerprint(source)
            if old is not None and old.source_fingerprint == source_fp \
                    and old.score_note == note and not force:
                reporter.info(f"STS set {name!r} exists (same source): nothing to do")
                return sts_summary(old, "exists")
            new = _from_parquet(ws, name, source, source_fp, note, old, force, reporter)
        else:
            data = read_sts_manifest(source)
            paths = [Path(u.path).resolve() for u in data.utterances]
            manifest_fp = file_digest(source)
            new = _stored(name, data, paths, kind, source, manifest_fp, note)
            # The audio is referenced, not copied: the source is the manifest and its audio.
            new = replace(new, source_fingerprint=digest([manifest_fp, new.fingerprint]))
            if old is not None and old.source_fingerprint == new.source_fingerprint \
                    and old.score_note == note and not force:
                reporter.info(f"STS set {name!r} exists (same manifest and audio): nothing to do")
                return sts_summary(old, "exists")
            _refuse_replacing(old, name, force)
            path.unlink(missing_ok=True)  # never a stored set whose audio is gone
            shutil.rmtree(sts_audio_dir(ws, name), ignore_errors=True)
        _replace(ws, old, new, reporter)
        return sts_summary(new, "replaced" if old is not None else "prepared")


def _old_set(ws: Workspace, name: str, force: bool, reporter: Reporter) -> StoredSTS | None:
    """The stored set of this name; an unreadable one is dropped (with its features) only
    with ``force``."""
    if not sts_path(ws, name).is_file():
        return None
    try:
        return load_sts(ws, name)
    except LwaError:
        if not force:
            raise
    reporter.warn(f"the stored STS set {name!r} is unreadable: replacing it")
    invalidate_features(ws, STS_SPLIT, "utt", name)
    sts_path(ws, name).unlink()
    return None


def _refuse_replacing(old: StoredSTS | None, name: str, force: bool) -> None:
    if old is not None and not force:
        raise LwaError(f"STS set {name!r} exists from another source or with another score "
                       f"note ({old.source}); use --force to replace it (this deletes the "
                       "features extracted from it and the results computed from them) or "
                       "pick another --name")


def _from_parquet(ws: Workspace, name: str, source: Path, source_fp: str, note: str,
                  old: StoredSTS | None, force: bool, reporter: Reporter) -> StoredSTS:
    """Decode the shards into a staging folder, then move it to the set's audio folder."""
    _refuse_replacing(old, name, force)
    staging = sts_dir(ws, name) / f".audio-{uuid.uuid4().hex}.tmp"
    final = sts_audio_dir(ws, name)
    try:
        reporter.info(f"decoding {source} into 16 kHz WAV files …")
        data = read_sts_parquet(source, audio_dir=staging)
        sts_path(ws, name).unlink(missing_ok=True)  # never a stored set whose audio is gone
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    paths = [final / Path(u.path).name for u in data.utterances]
    return _stored(name, data, paths, "parquet", source, source_fp, note)


def _replace(ws: Workspace, old: StoredSTS | None, new: StoredSTS, reporter: Reporter) -> None:
    """Store the set and its utt sample; features of an old, different set are removed."""
    if old is not None and old.fingerprint != new.fingerprint:
        removed = invalidate_features(ws, STS_SPLIT, "utt", new.name)
        if removed:
            n_results = sum(1 for r in removed if r.startswith("results"))
            reporter.warn(f"removed {len(removed) - n_results} feature file(s) extracted from "
                          f"the old STS set and {n_results} result(s) computed from them: "
                          + ", ".join(removed))
    save_sts(ws, new)
    sample = Sample(split=STS_SPLIT, kind="utt", name=new.name, seed=0, utt_ids=new.utt_ids,
                    audio_paths=new.audio_paths, durations=new.durations,
                    params={"sts": new.name, "sts_fingerprint": new.fingerprint})
    save_sample(ws, sample, alignments={})
