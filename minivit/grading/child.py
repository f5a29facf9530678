"""Calls a learner's function on cases and records what came back, as plain tensors and numbers.

This runs where the learner's code runs: in the notebook for the check cell, and in the grader's
child kernel for hidden cases. The grader trusts nothing recorded here: the records go back as a
safetensors file (save: tensors, and the records' form as JSON), which the grader reads without
running any code, checks in form, dtype and size, and compares in its own process, where it also
decides which of the minivit functions that the learner's function entered were allowed.
"""

from __future__ import annotations

import json
import os
import traceback
from typing import Any, Callable

import numpy
import safetensors.torch
import torch

import minivit
from minivit.grading.tracing import Tracer, notebook_threads

_LIBRARIES = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, minivit))
# The dtypes a result may have (safetensors and the grader take these; no task returns another).
DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
          torch.float32, torch.float64)


def _where(error: BaseException) -> str:
    """The line of the learner's code that raised `error`, e.g. "line 7: x = x.view(-1, M, M, C)"."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not frame.filename.startswith(_LIBRARIES):
            line = (frame.line or "").strip()
            return f"line {frame.lineno}: {line}" if line else f"line {frame.lineno}"
    return ""


def record(value: Any) -> dict:
    """What the learner's function returned, as a record of plain values that save() can write. Only a
    plain torch.Tensor (no subclass) and Python's or NumPy's own numbers are taken: an object of another
    type could compute its value later, when the grader reads it, outside the trace."""
    if type(value) is torch.Tensor:
        if value.dtype not in DTYPES:
            return {"unsupported": f"tensor of dtype {str(value.dtype).removeprefix('torch.')}"}
        try:  # a plain, dense, CPU copy: no autograd, no view of learner memory
            return {"value": value.detach().to_dense().cpu().contiguous().clone()}
        except Exception:
            return {"unsupported": "tensor that cannot be copied"}
    if isinstance(value, torch.Tensor):
        return {"unsupported": f"{type(value).__name__} (a subclass of torch.Tensor; return a plain tensor)"}
    if type(value) is bool or (isinstance(value, numpy.bool_) and type(value).__module__ == "numpy"):
        return {"value": bool(value)}
    if type(value) is int or (isinstance(value, numpy.integer) and type(value).__module__ == "numpy"):
        return {"value": int(value)}
    if type(value) is float or (isinstance(value, numpy.floating) and type(value).__module__ == "numpy"):
        return {"value": float(value)}
    return {"unsupported": type(value).__name__}


def call(fn: Callable[..., Any], cases: list[tuple], tracer: Tracer | None = None) -> list[dict]:
    """Call `fn(*args)` for each case, under `tracer` if given, and record what came back while the
    tracer still watches; one record per case, an exception recorded in plain words."""
    tracer = tracer or Tracer()
    results = []
    for args in cases:
        try:
            with tracer:
                result = record(fn(*args))
        except NotImplementedError as error:
            result = {"raised": "NotImplementedError", "message": str(error)[:300]}
        except (Exception, SystemExit) as error:
            result = {"raised": type(error).__name__, "message": str(error)[:300], "where": _where(error)}
        results.append(result)
    return results


def run_task(namespace: dict, name: str, cases_path: str, results_path: str) -> None:
    """The grader's call, made in the learner's kernel after the notebook ran: load the cases, call
    the function `name` of the notebook on each, and save the records, with the minivit functions
    it entered and what the tracer refused."""
    fn = namespace.get(name)
    if not callable(fn):
        found = "is not defined" if name not in namespace else f"is a {type(fn).__name__}, not a function"
        outcome = {"missing": found}
    else:
        threads = notebook_threads()  # one that runs now could read the cases and answer for the function
        cases = torch.load(cases_path, weights_only=True)
        tracer = Tracer()
        results = call(fn, cases, tracer)
        refused = tracer.refused[:20] + ([f"keeping a thread of the notebook running ({', '.join(threads)})"]
                                         if threads else [])
        outcome = {"results": results, "entered": sorted(tracer.entered), "refused": refused}
    save(outcome, results_path)


def save(outcome: dict, path: str) -> None:
    """Write a record for the grader as safetensors: each tensor under a name of its own, and the record's
    form as JSON, each tensor replaced by {"tensor": name}, in the uint8 tensor "outcome"."""
    tensors: dict[str, torch.Tensor] = {}

    def plain(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[f"v{len(tensors)}"] = value
            return {"tensor": f"v{len(tensors) - 1}"}
        if isinstance(value, dict):
            return {key: plain(v) for key, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    form = json.dumps(plain(outcome)).encode()
    tensors["outcome"] = torch.frombuffer(bytearray(form), dtype=torch.uint8)
    with open(path, "wb") as f:
        f.write(safetensors.torch.save(tensors))
