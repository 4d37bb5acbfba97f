"""``python -m populace.cli``."""

from populace.cli import main

raise SystemExit(main())
