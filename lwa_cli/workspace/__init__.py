"""The workspace: the only code that knows where files live and how they are laid out.

A workspace is a directory holding HDF5 files (alignments, samples, features, embeddings)
and small JSON result files. Every file carries a format version; every write is atomic
(temporary file + rename), so a killed command never leaves a file that a later command
would read as complete. See docs/workspace.md for the layout.
"""

from lwa_cli.workspace.core import FORMAT_VERSION, Workspace, atomic_h5, open_h5

__all__ = ["FORMAT_VERSION", "Workspace", "atomic_h5", "open_h5"]
