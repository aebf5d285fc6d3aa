"""The default app's synthesized template, for those that must agree with what it provisions.

The local run creates its queues and tables from it and the benchmarks take the sender's
environment from it, so neither restates a fact of the stack. The default app (cdk.json's
context, bundling skipped: the code asset is not read) is synthesized in a fresh process (jsii
stays out of the caller) and its template cached under build/synth/ by the hash of what decides
it: stacks/, cdk.json, app.py, templates/ and lambda_src/bulk_sender/ (names, limits and rules
the stack reads from there). A second run of `make demo` or of the tests reads the cache.

No CDK import here: the local run imports this module.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "synth"
REGION = "eu-west-1"
_SYNTH = r"""
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import aws_cdk as cdk
from stacks.bulk_email_stack import build
context = json.load(open(sys.argv[1] + "/cdk.json"))["context"]
context["aws:cdk:bundling-stacks"] = []
context["aws:cdk:enable-path-metadata"] = True
out = tempfile.mkdtemp()
app = cdk.App(context=context, outdir=out)
stack = build(app)
app.synth()
print(json.dumps(json.load(open(f"{out}/{stack.stack_name}.template.json"))))
"""


def _inputs() -> list[Path]:
    return [
        *sorted((ROOT / "stacks").glob("*.py")),
        ROOT / "cdk.json",
        ROOT / "app.py",
        *sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file()),
        *sorted((ROOT / "lambda_src" / "bulk_sender").glob("*.py")),
    ]


def inputs_hash() -> str:
    """The hash of every file the default app's template depends on."""
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _synthesize() -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": REGION,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SYNTH, str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"synthesizing the default app failed:\n{done.stderr[-3000:]}")
    template: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return template


@functools.cache
def default_template() -> dict[str, Any]:
    """The default app's template (synthesized once per change of its inputs; concurrent
    callers, e.g. pytest-xdist's workers, wait for the one synthesizing it)."""
    cached = CACHE / f"template-{inputs_hash()}.json"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with _exclusive(CACHE / "synth.lock"):
            if not cached.exists():
                template = _synthesize()
                # Written whole, then renamed: a reader sees no file or all of it.
                with tempfile.NamedTemporaryFile(
                    "w", dir=CACHE, delete=False, encoding="utf-8"
                ) as out:
                    json.dump(template, out)
                Path(out.name).replace(cached)
    loaded: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
    return loaded


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """A lock between processes where the platform has one (POSIX); none elsewhere."""
    try:
        import fcntl
    except ImportError:  # Windows: two first runs at once both synthesize, harmlessly
        yield
        return
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def resource(template: dict[str, Any], path: str) -> dict[str, Any]:
    """The properties of the resource at that construct path under the stack (e.g.
    ``Queues/Queue``, its ``Resource`` child implied)."""
    wanted = {path, f"{path}/Resource"}
    for found in template["Resources"].values():
        construct_path = found.get("Metadata", {}).get("aws:cdk:path", "")
        if construct_path.partition("/")[2] in wanted:
            properties: dict[str, Any] = found["Properties"]
            return properties
    raise LookupError(f"the synthesized template has no resource at {path}")
