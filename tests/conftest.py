"""Test-suite settings: Hypothesis runs the same examples every time (a deterministic default suite).

``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random examples (and more of them) by hand.
"""

import os

from hypothesis import settings

settings.register_profile("deterministic", max_examples=50, derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
