"""Tests of rnnbook.profiles: experiment sizes."""

import dataclasses

import pytest

from rnnbook import profiles


def test_default_is_quick(monkeypatch):
    monkeypatch.delenv("RNNBOOK_PROFILE", raising=False)
    assert profiles.get().name == "quick"


def test_env_var_selects(monkeypatch):
    monkeypatch.setenv("RNNBOOK_PROFILE", "paper")
    assert profiles.get().name == "paper"


def test_unknown_profile_lists_valid_names(monkeypatch):
    monkeypatch.setenv("RNNBOOK_PROFILE", "huge")
    with pytest.raises(ValueError, match="'huge'.*valid: paper, quick"):
        profiles.get()


def test_paper_is_at_least_as_large_as_quick():
    q, p = profiles.get("quick"), profiles.get("paper")
    for f in dataclasses.fields(profiles.Profile):
        a, b = getattr(q, f.name), getattr(p, f.name)
        if isinstance(a, int):
            assert b >= a, f.name
        elif isinstance(a, tuple):
            assert max(b) >= max(a) and len(b) >= len(a), f.name


def test_profiles_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        profiles.get("quick").pd_trials = 1
