"""Corpus layout, TextGrid alignments, the phone map, sampling rules and audio I/O."""
