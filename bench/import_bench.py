"""Part 3: cold start. Importing the handler module against a bare `import boto3`.

Each statement runs in a fresh interpreter (`python -c ...`), several times, interleaved;
the median of `python -c pass` (interpreter start-up, site) is subtracted. One untimed run
of each first writes the bytecode caches: a Lambda package should ship them, since Python
cannot write them to the read-only /var/task and would compile on every cold start.
`handler + clients` adds what the first invocation does before its first call: building
the sender and its boto3 clients (`handler.sender()`), for information.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.fake_aws import GUARD_ENDPOINT
from bench.harness import AWS_ENV, LAMBDA_SRC, ROOT, handler_env

STATEMENTS = {
    "python": "pass",
    "boto3": "import boto3",
    "handler": "import handler",
    "handler + clients": "import handler; handler.sender()",
}


def _env(*, write_bytecode: bool = True) -> dict[str, str]:
    env = {**os.environ, **AWS_ENV, **handler_env(in_flight=10, rate=200.0)}
    env["PYTHONPATH"] = str(LAMBDA_SRC)
    env["AWS_ENDPOINT_URL"] = GUARD_ENDPOINT  # nothing is called; if it were, loopback
    if write_bytecode:  # as a deployed package ships its .pyc files
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time(statement: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", statement], env=env, cwd=ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - started


def run_imports(repeats: int = 7, *, warm: bool = True) -> dict[str, Any]:
    env = _env(write_bytecode=warm)
    for statement in STATEMENTS.values() if warm else ():  # untimed: bytecode caches
        _time(statement, env)
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(repeats):
        for name, statement in STATEMENTS.items():
            times[name].append(_time(statement, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python"]
    net = {name: medians[name] - base for name in STATEMENTS if name != "python"}
    return {
        "repeats": repeats,
        "interpreter_s": base,
        "net_s": net,
        "spread_s": {
            name: [min(values) - base, max(values) - base]
            for name, values in times.items()
            if name != "python"
        },
        # nan when load hid boto3's import cost (a net time at or below zero)
        "ratio": net["handler"] / net["boto3"] if net["boto3"] > 0 else float("nan"),
        "beyond_boto3": import_breakdown(env),
    }


def import_breakdown(env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """`python -X importtime -c 'import boto3; import handler'`: what `import handler`
    imports beyond boto3 (its direct imports, by cumulative ms), largest first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import boto3; import handler"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []  # (depth, name, cumulative us), in the order Python reports them
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((depth, name.strip(), int(parts[1])))
    # A module is reported after its imports: handler's direct imports are the depth-1 rows
    # just before the depth-0 "handler" row.
    end = next(i for i, (depth, name, _) in enumerate(rows) if depth == 0 and name == "handler")
    children = []
    for depth, name, cumulative in reversed(rows[:end]):
        if depth == 0:
            break
        if depth == 1:
            children.append((name, cumulative / 1000))
    return sorted(children, key=lambda item: -item[1])[:top]
