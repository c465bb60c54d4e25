"""The Redis connection: a typed config, and driver errors translated where they enter."""

from __future__ import annotations

import asyncio

import pytest

from adapters.redis.connection import AsyncRedisConnection, RedisConfig, RedisConnection, lua_source
from adapters.redis.exceptions import ServingStoreError
from devtools.sandbox import free_ports


def test_unknown_config_keys_are_refused():
    with pytest.raises(ServingStoreError, match="unknown RedisConfig keys: prefx"):
        RedisConfig.from_mapping({"url": "redis://127.0.0.1:6379/0", "prefx": "vc"})
    assert RedisConfig.from_mapping({"url": "redis://h:1/0"}).prefix == "vc"


def unreachable() -> RedisConfig:
    (port,) = free_ports(1)  # nothing listens there
    return RedisConfig(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=0.5, retries=0)


def test_a_redis_that_does_not_answer_is_a_serving_store_error_saying_what_was_asked():
    connection = RedisConnection(unreachable())
    with pytest.raises(ServingStoreError, match="^ping: ConnectionError"):
        connection.ping()
    with pytest.raises(ServingStoreError, match="^read offsets: ConnectionError") as caught:
        connection.call("read offsets", connection.client.hgetall, "vc:so:t")
    assert caught.value.__cause__ is not None


def test_the_asyncio_connection_translates_the_same_way():
    async def ping():
        connection = AsyncRedisConnection(unreachable())
        try:
            await connection.ping()
        finally:
            await connection.close()

    with pytest.raises(ServingStoreError, match="^ping: ConnectionError"):
        asyncio.run(ping())


@pytest.mark.integration
def test_scripts_are_called_by_sha_on_the_real_redis(redis_client):
    connection = RedisConnection(RedisConfig(url="redis://unused", prefix="t"), client=redis_client)
    echo = connection.script("return ARGV[1]")
    assert connection.call("echo", echo, keys=[], args=["hello"]) == b"hello"
    assert redis_client.script_exists(echo.sha) == [True]


def test_lua_scripts_load_as_package_data_from_a_zip_too(tmp_path, monkeypatch):
    """A Spark application ships the packages as a zip (--py-files); its scripts load from it."""
    import importlib
    import sys
    import zipfile

    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("zipped_pkg/__init__.py", "")
        out.writestr("zipped_pkg/echo.lua", "return ARGV[1]\n")
    monkeypatch.syspath_prepend(str(archive))
    importlib.invalidate_caches()
    assert lua_source("zipped_pkg", "echo.lua") == "return ARGV[1]\n"
    assert "code.zip" in sys.modules["zipped_pkg"].__file__
    monkeypatch.delitem(sys.modules, "zipped_pkg")
