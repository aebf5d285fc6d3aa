"""Cold start as Lambda runs it: the function's asset in a read-only directory, no bytecode
written, against a bare boto3 asset built the same way (issue 23).

Both assets are built like the stack's (stacks/lambda_asset.py): `pip install --target` of
the pinned binary wheels, here for this machine's Python and platform so that they can be
imported here, plus `lambda_src/` for the function (without the AWS CRT, as the default
stack ships it). The bare asset is boto3 and botocore at the same pins and a `handler.py`
that imports boto3. Each directory is made read-only and every process runs with
PYTHONDONTWRITEBYTECODE=1 and without site-packages (`-S`): as in Lambda, where /var/task
is read-only, nothing is compiled once and reused: every cold start compiles every module
it imports, unless the asset ships bytecode for the runtime's Python.

Figures are CPU times (user + system of the child process), the least of interleaved fresh
processes, less `python -S -c pass`: wall time on a shared 2-core machine swings with load,
and other work only ever adds to a process's CPU time (cache misses), so the least is the
figure a rerun reproduces.
`with bytecode` is the function's asset compiled for this Python (`compileall`), what
shipping bytecode for the runtime's Python would save; the stack cannot build that for
Lambda's Python 3.14 on a machine without 3.14 (docs/sizing.md says why).
"""

from __future__ import annotations

import compileall
import os
import resource
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from bench.harness import AWS_ENV, ROOT, handler_env

BUILD = ROOT / "build" / "bench" / "cold-start"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
STATEMENTS = {
    "python": "pass",
    "boto3 asset": "import handler",
    "function asset": "import handler",
    "function asset, with bytecode": "import handler",
    "function asset + clients": "import handler; handler.sender()",
}
ASSET_OF = {
    "python": "boto3",
    "boto3 asset": "boto3",
    "function asset": "function",
    "function asset, with bytecode": "function-pyc",
    "function asset + clients": "function",
}


def _platform() -> str:
    machine = sysconfig.get_platform().rsplit("-", 1)[-1]
    return f"manylinux2014_{'aarch64' if machine in ('aarch64', 'arm64') else 'x86_64'}"


def _install(distributions: tuple[str, ...]) -> Path:
    """The pinned wheels for this Python, cached as the stack caches its own."""
    from stacks.lambda_asset import _PipBundling, pinned_version

    requirements = [f"{name}=={pinned_version(name)}" for name in distributions]
    bundling = _PipBundling(requirements, PY, _platform())
    return bundling._dependencies()


def _read_only(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode
        item.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _fresh(path: Path) -> Path:
    if path.exists():
        for item in [path, *path.rglob("*")]:
            item.chmod(item.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def build_assets() -> dict[str, Path]:
    from stacks.lambda_asset import BUNDLED_DISTRIBUTIONS

    function = _fresh(BUILD / "function")
    shutil.copytree(_install(BUNDLED_DISTRIBUTIONS), function, dirs_exist_ok=True)
    shutil.copytree(
        ROOT / "lambda_src",
        function,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    compiled = _fresh(BUILD / "function-pyc")
    shutil.copytree(function, compiled, dirs_exist_ok=True)
    compileall.compile_dir(compiled, quiet=2, workers=1)
    bare = _fresh(BUILD / "boto3")
    shutil.copytree(_install(("boto3", "botocore")), bare, dirs_exist_ok=True)
    (bare / "handler.py").write_text(
        "import boto3\n\n\ndef lambda_handler(event, context):\n    return {}\n"
    )
    for path in (function, compiled, bare):
        _read_only(path)
    return {"function": function, "function-pyc": compiled, "boto3": bare}


def _env(asset: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(asset),
        "PYTHONDONTWRITEBYTECODE": "1",
        **AWS_ENV,
        **handler_env(in_flight=4, rate=200.0),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing is called; if it were, loopback
    }
    return env


def _cpu(statement: str, asset: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-S", "-c", statement],
        env=_env(asset),
        cwd=asset,
        check=True,
        capture_output=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_cold_start(repeats: int = 7) -> dict[str, Any]:
    assets = build_assets()
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(repeats):
        for name, statement in STATEMENTS.items():
            times[name].append(_cpu(statement, assets[ASSET_OF[name]]))
    least = {name: min(values) for name, values in times.items()}
    base = least["python"]
    net = {name: least[name] - base for name in STATEMENTS if name != "python"}
    sizes = {name: _size_mb(path) for name, path in assets.items()}
    return {
        "repeats": repeats,
        "python": PY,
        "interpreter_s": base,
        "net_s": net,
        "ratio": net["function asset"] / net["boto3 asset"],
        "ratio_with_bytecode": net["function asset, with bytecode"] / net["boto3 asset"],
        "asset_mb": sizes,
        "crt_in_asset": any(assets["function"].glob("awscrt*")),
    }


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    import json

    print(json.dumps(run_cold_start(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=1))
