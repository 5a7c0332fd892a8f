"""``cachelab.reset``: deletes the course's keys and generated databases -- and nothing else.

Real Redis servers only (the conftest fixtures). The tests that delete the whole
``cachelab:`` prefix do it on a private server of their own, never on a shared one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cachelab import reset


def test_a_narrow_prefix_deletes_only_its_own_keys(redis_client, test_prefix: str) -> None:
    other_course_key = f"cachelab:test:{uuid.uuid4().hex}:kept"
    foreign_key = f"not-the-course:{uuid.uuid4().hex}"
    try:
        redis_client.set(test_prefix + "a", "1")
        redis_client.set(test_prefix + "b:c", "2")
        redis_client.set(other_course_key, "3")
        redis_client.set(foreign_key, "4")
        assert reset.delete_course_keys(redis_client, test_prefix) == 2
        assert redis_client.exists(test_prefix + "a", test_prefix + "b:c") == 0
        assert redis_client.get(other_course_key) == "3"
        assert redis_client.get(foreign_key) == "4"
    finally:
        redis_client.unlink(other_course_key, foreign_key, test_prefix + "a", test_prefix + "b:c")


def test_the_course_prefix_leaves_every_other_key_alone(stoppable_redis) -> None:
    client = stoppable_redis.client()
    ours = [f"cachelab:product:{i}" for i in range(1_234)] + ["cachelab:trending:days=7:limit=10"]
    theirs = ["session:42", "cachelab", "cachelabx:1", "CACHELAB:upper", "xcachelab:1", "user:cachelab:1"]
    for key in ours + theirs:
        client.set(key, "value")
    client.hset("cachelab:a-hash", mapping={"f": "v"})  # any type under the prefix goes
    assert reset.delete_course_keys(client) == len(ours) + 1  # more than one SCAN/UNLINK batch
    assert client.keys("cachelab:*") == []
    assert sorted(client.keys("*")) == sorted(theirs)


def test_dry_run_counts_and_deletes_nothing(stoppable_redis) -> None:
    client = stoppable_redis.client()
    client.set("cachelab:x", "1")
    client.set("other", "2")
    assert reset.delete_course_keys(client, dry_run=True) == 1
    assert client.dbsize() == 2


@pytest.mark.parametrize("prefix", ["", "*", "other:", "cachelab", "Cachelab:"])
def test_a_prefix_outside_the_course_is_refused(redis_client, prefix: str) -> None:
    with pytest.raises(ValueError, match="cachelab:"):
        reset.delete_course_keys(redis_client, prefix)


def _data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("shop-default.db", "shop-tiny.db", "shop-tiny.db-journal", "shop-default.db.abc123.partial"):
        (folder / name).write_bytes(b"generated")
    for name in ("catalog.json", "notes.db", "my-shop.db"):
        (folder / name).write_text("not ours")
    return folder


def test_only_generated_databases_are_removed(tmp_path: Path) -> None:
    folder = _data_folder(tmp_path)
    removed = reset.remove_databases(folder)
    assert sorted(path.name for path in removed) == [
        "shop-default.db", "shop-default.db.abc123.partial", "shop-tiny.db", "shop-tiny.db-journal"]
    assert sorted(path.name for path in folder.iterdir()) == ["catalog.json", "my-shop.db", "notes.db"]


def test_command_line_with_redis_url(stoppable_redis, tmp_path: Path, monkeypatch, capsys) -> None:
    folder = _data_folder(tmp_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    monkeypatch.setenv("REDIS_URL", stoppable_redis.url)
    client = stoppable_redis.client()
    client.set("cachelab:product:1", "{}")
    client.set("someone-else", "keep me")

    assert reset.main([]) == 0
    out = capsys.readouterr().out
    assert "deleted 1 key(s) under 'cachelab:'" in out
    assert "shop-default.db" in out
    assert client.keys("*") == ["someone-else"]
    assert not (folder / "shop-default.db").exists()
    assert (folder / "catalog.json").exists()


def test_command_line_without_redis_url_says_there_is_nothing_to_reset(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert reset.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "REDIS_URL is not set" in out and "Nothing persistent to reset" in out
    assert "none to delete" in out


def test_command_line_dry_run_keeps_everything(stoppable_redis, tmp_path: Path, monkeypatch, capsys) -> None:
    folder = _data_folder(tmp_path)
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(folder))
    client = stoppable_redis.client()
    client.set("cachelab:x", "1")
    assert reset.main(["--dry-run", "--url", stoppable_redis.url]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 key(s)" in out and "would delete" in out
    assert client.exists("cachelab:x") == 1
    assert (folder / "shop-default.db").exists()


def test_unreachable_redis_is_reported_and_fails(stoppable_redis, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))
    url = stoppable_redis.url
    stoppable_redis.stop()
    assert reset.main(["--redis-only", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "could not reset" in err and url in err
