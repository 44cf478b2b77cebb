"""Sweep report: `python src/report.py [SWEEP]` writes report.md and figures into the sweep folder (default: the
newest under outputs/multirun/); `python src/report.py --samples-only` writes only the class-sample grid."""

import argparse
import json
import sys
from pathlib import Path

from fashionlab.runfolder import CheckpointError
from fashionlab.data import DataError
from fashionlab.reporting.report import write_report, write_samples
from fashionlab.reporting.runs import ReportError, newest_sweep


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep", nargs="?", type=Path, help="sweep folder, outputs/multirun/<date>/<time>")
    parser.add_argument("--data-dir", help="where the data lives now (default: where the runs were trained on it)")
    parser.add_argument("--threshold", type=float, default=0.85, help="val acc for 'epochs to reach' (default 0.85)")
    parser.add_argument("--samples-only", metavar="PNG", type=Path, nargs="?", const=Path("outputs/class_samples.png"),
                        help="write only the class-sample grid (default path outputs/class_samples.png)")
    args = parser.parse_args(argv)
    try:
        if args.samples_only:
            print(write_samples(args.samples_only, args.data_dir or "data"))
            return
        result = write_report(args.sweep or newest_sweep(), args.data_dir, args.threshold)
    except (ReportError, DataError, CheckpointError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
