"""The fuzz tests start the same processes as the integration tests, with the same helpers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
