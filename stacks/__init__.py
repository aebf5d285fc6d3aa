"""The CDK stack of the bulk email sender and its constructs, one module per concern.

The stack reads the names it shares with the functions (``bulk_sender.names``, and the action
lists of the cores it grants) from ``lambda_src/``, the one place they are written: it is put
on the import path here, whether the app runs from ``cdk synth`` or from the tests.
"""

import sys
from pathlib import Path

_LAMBDA_SRC = str(Path(__file__).resolve().parent.parent / "lambda_src")
if _LAMBDA_SRC not in sys.path:
    sys.path.append(_LAMBDA_SRC)
