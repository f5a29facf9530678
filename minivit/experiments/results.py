"""Results of many training runs: one row (a dict) per run, summaries per group of rows, and the CSV
files in course/results/ that the notebooks read.

A trained accuracy moves with the seed (initial weights, order of the batches) and with the test
set itself (which digits happen to be in it). `summarize` gives the first: mean and spread over the
seeds; `standard_error` the second: how far an accuracy measured on n test images may be from the
model's accuracy on all the images of its kind.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path


def summarize(rows: Iterable[dict], by: Sequence[str], value: str) -> dict[tuple, dict[str, float]]:
    """Per group of rows with equal `by` fields: mean, std (sample; 0 for one row), min, max and n of `value`."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(float(row[value]))
    return {
        key: dict(mean=statistics.fmean(v), std=statistics.stdev(v) if len(v) > 1 else 0.0,
                  min=min(v), max=max(v), n=len(v))
        for key, v in groups.items()
    }


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on n independent test images,
    sqrt(p (1 - p) / n): with 360 test digits and p = 0.95, about 0.011."""
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy}")
    if n < 1:
        raise ValueError(f"n must be a positive number of test images, got {n}")
    return math.sqrt(accuracy * (1.0 - accuracy) / n)


def write_csv(rows: Sequence[dict], path: str | Path) -> None:
    """Rows (dicts with the same keys) to a CSV file, floats rounded to 4 decimals (those below 0.001 in size,
    such as a small learning rate, to 4 significant digits instead, so that 0.00025 is not written 0.0003)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _rounded(v) if isinstance(v, float) else v for k, v in row.items()})


def _rounded(value: float) -> float:
    return float(f"{value:.4g}") if abs(value) < 1e-3 else round(value, 4)


def read_csv(path: str | Path) -> list[dict]:
    """The rows of `write_csv`, numbers parsed back (ints stay ints; "True"/"False" become bools; an
    empty field stays "")."""

    def parse(text: str) -> float | int | str | bool:
        if text in ("True", "False"):
            return text == "True"
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with Path(path).open(newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]
