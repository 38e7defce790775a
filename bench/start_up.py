"""Target 2 alone: `mockauth serve` start to first answered login against the trivial app.

    python bench/start_up.py                      # 15 starts each, about 10 seconds
    python bench/start_up.py --starts 31
    python bench/start_up.py --mockauth /tmp/old-venv/bin/mockauth --mockauth .venv/bin/mockauth

bench/run.py measures the same among every other server (9 starts each, cycled over all
of them); this is the quick loop for work on start-up: the trivial app and each
`mockauth` executable given (default: the one beside this Python) started in turn, the
median of each, wall and CPU (the server process's user + sys, which moves far less with
other work on the machine), and each one's ratio to the trivial app.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from run import BENCH, Target, measure_start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=15, help="starts per server, median taken")
    parser.add_argument(
        "--mockauth", action="append", metavar="PATH",
        help="a mockauth executable to start (repeatable; default: the one beside this Python)",
    )
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run: bytecode cached
    executables = args.mockauth or [str(Path(sys.executable).with_name("mockauth"))]
    targets = [Target("trivial app", [sys.executable, str(BENCH / "trivial_app.py"), "{port}"], baseline=True)]
    targets += [Target(path, [path, "serve", "--port", "{port}"]) for path in executables]
    wall: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "servers.log"
        for target in targets:  # the first start of each fills the caches (bytecode, YAML)
            measure_start(target, log)
        for _ in range(args.starts):
            for target in targets:
                seconds, cpu_seconds = measure_start(target, log)
                wall[target.name].append(seconds)
                cpu[target.name].append(cpu_seconds)
    base_wall = statistics.median(wall[targets[0].name])
    base_cpu = statistics.median(cpu[targets[0].name])
    for target in targets:
        w, c = statistics.median(wall[target.name]), statistics.median(cpu[target.name])
        print(
            f"{target.name}: {w * 1000:.0f} ms wall ({w / base_wall:.2f}x), "
            f"{c * 1000:.0f} ms CPU ({c / base_cpu:.2f}x)"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
