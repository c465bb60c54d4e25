"""Speed layer state: Redis bytes per retained event id, for each SPEED_STATE_BUCKETS, on Redis
alone. The generator's traffic goes straight to the atomic step (decode, digests, Lua) in
500-record steps over 4 partitions, with no Kafka in between, so the figure is the state's and
the rate is the step's own.

  memory   Redis used_memory growth per retained (video, event id), all speed state included
           (dedup and cap hashes, expiry lists, buckets, claims, offsets).
  rate     records per second through prepare + the Lua step.
  redis    where Redis's time goes: microseconds of Lua per record (EVALSHA's own time, from
           INFO commandstats) and Redis commands the script calls per record.

    .venv/bin/python bench/state.py [--events 300000] [--buckets 1024,4096,16384] [--runs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import redis
from common import count_entries, private_stack, summarize, topic_records, write_result

from adapters.redis.connection import RedisConfig, RedisConnection
from devtools.generate import generate
from speed_layer.counter import prepare
from speed_layer.redis_store import RedisCountStore
from viewcount.timeutil import DAY_MS, now_ms

PARTITIONS = 4
STEP = 500
TARGET_BYTES_PER_ID = 120


def by_partition(lines: list[bytes], end_ms: int) -> dict[int, list]:
    """The records as the topic would hold them: a video's records in one partition, in order."""
    out: dict[int, list] = {}
    for record in topic_records(lines, "state", PARTITIONS, end_ms):
        out.setdefault(record.partition, []).append(record)
    return out


def script_cost(client: redis.Redis, records: int) -> tuple[float, float]:
    """(µs of Lua per record, commands the script called per record) since the last CONFIG
    RESETSTAT: EVALSHA's own time, and every other command counted meanwhile."""
    stats = client.info("commandstats")
    step = stats.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    inner = sum(s["calls"] for name, s in stats.items() if name not in ("cmdstat_evalsha", "cmdstat_info",
                                                                          "cmdstat_config", "cmdstat_script"))
    return round(step["usec"] / records, 2), round(inner / records, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--buckets", default="1024,4096,16384")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with private_stack(("redis",)) as (settings, _), tempfile.TemporaryDirectory() as tmp:
        end = now_ms()
        traffic = generate(args.events, 4, Path(tmp), end - DAY_MS // 2, end, settings.rules,
                           settings.as_public_dict())
        partitions = by_partition(traffic.events_path.read_bytes().split(b"\n")[:-1], end)
        client = redis.Redis.from_url(settings.redis_url)
        listpack = client.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"]
        result: dict = {"events": args.events, "hash_max_listpack_entries": int(listpack),
                        "target_bytes_per_id": TARGET_BYTES_PER_ID}
        for buckets in (int(b) for b in args.buckets.split(",")):
            memory, rates, lua, calls = [], [], [], []
            for run in range(args.runs):
                client.flushdb()
                store = RedisCountStore(RedisConnection(RedisConfig(url=settings.redis_url, prefix="s"), client=client),
                                        buckets, partitions=PARTITIONS)
                before = client.info("memory")["used_memory"]
                client.config_resetstat()
                started = time.perf_counter()
                for p, records in partitions.items():
                    for i in range(0, len(records), STEP):
                        store.apply("state", p, prepare(records[i:i + STEP]), settings.rules)
                elapsed = time.perf_counter() - started
                lua_us, commands = script_cost(client, args.events)
                lua.append(lua_us)
                calls.append(commands)
                ids = count_entries(client, "s:{p*}:sd:*")
                memory.append(round((client.info("memory")["used_memory"] - before) / ids, 1))
                rates.append(round(args.events / elapsed))
                print(f"buckets {buckets} run {run + 1}: {memory[-1]} bytes per retained id "
                      f"(target ≤ {TARGET_BYTES_PER_ID}; {ids:,} ids, {count_entries(client, 's:{p*}:sc:*'):,} cap "
                      f"counters), {rates[-1]:,} records/s through the step, {lua_us} µs of Lua and "
                      f"{commands} commands per record")
            result[f"bytes_per_retained_id[{buckets}]"] = summarize(memory)
            result[f"step_records_per_s[{buckets}]"] = summarize(rates)
            result[f"lua_us_per_record[{buckets}]"] = summarize(lua)
            result[f"commands_per_record[{buckets}]"] = summarize(calls)
        print(f"written to {write_result('state', result)}")


if __name__ == "__main__":
    main()
