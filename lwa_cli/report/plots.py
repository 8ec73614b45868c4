"""Plot titles per analysis, kept for the analyses that add theirs here.

The report's figures are drawn by `lwa_cli.report.figures` from the descriptions of
`lwa_cli.report.figdata`; `lwa_cli.report.analyses.ANALYSES` is the full display table
(title, metric, y label), and falls back to these titles for analyses it lacks.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "cca-mel": "CCA with log-mel filterbank features",
    "cca-intra": "CCA with the model's own base layer",
    "cca-inter": "CCA between two models, same layer",
    "cca-phone": "CCA with one-hot phone labels",
    "cca-word": "CCA with one-hot word labels",
    "cca-agwe": "CCA with acoustically grounded word embeddings",
    "cca-glove": "CCA with GloVe word embeddings",
    "cca-semantic": "CCA with semantic attributes (WordNet supersenses)",
    "cca-syntactic": "CCA with syntactic attributes (part-of-speech tags)",
    "mi-phone": "Mutual information with phone labels",
    "mi-word": "Mutual information with word labels",
    "wordsim": "Word similarity of static layer embeddings",
    "segment": "Unsupervised word segmentation (best boundary F of the grid)",
    "awd": "Acoustic word discrimination (same-different AP)",
    "sts": "Spoken STS (Spearman ρ of utterance cosines with the pair scores)",
}
"""Plot titles of the analyses `lwa` stores (others get their analysis name)."""
