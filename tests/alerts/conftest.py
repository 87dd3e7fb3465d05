"""Make this folder's helper modules (factories, receivers) importable by the tests in it.

pytest 9 imports test modules without putting their folder on sys.path, and tests/ is not a
package, so the helpers would otherwise be unreachable by a plain import.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
