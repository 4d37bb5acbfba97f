"""``python -m populace.evaluation.datasets build NAME DIRECTORY`` / ``build-bundled``."""

from populace.evaluation.datasets.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
