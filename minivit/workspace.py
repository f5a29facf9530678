"""A learner's working copies of the notebooks, so that running the course never changes a tracked file.

`make course` opens JupyterLab on `mywork/` (ignored by git), not on the repository's `course/` and
`exercises/`. The first run copies every notebook of those two folders into `mywork/course/` and
`mywork/exercises/`; later runs copy only notebooks that are new, and never overwrite a copy: a learner's
edits, outputs and filled-in exercises stay theirs, and `git pull` brings course updates without a conflict.
Other files of those folders (READMEs, `results/`) are linked, not copied, so they follow every update.

A notebook updated in the repository since it was copied is named at each start. To take the new version:

    python -m minivit.workspace refresh course/04_window_shift_mask.ipynb    # or: make refresh NOTEBOOK=...

The learner's copy is kept beside it, renamed `04_window_shift_mask.mine-20261126-1402.ipynb`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("course", "exercises")  # what a learner opens; solutions/ stays out of the way
WORK = "mywork"
RECORD = ".copied-from.json"  # notebook -> hash of the repository version it was copied from


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(work: Path) -> dict[str, str]:
    path = work / RECORD
    return json.loads(path.read_text()) if path.exists() else {}


def _save(work: Path, record: dict[str, str]) -> None:
    (work / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def prepare(root: Path = ROOT, work: Path | None = None) -> list[str]:
    """Make the working copies that are missing; return the copies whose repository version has changed.

    Args:
        root: the repository (holding course/ and exercises/).
        work: the learner's folder; default root / "mywork".
    Returns:
        names like "course/04_window_shift_mask.ipynb", relative to `work`, that `refresh` would update.
    """
    work = root / WORK if work is None else work
    record, outdated = _record(work), []
    for folder in FOLDERS:
        (work / folder).mkdir(parents=True, exist_ok=True)
        for source in sorted((root / folder).iterdir()):
            name = f"{folder}/{source.name}"
            copy = work / name
            if source.suffix != ".ipynb":
                if not copy.exists() and not copy.is_symlink() and not source.name.startswith("."):
                    copy.symlink_to(os.path.relpath(source, copy.parent))
            elif not copy.exists():
                shutil.copyfile(source, copy)
                record[name] = _digest(source)
            elif record.get(name) != _digest(source):
                outdated.append(name)
    _save(work, record)
    return outdated


def refresh(name: str, root: Path = ROOT, work: Path | None = None) -> Path | None:
    """Replace the working copy `name` ("course/03_....ipynb") by the repository's current version.

    Returns:
        where the learner's previous copy now is (beside the new one, `.mine-<date>-<time>` in its name),
        or None if there was no copy.
    """
    work = root / WORK if work is None else work
    name = Path(name).as_posix().removeprefix(f"{work.name}/")
    source = root / name
    if source.suffix != ".ipynb" or not source.is_file() or source.parent.name not in FOLDERS:
        raise ValueError(f"name must be a notebook of {' or '.join(f + '/' for f in FOLDERS)}, got {name!r}")
    copy, kept = work / name, None
    if copy.exists():
        kept = copy.with_name(f"{copy.stem}.mine-{time.strftime('%Y%m%d-%H%M%S')}.ipynb")
        copy.rename(kept)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    record = _record(work)
    record[name] = _digest(source)
    _save(work, record)
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minivit.workspace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / WORK, help="the learner's folder (default: mywork/)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("prepare", help="make the missing working copies (what `make course` runs first)")
    fresh = sub.add_parser("refresh", help="take the repository's current version of one notebook")
    fresh.add_argument("notebook", help="e.g. course/04_window_shift_mask.ipynb")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    if args.command == "refresh":
        try:
            kept = refresh(args.notebook, work=work)
        except ValueError as error:
            parser.error(str(error))
        print(f"{work.name}/{args.notebook}: now the current version", end="")
        print(f"; yours is kept as {work.name}/{kept.relative_to(work)}" if kept else "")
        return
    for name in prepare(work=work):
        print(f"{work.name}/{name}: the course has a newer version. To take it (yours is kept beside it):\n"
              f"    make refresh NOTEBOOK={name}")


if __name__ == "__main__":
    main()
