"""Test setup shared by every suite: no test may reach real AWS."""

import os
import tempfile
from pathlib import Path

# Dummy credentials and a region before any boto3 client exists.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_REGION="eu-west-1",
    POWERTOOLS_SERVICE_NAME="bulk-email",
    POWERTOOLS_METRICS_NAMESPACE="BulkEmail",
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
)
os.environ.pop("AWS_PROFILE", None)
# enqueue's own id key (no --id-key, no stack): a fresh one per test session, never ~/.config.
os.environ.setdefault(
    "BULKMAIL_ID_KEY_FILE", str(Path(tempfile.mkdtemp(prefix="bulkmail-tests-")) / "id-key")
)

# The browser tests' fixture (`browser`: headless Chromium), for every suite.
from tests.browser import browser  # noqa: F401
