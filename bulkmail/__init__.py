"""The command-line tool and the local runner (python -m bulkmail ...).

The CLI validates with the Lambda's own code (lambda_src/bulk_sender) and reads templates
with the stack's reader (stacks/template_files.py): the one place that puts both on sys.path
for `python -m bulkmail` is here.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT / "lambda_src", ROOT):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))
