"""Without SECRET_KEY, each checkout gets its own random key: never a published default."""

import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from vingine.env import secret_key


def test_it_prefers_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_SECRET", "from-env")

    assert secret_key("SOME_SECRET", tmp_path / "key") == "from-env"
    assert not (tmp_path / "key").exists()


def test_it_creates_a_private_random_key_once_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SOME_SECRET", raising=False)

    first = secret_key("SOME_SECRET", tmp_path / "key")
    again = secret_key("SOME_SECRET", tmp_path / "key")

    assert first == again and len(first) >= 50
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    assert secret_key("SOME_SECRET", tmp_path / "other") != first


def test_it_names_the_variable_when_it_cannot_keep_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SOME_SECRET", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET"):
        secret_key("SOME_SECRET", tmp_path / "missing-dir" / "key")
