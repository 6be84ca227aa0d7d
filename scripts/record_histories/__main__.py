"""`python -m scripts.record_histories`: record every suite's histories into tests/histories/.

Run it after a deliberate change to an orchestrator (a new version, a new path) and review the
diff of tests/histories/: it is the new behaviour the replay check will hold the code to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.record_histories.recording import record_suite
from scripts.record_histories.suites import SUITES

OUT = Path(__file__).resolve().parents[2] / "tests" / "histories"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.record_histories", description=__doc__)
    parser.add_argument(
        "--orchestrator", action="append", help="record only this orchestrator's suite (repeatable)"
    )
    parser.add_argument("--case", action="append", help="record only this case (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (tests/histories)")
    parser.add_argument("--list", action="store_true", help="list suites and cases, record nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    known = {suite.orchestrator for suite in SUITES}
    unknown = set(args.orchestrator or []) - known
    if unknown:
        print(f"no suite for {sorted(unknown)}; suites: {sorted(known)}", file=sys.stderr)
        return 2
    suites = [s for s in SUITES if not args.orchestrator or s.orchestrator in args.orchestrator]
    if args.list:
        for suite in suites:
            print(f"{suite.orchestrator} (app {suite.app_dir.name}):")
            for case in suite.cases:
                print(f"  {case.name}: {case.description}")
        return 0
    only = set(args.case) if args.case else None
    if only:
        cases = {c.name for s in suites for c in s.cases}
        missing = only - cases
        if missing:
            print(f"no case(s) {sorted(missing)} in {sorted(s.orchestrator for s in suites)}")
            return 2
    for suite in suites:
        wanted = only & {c.name for c in suite.cases} if only else None
        if only and not wanted:
            continue
        written = record_suite(suite, args.out, wanted)
        stale = _stale(args.out / suite.orchestrator, written) if not only else []
        for path in stale:
            print(f"stale (no case records it any more; delete it if that is intended): {path}")
    return 0


def _stale(folder: Path, written: list[Path]) -> list[Path]:
    return sorted(set(folder.glob("*.json")) - set(written)) if folder.is_dir() else []


if __name__ == "__main__":
    sys.exit(main())
