"""What only the instructor runs: grade a folder of submissions, and release the exercises.

    minivit-grade submissions/ --out grades/   # or: python -m minivit.instructor submissions/ --out grades/
    python -m minivit.instructor release       # solutions/ -> exercises/ (or: make exercises)

    grade      each notebook in a fresh kernel, its functions called on hidden cases, results judged here
    runner     the kernel in a child process, within time and memory limits
    sandbox    bubblewrap around the kernel; keeper.py (run by path) keeps its processes in one tree
    processes  the process tree, read from /proc
    report     grades.csv and a feedback file per submission
    release    solutions/ -> exercises/ (solution code replaced by stubs)

Nothing here is imported in a learner's notebook: the check cell and the tasks live in minivit.grading.
"""
