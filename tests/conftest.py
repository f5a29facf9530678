import os

import torch
from hypothesis import settings

# Property tests run the same examples on every machine, and stay fast on a 2-core CPU.
settings.register_profile("minivit", max_examples=60, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minivit"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
