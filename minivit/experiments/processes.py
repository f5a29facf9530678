"""Runs of the experiments side by side: each in a worker process of one thread, so that two runs on two
cores take the time of one (a model this small gains little from a second thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import TypeVar

import torch

Job = TypeVar("Job")
Result = TypeVar("Result")


def _one_thread(function: Callable[[Job], Result], job: Job) -> Result:
    torch.set_num_threads(1)
    return function(job)


def map_in_processes(function: Callable[[Job], Result], jobs: Iterable[Job], processes: int = 1) -> list[Result]:
    """[function(job) for job in jobs], in `processes` worker processes of one thread each (1: in this
    process, with its own number of threads); results in the order of jobs. `function` must be defined at
    the top level of a module, so that the workers can import it."""
    if processes == 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(partial(_one_thread, function), jobs))
