"""Fixtures shared by the engine tests: the session's local Slurm cluster (see _slurm_fixtures)."""

import pytest

pytest.register_assert_rewrite("tests.engine._slurm_fixtures")

from tests.engine._slurm_fixtures import cluster, time_limit_jobs  # noqa: E402, F401 - fixtures
