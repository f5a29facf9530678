"""The longer runs behind notebooks 01, 08 and 09, as functions and a command line; their results go to
small CSV files in course/results/ that the notebooks read, plot and check.

    python -m minivit.experiments two-marks --seeds 0 1 2 3 4 --processes 2 --out course/results/two_marks.csv
    python -m minivit.experiments learning-rates --out course/results/learning_rates.csv
    python -m minivit.experiments data-size --rates course/results/learning_rates.csv --out course/results/data_size.csv
    python -m minivit.experiments weak-supervision --out course/results/weak_supervision.csv
    python -m minivit.experiments weak-supervision-additions --out course/results/weak_supervision.csv

    two_marks           notebook 01: which small models solve the two-marks task, five seeds, trained long
    training            notebook 08: four classifiers on the digits, learning rates chosen on a validation
                        split, smaller training sets, and the controls
    weak_supervision    notebook 09: segmentation from image-level labels, end to end
    results             rows of runs: summaries over seeds, the test set's standard error, CSV files
"""

from minivit.experiments.results import read_csv, standard_error, summarize, write_csv
from minivit.experiments.training import MODELS, RECIPE, VARIANTS, chosen_rates, training_split
from minivit.experiments.weak_supervision import canvases, weak_supervision

__all__ = [
    "MODELS", "RECIPE", "VARIANTS", "canvases", "chosen_rates", "read_csv", "standard_error", "summarize",
    "training_split", "weak_supervision", "write_csv",
]
