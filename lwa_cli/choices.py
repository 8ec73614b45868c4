"""Names of the choices that commands accept.

Kept free of heavy imports so the CLI (and shell completion, which runs it on every tab)
can offer them without loading torch, scikit-learn or gensim.
"""

SPANS = ("frame", "phone", "word", "wordsim", "utt")
REPS = ("contextualized", "local")
CCA_EXPERIMENTS = ("mel", "intra", "inter", "phone", "word", "agwe", "glove")
CCA_METRICS = ("pwcca", "pwcca-morcos", "svcca", "mean-cca", "cka")
KMEANS = ("minibatch", "full", "lloyd", "faiss")
SEGMENT_MATCHINGS = ("reference", "one-to-one")
SEGMENT_METRICS = ("euclidean", "cosine")
AWD_DISTANCES = ("cosine", "euclidean")
