"""Build the demo's linguistic-attribute oracles (QVEC format) for the demo corpus vocabulary.

The real QVEC oracles (Tsvetkov et al., github ``ytsvetko/qvec``) are ODbL share-alike data and
are not shipped. This script makes two small oracles in the same format
(``word<TAB>{json tag → probability}``, see `lwa_cli.analysis.oracles`) for the words of the
bundled demo corpus (``lwa_cli/demo/corpus_data``, made by ``scripts/make_demo_corpus.py``):

* ``syntactic.txt``: the empirical distribution of the POS tags that festival's tagger assigns to
  each word in the demo sentences (festival's WSJ-trained ``wp39`` n-gram tagger, with the
  ``kal_diphone`` voice's settings and no tag-set reduction: ``pos_map`` is nil). Tags are
  written ``ptb.<tag>`` like the QVEC PTB oracle; festival's own ``of`` tag is written
  ``ptb.in``, the Penn Treebank tag of "of". This mirrors how the PTB oracle was counted from
  a tagged corpus, on a tiny corpus and an automatic tagger.
* ``semantic.txt``: each word's distribution over WordNet's noun and verb lexicographer files
  (the supersenses of the QVEC SemCor oracle), written ``semcor.<lexname>`` in lower case. The
  word's noun and verb base forms come from WordNet's morphology (exception lists, then the
  word itself, then WordNet's suffix rules); every sense (base form, synset) weighs its SemCor
  tag count from ``cntlist.rev`` plus one (Laplace smoothing, so untagged senses count a
  little and a word without tagged senses gets the uniform distribution over its senses).
  Words without noun or verb senses (function words) are not in the oracle.

Both are deterministic: one festival run over the sentences in utterance-id order, WordNet files
read as they are, rows in byte order of the words, keys in byte order of the tags, values
``count / total`` as Python floats. A rerun gives byte-identical files. The script also writes
``README.md`` next to them (counts, sources, versions, sha256).

Needs (only to regenerate; users and tests never do)::

    apt-get install -y festival festvox-kallpc16k wordnet-base

Usage::

    python scripts/make_demo_oracles.py [--out lwa_cli/demo/oracles] [--festival festival]
        [--wordnet /usr/share/wordnet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "lwa_cli" / "demo" / "corpus_data"
DEFAULT_OUT = REPO / "lwa_cli" / "demo" / "oracles"

#: WordNet 3.0 lexicographer files (lexnames(5WN)): number → name. Only 03-43 (nouns, verbs).
LEXNAMES = dict(enumerate((
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)))
#: WordNet's suffix rules (morph.c): (suffix, replacement), tried in this order.
DETACHMENTS = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
             ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
             ("ing", "e"), ("ing", "")),
}
SS_TYPE = {"noun": 1, "verb": 2}
#: festival tag → written tag (everything else is kept).
FESTIVAL_TAG_RENAME = {"of": "in"}


# --------------------------------------------------------------------------------------------
# Demo sentences
# --------------------------------------------------------------------------------------------


def demo_sentences(corpus: Path = CORPUS) -> list[tuple[str, list[str]]]:
    """(utterance id, lower-case words) of every demo transcript, in utterance-id order."""
    out = []
    for path in sorted((corpus / "LibriSpeech").glob("*/*/*/*.trans.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.partition(" ")
            out.append((utt, text.lower().split()))
    if not out:
        raise SystemExit(f"no transcripts under {corpus}/LibriSpeech")
    return sorted(out)


# --------------------------------------------------------------------------------------------
# Syntactic oracle: festival's POS tags
# --------------------------------------------------------------------------------------------

_SCHEME = r"""
(voice_kal_diphone)
(set! pos_map nil)
(define (lwa_tag utt_id text fd)
  (let ((utt (eval (list 'Utterance 'Text text))))
    (Initialize utt) (Text utt) (Token_POS utt) (Token utt) (POS utt)
    (format fd "UTT %s\n" utt_id)
    (mapcar (lambda (w) (format fd "%s %s\n" (item.name w) (item.feat w "pos")))
            (utt.relation.items utt 'Word))))
"""


def festival_version(festival: str) -> str:
    out = subprocess.run([festival, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def festival_tags(sentences: list[tuple[str, list[str]]], festival: str) -> list[list[str]]:
    """festival's POS tag of every word of every sentence (one festival process)."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "tags.txt"
        lines = [_SCHEME, f'(set! lwa_fd (fopen "{dump}" "w"))']
        for utt, words in sentences:
            lines.append(f'(lwa_tag "{utt}" "{" ".join(words)}" lwa_fd)')
        lines.append("(fclose lwa_fd)")
        script = Path(tmp) / "tag.scm"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        proc = subprocess.run([festival, "-b", str(script)], capture_output=True, text=True)
        if proc.returncode != 0 or not dump.is_file():
            raise SystemExit(f"festival failed:\n{proc.stderr}")
        text = dump.read_text(encoding="utf-8")
    tags: list[list[str]] = []
    words_seen: list[list[str]] = []
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head == "UTT":
            tags.append([])
            words_seen.append([])
        else:
            words_seen[-1].append(head)
            tags[-1].append(rest)
    for (utt, words), seen in zip(sentences, words_seen, strict=True):
        if seen != words:  # festival's tokeniser must keep the transcript's words
            raise SystemExit(f"festival changed the words of {utt}: {seen} vs {words}")
    return tags


def syntactic_rows(sentences: list[tuple[str, list[str]]],
                   tags: list[list[str]]) -> dict[str, dict[str, float]]:
    """word → {ptb.tag: share of the word's tokens}, keys sorted."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for (_, words), sentence_tags in zip(sentences, tags, strict=True):
        for word, tag in zip(words, sentence_tags, strict=True):
            counts[word]["ptb." + FESTIVAL_TAG_RENAME.get(tag, tag)] += 1
    return {w: _distribution(c) for w, c in counts.items()}


# --------------------------------------------------------------------------------------------
# Semantic oracle: WordNet lexicographer files weighted by SemCor counts
# --------------------------------------------------------------------------------------------


class WordNet:
    """The parts of a WordNet 3.0 database (``dict/`` files) that the semantic oracle needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.index = {pos: self._read_index(pos) for pos in SS_TYPE}
        self.exceptions = {pos: self._read_exceptions(pos) for pos in SS_TYPE}
        self.tag_counts: dict[str, int] = {}
        for line in (root / "cntlist.rev").read_text(encoding="utf-8").splitlines():
            key, _, count = line.split(" ")
            self.tag_counts[key] = int(count)

    def _read_index(self, pos: str) -> dict[str, list[int]]:
        """lemma → synset offsets (sense order) from ``index.<pos>``."""
        out = {}
        for line in (self.root / f"index.{pos}").read_text(encoding="utf-8").splitlines():
            if line.startswith("  "):  # licence header
                continue
            f = line.split()
            n_synsets, n_pointers = int(f[2]), int(f[3])
            out[f[0]] = [int(o) for o in f[6 + n_pointers : 6 + n_pointers + n_synsets]]
        return out

    def _read_exceptions(self, pos: str) -> dict[str, list[str]]:
        out = {}
        for line in (self.root / f"{pos}.exc").read_text(encoding="utf-8").splitlines():
            inflected, *bases = line.split()
            out[inflected] = bases
        return out

    def base_forms(self, word: str, pos: str) -> list[str]:
        """WordNet's morphology: exception bases (and the word), else the word, else rules."""
        index = self.index[pos]
        if word in self.exceptions[pos]:
            forms = [word, *self.exceptions[pos][word]]
        elif word in index:
            forms = [word]
        else:
            forms = [word[: -len(s)] + r for s, r in DETACHMENTS[pos] if word.endswith(s)]
        return [f for f in dict.fromkeys(forms) if f in index]

    def synset(self, pos: str, offset: int) -> tuple[int, dict[str, int]]:
        """(lex_filenum, {lower-case word: lex_id}) of the synset at byte ``offset``."""
        with open(self.root / f"data.{pos}", "rb") as handle:
            handle.seek(offset)
            f = handle.readline().decode("utf-8").split()
        if int(f[0]) != offset:
            raise SystemExit(f"data.{pos}: no synset at offset {offset}")
        n_words = int(f[3], 16)
        words = {f[4 + 2 * i].lower(): int(f[5 + 2 * i], 16) for i in range(n_words)}
        return int(f[1]), words

    def supersense_weights(self, word: str) -> Counter:
        """lexname → Σ (SemCor tag count + 1) over the word's noun and verb senses."""
        weights: Counter = Counter()
        for pos, ss_type in SS_TYPE.items():
            for lemma in self.base_forms(word, pos):
                for offset in self.index[pos][lemma]:
                    lex_file, words = self.synset(pos, offset)
                    key = f"{lemma}%{ss_type}:{lex_file:02d}:{words[lemma]:02d}::"
                    weights["semcor." + LEXNAMES[lex_file].lower()] += (
                        self.tag_counts.get(key, 0) + 1)
        return weights


def semantic_rows(words: list[str], wordnet: WordNet) -> dict[str, dict[str, float]]:
    """word → {semcor.lexname: weight share}; words without noun/verb senses are left out."""
    rows = {}
    for word in words:
        weights = wordnet.supersense_weights(word)
        if weights:
            rows[word] = _distribution(weights)
    return rows


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _distribution(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {tag: counts[tag] / total for tag in sorted(counts)}


def oracle_text(rows: dict[str, dict[str, float]]) -> str:
    """QVEC layout: ``word<TAB>json.dumps(row)``, words in byte order, LF, final newline."""
    return "".join(f"{w}\t{json.dumps(rows[w])}\n" for w in sorted(rows))


def dpkg_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                         text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def wordnet_license(copyright_file: Path) -> str:
    """The ``License: WordNet3.0`` stanza of the Debian copyright file, as plain paragraphs."""
    lines = copyright_file.read_text(encoding="utf-8").splitlines()
    start = lines.index("License: WordNet3.0") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        body.append("" if line == " ." else line[1:])
    return "\n".join(body)


def readme(info: dict) -> str:
    return f"""# Demo linguistic-attribute oracles

Two small oracles in the format of the QVEC oracles (Tsvetkov et al. 2015/2016, github
`ytsvetko/qvec`), for the words of the bundled demo corpus (`../corpus_data`). They stand in
for `semcor_noun_verb.supersenses.en` and `ptb.pos_tags`, which are ODbL share-alike data and
are not shipped. They were made by `scripts/make_demo_oracles.py` (rerun: byte-identical);
the demo corpus is synthetic speech, so these files show that `lwa cca semantic|syntactic`
works, not facts about English.

Format: one line per word, `word<TAB>{{"tag": probability, ...}}` (`json.dumps`), words in byte
order, tags in byte order within a line, LF, final newline. Each row sums to 1.

## `syntactic.txt` ({info['syn_words']} words x {info['syn_tags']} tags)

The empirical distribution of the part-of-speech tags that festival's tagger gives each word
in the {info['sentences']} demo sentences ({info['tokens']} tokens): festival's WSJ-trained `wp39`
n-gram tagger (`Token_POS`, `Token`, `POS` modules with the `kal_diphone` voice's settings,
`pos_map` nil, so tags are not reduced). Tags are written `ptb.<tag>` like the PTB oracle;
festival's own tag `of` is written `ptb.in` (the Penn Treebank tag of "of"). Tagger:
{info['festival']} (Debian festival {info['festival_deb']}, festlex-poslex {info['poslex_deb']},
festvox-kallpc16k {info['kal_deb']}). Coverage: {info['syn_words']} of the
{info['vocabulary']} demo words.

## `semantic.txt` ({info['sem_words']} words x {info['sem_tags']} tags)

Each word's distribution over the WordNet 3.0 noun and verb lexicographer files (supersenses,
as in the SemCor oracle), written `semcor.<lexname>` in lower case. Base forms come from
WordNet's morphology: the exception lists (`noun.exc`, `verb.exc`) with the word itself, else
the word if WordNet lists it, else WordNet's suffix rules. Every sense (base form, synset) of
a noun or verb base form weighs its SemCor tag count (`cntlist.rev`, keyed by sense key) plus
one; the weights are summed per lexicographer file and normalised. The +1 (Laplace smoothing
over senses) lets untagged senses count a little and gives a word without tagged senses the
uniform distribution over its senses. Words without noun or verb senses (mostly function
words) are not in the file: {info['sem_words']} of the {info['vocabulary']} demo words are covered,
{info['sem_missing_n']} are not ({info['sem_missing']}). Source: Debian wordnet-base
{info['wordnet_deb']} (WordNet 3.0).

## WordNet licence

`semantic.txt` is derived from WordNet 3.0, whose licence asks that this notice go with
copies and modifications. Verbatim from `/usr/share/doc/wordnet-base/copyright`:

{info['wordnet_license']}

## sha256

- `syntactic.txt` {info['syn_sha']}
- `semantic.txt` {info['sem_sha']}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--festival", default="festival")
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--wordnet-copyright", type=Path,
                        default=Path("/usr/share/doc/wordnet-base/copyright"))
    args = parser.parse_args()

    sentences = demo_sentences()
    vocabulary = sorted({w for _, words in sentences for w in words})
    syntactic = syntactic_rows(sentences, festival_tags(sentences, args.festival))
    semantic = semantic_rows(vocabulary, WordNet(args.wordnet))
    args.out.mkdir(parents=True, exist_ok=True)
    texts = {"syntactic.txt": oracle_text(syntactic), "semantic.txt": oracle_text(semantic)}
    for name, text in texts.items():
        (args.out / name).write_text(text, encoding="utf-8", newline="\n")
    missing = [w for w in vocabulary if w not in semantic]
    info = {
        "sentences": len(sentences), "tokens": sum(len(w) for _, w in sentences),
        "vocabulary": len(vocabulary),
        "syn_words": len(syntactic), "syn_tags": len({t for r in syntactic.values() for t in r}),
        "sem_words": len(semantic), "sem_tags": len({t for r in semantic.values() for t in r}),
        "sem_missing_n": len(missing), "sem_missing": ", ".join(f"`{w}`" for w in missing),
        "festival": festival_version(args.festival), "festival_deb": dpkg_version("festival"),
        "poslex_deb": dpkg_version("festlex-poslex"), "kal_deb": dpkg_version("festvox-kallpc16k"),
        "wordnet_deb": dpkg_version("wordnet-base"),
        "wordnet_license": wordnet_license(args.wordnet_copyright),
        "syn_sha": hashlib.sha256(texts["syntactic.txt"].encode()).hexdigest(),
        "sem_sha": hashlib.sha256(texts["semantic.txt"].encode()).hexdigest(),
    }
    (args.out / "README.md").write_text(readme(info), encoding="utf-8", newline="\n")
    quiet = ("sem_missing", "wordnet_license")
    print(json.dumps({k: v for k, v in info.items() if k not in quiet}, indent=1))


if __name__ == "__main__":
    main()
