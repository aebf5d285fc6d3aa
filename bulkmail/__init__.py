"""The command-line tool and the local runner (python -m bulkmail ...).

The CLI validates with the Lambda's own code (lambda_src/bulk_sender): the one place that
puts lambda_src on sys.path for `python -m bulkmail` is here.
"""

import sys
from pathlib import Path

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
if str(LAMBDA_SRC) not in sys.path:
    sys.path.append(str(LAMBDA_SRC))
