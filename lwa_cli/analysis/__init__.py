"""Pure numerics of the analyses: CCA (PWCCA, SVCCA, CKA), mutual information, word
similarity and embedding maps."""
