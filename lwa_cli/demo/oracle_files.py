"""The bundled demo attribute oracles (``lwa_cli/demo/oracles``): `lwa demo oracles DIR`.

``syntactic.txt`` and ``semantic.txt`` are small oracles in the QVEC format for the words of
the demo corpus (see ``oracles/README.md``: how they were made and what they are). They are
read from the installed package and written out as plain files, so the demo passes them to
``lwa embeddings semantic|syntactic --path`` like a user passes the real oracles.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lwa_cli.errors import LwaError

ORACLE_DIR = "oracles"
#: Attribute map name → bundled file.
FILES = {"semantic": "semantic.txt", "syntactic": "syntactic.txt"}


def write_demo_oracles(dest: str | Path) -> dict[str, Path]:
    """Copy the bundled demo oracles (and their README) into `dest`; return name → path.

    Existing copies are overwritten with the bundled bytes (they are small).
    """
    dest = Path(dest)
    source = resources.files("lwa_cli.demo").joinpath(ORACLE_DIR)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, file in {**FILES, "readme": "README.md"}.items():
            target = dest / file
            target.write_bytes(source.joinpath(file).read_bytes())
            out[name] = target
    except FileNotFoundError as exc:
        raise LwaError(f"the bundled demo oracles are missing from this installation ({exc}); "
                       "reinstall lwa") from None
    except OSError as exc:
        raise LwaError(f"cannot write the demo oracles into {dest}: {exc}") from None
    return {name: path for name, path in out.items() if name in FILES}
