"""Names of the choices that commands accept.

Kept free of heavy imports so the CLI (and shell completion, which runs it on every tab)
can offer them without loading torch, scikit-learn or gensim. The analyses and their
variants come from the analysis registry (`lwa_cli.analyses`).
"""

from lwa_cli.analyses import ANALYSES, variants

SPANS = ("frame", "phone", "word", "wordsim", "allwords", "utt")
REPS = ("contextualized", "local")
ANALYSIS_NAMES = tuple(ANALYSES)
"""Every analysis a workspace stores results of (`lwa results --analysis`, `lwa report`)."""
CCA_EXPERIMENTS = variants("cca")
MI_SPANS = variants("mi")
ATTRIBUTE_MAPS = ("semantic", "syntactic")
"""Linguistic-attribute maps (QVEC oracles): `lwa embeddings` names and `lwa cca` experiments."""
CCA_METRICS = ("pwcca", "pwcca-morcos", "svcca", "mean-cca", "cka")
KMEANS = ("minibatch", "full", "lloyd", "faiss")
SEGMENT_MATCHINGS = ("reference", "one-to-one")
SEGMENT_METRICS = ("euclidean", "cosine")
AWD_DISTANCES = ("cosine", "euclidean")
SIMILARITY_MEASURES = ("pwcca", "cka", "cka-debiased", "procrustes", "rsa", "mknn")
"""`lwa similarity --measure` (analysis.similarity.MEASURES, same order)."""
PROBE_TASKS = ("phone", "word", "speaker")
PROBE_KINDS = ("linear", "mlp")
