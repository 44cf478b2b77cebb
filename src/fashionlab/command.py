"""The sweep command behind every sweep target (src/sweep.py, src/confirm.py): its arguments checked in one place
before any folder is made, the sweep run to its end in src/train.py, the report written however the sweep ended, and
an exit status that says whether every job ran.

Seeds: `N` runs each configuration over seeds 0..N-1 (replacing a recipe's own seed list); `auto` (`auto:N`) adds
seeds in rounds until every comparison is decided, at most 20 (N) per configuration, within `--budget` minutes. The
Hydra side of each rule (a search takes no seeds, SEEDS=auto needs two configurations) is fashionlab.preflight's,
which src/train.py applies before its first folder.
"""

import argparse
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from fashionlab.overrides import override_key
from fashionlab.sweepfolder import MULTIRUN, SWEEPS_ROOT, Seeds, read_plan

SRC = Path(__file__).resolve().parents[1]
MAX_AUTO = 20  # seeds per configuration of SEEDS=auto


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end the command with one `error:` line and exit status 2."""

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def seeds(text: str) -> Seeds:
    """A number of seeds (N >= 1), `auto` or `auto:N` (N >= 2)."""
    most = text.removeprefix("auto:") if text.startswith("auto:") else str(MAX_AUTO) if text == "auto" else None
    if most is None and text.isdigit() and int(text) > 0:
        return Seeds(int(text), False)
    if most is not None and most.isdigit() and int(most) >= 2:
        return Seeds(int(most), True)
    raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a positive integer (that many seeds), auto or "
                                     f"auto:N with N >= 2 (seeds added until decided, at most {MAX_AUTO} or N)")


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a positive integer")
    return int(text)


def minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a number of minutes > 0")
    return value


def new_sweep_folder() -> Path:
    """A new folder in Hydra's layout, named here so that the report reads this sweep, not one running beside it."""
    return SWEEPS_ROOT / datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")


def check_budget(parser: OneLineParser, budget: float | None, seeds: Seeds | None) -> None:
    if budget is not None and not (seeds and seeds.auto):
        parser.error(f"--budget {budget:g} (BUDGET): not allowed with "
                     f"{'--seeds ' + str(seeds) if seeds else 'no --seeds'}: a budget stops the rounds of --seeds auto "
                     "(SEEDS=auto); a fixed number of seeds runs them all")


def sweep_parser() -> OneLineParser:
    parser = OneLineParser(prog="src/sweep.py", description="Run a sweep and write its report: "
                           "python src/sweep.py [--seeds N|auto|auto:N] [--budget MIN] [--then-confirm top:N|groups] "
                           "[--dir DIR] override ...; python src/sweep.py --resume DIR [--budget MIN]")
    parser.add_argument("--seeds", type=seeds, help="replicates of each configuration: N (seeds 0..N-1), auto or "
                        f"auto:N (added in rounds until every comparison is decided, at most {MAX_AUTO} or N)")
    parser.add_argument("--budget", type=minutes, help="with --seeds auto: minutes in all; no round starts that would "
                        "end past it. With --resume: more minutes for a sequential sweep, from what it spent")
    parser.add_argument("--then-confirm", metavar="top:N|groups", type=then_confirm,
                        help="after the sweep and its report, rerun its top N configurations (or each group's best) "
                             "over fresh seeds in a new sweep; --seeds and --budget then apply to that confirmation")
    parser.add_argument("--dir", type=Path, help="the sweep's folder (default: a new outputs/multirun/<date>/<time>); "
                        "a search's folder again continues its study")
    parser.add_argument("--resume", metavar="DIR", type=Path, help="continue a stopped or lost sweep in its folder")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimizer=sgd,adam launcher=parallel")
    return parser


def then_confirm(text: str) -> str | int:
    if text == "groups":
        return text
    top = text.removeprefix("top:")
    if text.startswith("top:") and top.isdigit() and int(top) > 0:
        return int(top)
    raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be top:N (N a positive integer) or groups")


def sweeper_of(overrides: list[str]) -> str:
    """The class name of the sweeper the overrides select (composed as src/train.py -m composes them, in about a
    second, without the training stack); exits with Hydra's one line for an unknown option or key."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.types import RunMode

    from fashionlab.resolvers import register_resolvers

    register_resolvers()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(SRC.parent / "conf"), job_name="train"):
            config = GlobalHydra.instance().hydra.compose_config("train", overrides, run_mode=RunMode.MULTIRUN)
    except HydraException as error:
        sys.exit(f"error: {str(error).strip().splitlines()[0]}")
    return config.hydra.sweeper._target_.rsplit(".", 1)[-1]


def seed_overrides(found: Seeds | None) -> list[str]:
    """The overrides that give each configuration its seeds."""
    if found is None:
        return []
    if found.auto:
        return ["hydra/sweeper=confirm", f"hydra.sweeper.max_seeds={found.count}"]
    return [f"seed={','.join(map(str, range(found.count)))}"]


def sweep_main(argv: list[str] | None = None) -> int:
    parser = sweep_parser()
    args = parser.parse_intermixed_args(argv)
    if args.resume is not None:
        return resume(parser, args)
    sweep_seeds = None if args.then_confirm else args.seeds
    check_budget(parser, args.budget, args.seeds)
    for key, given in (("seed", sweep_seeds), ("hydra.sweep.dir", args.dir),
                       ("hydra/sweeper", sweep_seeds and sweep_seeds.auto)):
        clash = next((o for o in args.overrides if override_key(o) == key), None)
        if clash and given:
            parser.error(f"{clash}: not allowed with --{'dir' if key == 'hydra.sweep.dir' else 'seeds'}, which sets "
                         f"{key}; drop one of them")
    if sweep_seeds is not None and sweeper_of(args.overrides) == "SearchSweeper":
        parser.error(f"--seeds {sweep_seeds} (SEEDS): not allowed for a search, whose trials are drawn one run each: "
                     "confirm its top trials over seeds with make confirm SWEEP=<its folder> SEEDS=N")
    folder = args.dir or new_sweep_folder()
    budget = [f"hydra.sweeper.budget_minutes={args.budget:g}"] if args.budget and sweep_seeds else []
    status = run_and_report(folder, ["-m", *args.overrides, *seed_overrides(sweep_seeds), *budget,
                                     f"hydra.sweep.dir={folder}"])
    if args.then_confirm is None or not (folder / MULTIRUN).is_file():
        return status
    top, per_group = (3, True) if args.then_confirm == "groups" else (args.then_confirm, False)
    confirmed = confirm(folder, top, args.seeds or Seeds(MAX_AUTO, True), per_group, None, args.budget, [])
    return status or confirmed


def resume(parser: OneLineParser, args: argparse.Namespace) -> int:
    """`--resume DIR [--budget MIN]`: the sweep's own command into its own folder; a sequential sweep's budget goes on
    from the minutes it spent, or, with --budget, MIN more from there."""
    if args.seeds or args.then_confirm or args.dir or args.overrides:
        given = args.overrides or [f"--{name.replace('_', '-')}" for name in ("seeds", "then_confirm", "dir")
                                   if getattr(args, name)]
        parser.error(f"{given[0]}: not allowed with --resume, which continues the sweep's own plan (its seeds and "
                     "looks fixed its error rates); to run more seeds, confirm it: make confirm SWEEP=<dir> SEEDS=...")
    if not (args.resume / MULTIRUN).is_file():
        parser.error(f"--resume {args.resume}: not a sweep folder (no {MULTIRUN}); a sweep is "
                     "outputs/multirun/<date>/<time>")
    sequential = read_plan(args.resume).sequential
    budget = []
    if args.budget is not None:
        if sequential is None:
            parser.error(f"--budget {args.budget:g} (BUDGET): not allowed, {args.resume} is not a sequential sweep "
                         "(SEEDS=auto): it runs all its jobs")
        total = sequential.minutes_spent + args.budget
        print(f"Budget: {sequential.minutes_spent:.1f} minutes spent, {args.budget:g} more: {total:.1f} in all")
        budget = [f"hydra.sweeper.budget_minutes={total:.2f}"]
    return run_and_report(args.resume, ["-m", f"resume={args.resume}", *budget])


def confirm(source: Path, top: int, found: Seeds, per_group: bool, folder: Path | None, budget: float | None,
            overrides: list[str]) -> int:
    """Rerun the top configurations of `source` (or each group's best) over fresh seeds in a new sweep; its report."""
    from fashionlab.config import ConfigError
    from fashionlab.confirmation import plan, record
    from fashionlab.reporting.runs import ReportError

    try:
        confirmation = plan(source, top, found, per_group, folder or new_sweep_folder(), budget)
    except (ReportError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    record(confirmation)
    print(f"Confirming {len(confirmation.configurations)} configurations of {source} over seeds "
          f"{confirmation.seeds_text} in {confirmation.sweep}", flush=True)
    return run_and_report(confirmation.sweep, confirmation.command(overrides))


def run_and_report(folder: Path, arguments: list[str]) -> int:
    """Run src/train.py with `arguments`, then, once the sweep has started, its report, whatever became of its jobs
    (each row says its status). Non-zero when the sweep or a job failed, or the report could not be written."""
    command = [sys.executable, str(SRC / "train.py"), *arguments]
    print("  " + " ".join(command[1:]), flush=True)
    status = run_to_end(command)
    if not (folder / MULTIRUN).is_file():
        return status or 1
    # the reporting stack, once there is a sweep to report
    from fashionlab.data import DataError
    from fashionlab.reporting.report import write_report
    from fashionlab.reporting.runs import ReportError
    from fashionlab.runfolder import CheckpointError

    try:
        result = write_report(folder)
    except (ReportError, DataError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return status or 1
    print(f"Report: {folder / 'report.md'}" + (" (provisional)" if result["provisional"] else ""))
    if result["failed"]:
        print(f"error: {len(result['failed'])} jobs failed ({', '.join(result['failed'])}): their rows in "
              f"{folder}/report.md say why", file=sys.stderr)
    return status or (1 if result["failed"] else 0)


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
