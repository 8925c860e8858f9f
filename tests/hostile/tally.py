"""Count the hostile corpus's outcomes by category for a probekit source tree.

    python3 tests/hostile/tally.py [TREE]    # TREE: a probekit checkout (default: this one)

Each case runs as its own process (memory-limited to 4 GiB, 120 s) importing probekit from TREE,
so the counts of an older tree (whose mistakes may allocate without bound) are safe to take.
"""

from __future__ import annotations

import collections
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_cases import CASES, CATEGORIES, build_fixtures, classify, expand, run_subprocess, subprocess_env  # noqa: E402


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def main() -> None:
    tree = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(tree))
    env = subprocess_env(tree)
    counts: collections.Counter = collections.Counter()
    by_command: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with tempfile.TemporaryDirectory() as folder:
        fixtures = build_fixtures(Path(folder) / "fixtures")
        for index, case in enumerate(CASES):
            tmp = Path(folder) / f"case{index}"
            tmp.mkdir()
            argv, expect = expand(case, fixtures, tmp)
            code, stderr = run_subprocess(argv, env, tmp, preexec=_limit_memory)
            category = classify(case, code, stderr, expect)
            counts[category] += 1
            by_command[case.command][category] += 1
            if category != "handled":
                last = (stderr.strip().splitlines() or [""])[-1][:150]
                print(f"{case.id}: {category} (exit {code}) {last}", flush=True)
    print(f"\n{len(CASES)} cases: " + ", ".join(f"{name} {counts[name]}" for name in CATEGORIES))
    for command, counter in sorted(by_command.items()):
        print(f"  {command}: " + ", ".join(f"{name} {counter[name]}" for name in CATEGORIES if counter[name]))


if __name__ == "__main__":
    main()
