"""The demo's answers, loaded once for the demo's tests."""

from __future__ import annotations

import pytest

from server.demo.scripts import Answers


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers.load()
