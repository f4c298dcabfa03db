"""Run one fuzz target for a bounded time: ``python -m tests.fuzz.run TARGET SECONDS``.

Seeds come from ``tests/fuzz/corpus/TARGET``; new interesting inputs go to
``reports/fuzz/TARGET`` and crashes to ``reports/fuzz/crash-*`` (the exit
status is then non-zero).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

from .targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    name, seconds = sys.argv[1], int(sys.argv[2])
    work = ROOT / "reports" / "fuzz" / name
    work.mkdir(parents=True, exist_ok=True)
    seeds = ROOT / "tests" / "fuzz" / "corpus" / name
    args = [sys.argv[0], str(work), *([str(seeds)] if seeds.is_dir() else [])]
    args += [f"-max_total_time={seconds}", "-max_len=4096", "-timeout=10", "-rss_limit_mb=2048"]
    args += [f"-artifact_prefix={ROOT / 'reports' / 'fuzz'}/crash-{name}-", "-print_final_stats=1"]
    atheris.Setup(args, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
