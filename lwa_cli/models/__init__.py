"""Model registry, offline checkpoint loading (HF directories, fairseq/unilm .pt) and layer
capture."""
