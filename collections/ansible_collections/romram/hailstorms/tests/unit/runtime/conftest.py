"""Make the runtime package importable as the load hosts run it (PYTHONPATH=<collection>/runtime)."""
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[3] / "runtime"
if str(RUNTIME) not in sys.path:
    sys.path.insert(0, str(RUNTIME))
