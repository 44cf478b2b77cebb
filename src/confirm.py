"""Rerun the top configurations of a finished sweep over fresh seeds, then write the new sweep's report:
`python src/confirm.py SWEEP [--top 3] [--seeds 5|auto|auto:N] [--budget MINUTES] [--per-group] [override ...]`
(make confirm SWEEP=... TOP=3 SEEDS=5 ARGS="launcher=parallel"); the overrides go to every job, e.g. where it runs,
and replace the source sweep's override of the same key."""

import sys
from pathlib import Path

from fashionlab.command import OneLineParser, check_budget, confirm, positive, seeds, minutes
from fashionlab.sweepfolder import Seeds


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="src/confirm.py", description=__doc__)
    parser.add_argument("sweep", type=Path, help="a finished sweep folder, outputs/multirun/<date>/<time>")
    parser.add_argument("--top", type=positive, default=3, help="configurations to rerun, by mean best val acc")
    parser.add_argument("--seeds", type=seeds, default=Seeds(5, False), help="replicates of each, on seeds the sweep "
                        "did not use; auto (auto:N): added in rounds until every comparison is decided, at most 20 (N)")
    parser.add_argument("--budget", type=minutes, help="with --seeds auto: start no round that would end past it")
    parser.add_argument("--per-group", action="store_true", help="rerun the best configuration of each group instead")
    parser.add_argument("--sweep-dir", type=Path, help="the new sweep's folder (default: a new one under outputs/)")
    parser.add_argument("overrides", nargs="*", help="for every job, e.g. launcher=parallel (not what it compares)")
    args = parser.parse_intermixed_args(argv)  # overrides may follow the options
    check_budget(parser, args.budget, args.seeds)
    return confirm(args.sweep, args.top, args.seeds, args.per_group, args.sweep_dir, args.budget, args.overrides)


if __name__ == "__main__":
    sys.exit(main())
