"""Command line of minivit.experiments (see its docstring); each run of a model uses one thread."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch

from minivit.experiments import training
from minivit.experiments.processes import map_in_processes
from minivit.experiments.results import read_csv, write_csv
from minivit.experiments.two_marks import two_marks_experiment
from minivit.experiments.weak_supervision import add_to_results, weak_supervision


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minivit.experiments",
                                     description="The longer runs behind notebooks 01, 08 and 09.")
    parser.add_argument("experiment", choices=["two-marks", "learning-rates", "data-size", "weak-supervision",
                                               "weak-supervision-additions"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rates", help="data-size: the CSV of learning-rates, whose chosen rates it trains with")
    parser.add_argument("--processes", type=int, default=1, help="runs trained at once, one thread each")
    parser.add_argument("--out", required=True,
                        help="the CSV file to write (weak-supervision-additions: the stored one, merged into)")
    parser.add_argument("--models", nargs="+", help="learning-rates, data-size: only these arms (names of "
                        "minivit.experiments.training.VARIANTS)")
    parser.add_argument("--fraction", type=float, default=1.0, help="learning-rates: share of the fitting digits")
    parser.add_argument("--lrs", type=float, nargs="+",
                        help="learning-rates: the rates to try (default: LEARNING_RATES)")
    parser.add_argument("--merge", action="store_true", help="learning-rates, data-size: replace only these "
                        "arms' runs in the CSV at --out, keep the others")
    args = parser.parse_args(argv)
    if args.experiment == "data-size" and not args.rates:
        parser.error("data-size needs --rates, the CSV that learning-rates wrote")
    torch.set_num_threads(1)
    start = time.monotonic()
    if args.experiment == "two-marks":
        rows = two_marks_experiment(seeds=args.seeds, processes=args.processes)
    elif args.experiment == "learning-rates":
        rows = training.learning_rate_sweep(**({"models": args.models} if args.models else {}), seeds=args.seeds,
                                            rates=args.lrs or training.LEARNING_RATES, processes=args.processes,
                                            fraction=args.fraction)
    elif args.experiment == "data-size":
        rates = training.chosen_rates(read_csv(args.rates))
        rows = training.data_size(rates, seeds=args.seeds, processes=args.processes, names=args.models)
    elif args.experiment == "weak-supervision":
        rows = map_in_processes(weak_supervision, args.seeds, args.processes)
    else:  # writes the file itself, seed by seed
        rows = add_to_results(args.out, args.seeds, args.processes)
    if args.merge and args.experiment in ("learning-rates", "data-size"):
        rows = training.merge_rows(read_csv(args.out), rows)
    write_csv(rows, args.out)
    print(f"{len(rows)} rows written to {args.out} in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
