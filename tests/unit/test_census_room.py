"""ForkedCensuses.no_room_to_fork's arithmetic, with the cgroup's figures and the process's
pages given (the kernel's own side: tests/integration/test_census_memory_limit.py)."""

from __future__ import annotations

import pytest

from memslim import _core, forked_census

MiB = 1 << 20


@pytest.fixture
def censuses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(forked_census, "process_memory", lambda: {"anon": 300 * MiB})
    monkeypatch.setattr(_core, "live_bytes_by_domain", lambda: {"python": 200 * MiB})
    made = forked_census.ForkedCensuses(top=5)
    yield made
    made.close()


def test_without_a_limit_every_census_has_room(
    censuses: forked_census.ForkedCensuses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked_census, "cgroup_headroom", lambda: None)
    assert not censuses.no_room_to_fork()
    assert censuses.errors == []


def test_a_census_that_could_take_more_than_is_left_is_not_taken(
    censuses: forked_census.ForkedCensuses, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A census may take the program's 300 MiB of anonymous pages again and 200 MiB for its
    # walk of a 200 MiB Python heap: 500 MiB.
    monkeypatch.setattr(forked_census, "cgroup_headroom", lambda: (500 * MiB, 2048 * MiB))
    assert not censuses.no_room_to_fork()
    monkeypatch.setattr(forked_census, "cgroup_headroom", lambda: (499 * MiB, 2048 * MiB))
    assert censuses.no_room_to_fork()
    assert censuses.no_room_to_fork()
    (said,) = censuses.errors
    assert said.startswith(
        "2 censuses were not taken under the memory cgroup's limit of 2.0 GiB, from "
    )
    assert "a census could take 500.0 MiB" in said
    assert "with 499.0 MiB left for it" in said
    assert censuses.results()[2]["no_room"] == 2
