"""The names and rules the functions use, ``lambda_src/bulk_sender/names.py``, for the stack.

That module imports nothing, so it is loaded by path: the stack reads the very file the
Lambda asset carries, not a copy.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

NAMES_FILE = Path(__file__).resolve().parent.parent / "lambda_src" / "bulk_sender" / "names.py"


@functools.cache
def shared_names() -> ModuleType:
    """``bulk_sender.names``, loaded by path (classes Env, Output, Pattern, ...)."""
    spec = importlib.util.spec_from_file_location("bulk_sender_names", NAMES_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the functions' shared names from {NAMES_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
