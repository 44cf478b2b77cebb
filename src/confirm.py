"""Rerun the top configurations of a finished sweep over fresh seeds, then write the new sweep's report:
`python src/confirm.py SWEEP [--top 3] [--seeds 5|auto|auto:N] [--budget MINUTES] [--per-group] [override ...]`
(make confirm SWEEP=... TOP=3 SEEDS=5 ARGS="launcher=parallel"); the overrides go to every job, e.g. where it runs."""

import argparse
import signal
import subprocess
import sys
from pathlib import Path


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.exit(f"error: {message}")


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a positive integer")
    return int(text)


def seeds(text: str) -> int | str:
    """A number of seeds, or `auto:N` (auto: auto:20): seeds added in rounds until decided, at most N."""
    most = text.removeprefix("auto:") if text.startswith("auto:") else "20" if text == "auto" else None
    if most is None and text.isdigit() and int(text) > 0:
        return int(text)
    if most is not None and most.isdigit() and int(most) >= 2:
        return f"auto:{int(most)}"
    raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a positive integer, auto or auto:N with N >= 2")


def minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a number of minutes > 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__)
    parser.add_argument("sweep", type=Path, help="a finished sweep folder, outputs/multirun/<date>/<time>")
    parser.add_argument("--top", type=positive, default=3, help="configurations to rerun, by mean best val acc")
    parser.add_argument("--seeds", type=seeds, default=5, help="replicates of each, on seeds the sweep did not use; "
                        "auto (auto:N): added in rounds until every comparison is decided, at most 20 (N) each")
    parser.add_argument("--budget", type=minutes, help="with --seeds auto: start no round that would end past it")
    parser.add_argument("--per-group", action="store_true", help="rerun the best configuration of each group instead")
    parser.add_argument("--sweep-dir", type=Path, help="the new sweep's folder (default: a new one under outputs/)")
    parser.add_argument("overrides", nargs="*", help="for every job, e.g. launcher=parallel (not what it compares)")
    args = parser.parse_intermixed_args(argv)  # overrides may follow the options
    if args.budget and not str(args.seeds).startswith("auto"):
        parser.error(f"--budget {args.budget:g}: not allowed with --seeds {args.seeds}, only with --seeds auto")
    # Only now the reporting and training stack (seconds to import): --help and bad options are answered without it.
    from fashionlab.confirmation import plan, record
    from fashionlab.reporting.runs import ReportError
    from report import main as report_main

    try:
        confirmation = plan(args.sweep, args.top, args.seeds, args.per_group, args.sweep_dir, args.budget)
    except ReportError as error:
        sys.exit(f"error: {error}")
    record(confirmation)
    command = [sys.executable, str(Path(__file__).with_name("train.py")), *confirmation.command, *args.overrides]
    print(f"Confirming {len(confirmation.configurations)} configurations of {args.sweep} over seeds "
          f"{confirmation.seeds_text} in {confirmation.sweep}:\n  " + " ".join(command[1:]), flush=True)
    status = run_to_end(command)
    # The report even when a job failed or the sweep was stopped (its rows show each job's status), once the sweep has
    # started; in this process, which has loaded the training stack already. The exit status stays the sweep's.
    if (confirmation.sweep / "multirun.yaml").is_file():
        report_main([str(confirmation.sweep)])
    return status


def run_to_end(command: list[str]) -> int:
    """Run `command` and wait for it, however it is stopped: Ctrl-C reaches it from the terminal (it stops its jobs
    cleanly) while this process waits instead of killing it; SIGTERM is passed on to it."""
    process = subprocess.Popen(command)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
