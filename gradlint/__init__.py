"""gradlint: a static analyzer for PyTorch grad-mode misuse."""

import os as _os

__version__ = "0.1.0"

# In a source checkout `rules/`, `runtime/` and `fixtures/` sit beside `gradlint/` and are installed as
# `gradlint.rules`, `gradlint.runtime` and `gradlint.fixtures`. When gradlint is imported straight from
# the checkout (no install, or an install that maps packages lazily), let the package search the
# checkout root for those three subpackages too. An installed wheel has them inside the package.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "rules")) and _os.path.isfile(
    _os.path.join(_root, "rules", "__init__.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821
