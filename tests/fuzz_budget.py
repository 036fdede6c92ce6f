"""The fuzz tests' budget (tests/test_fuzz_*.py): a few examples per operation or form, the same ones every run,
so the suite stays quick and steady; XZ_FUZZ_EXAMPLES=200 for an occasional deeper run on fresh inputs."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("XZ_FUZZ_EXAMPLES", "0")) or 6

budget = settings(
    max_examples=EXAMPLES,
    derandomize="XZ_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    # Requests are slow next to generating them; a strategy with nothing to negate filters everything out.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
