"""Shared pytest set-up: put the repository on the path for the helper modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
