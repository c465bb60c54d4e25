"""The HTTP/1.1 load generator the server benchmarks share: keep-alive connections, requests given
as ready-made bytes, run in a process of its own so that the client's CPU is not the server's.

  fixed rate   open loop at ``rate`` requests/s for ``seconds``; latency is measured from each
               request's scheduled time, so a stalled server cannot hide its queue (no
               coordinated omission)
  max          closed loop, ``connections`` requests in flight, for ``seconds``: sustained req/s

Each counts the answers whose status is not ``ok``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import urllib.request
from collections.abc import Callable


async def exchange(reader, writer, request: bytes) -> int:
    """Send one request on a keep-alive connection, read its whole answer, return its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def fixed_rate(port: int, requests: list[bytes], rate: float, seconds: float, connections: int,
                     ok: int) -> tuple[list[float], int, float]:
    """(latencies in seconds, answers other than ``ok``, achieved requests/s)."""
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies, errors = [], 0
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        conn = await pool.get()
        try:
            errors += await exchange(*conn, requests[i % len(requests)]) != ok
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies, errors, total / (time.perf_counter() - start)


async def closed_loop(port: int, requests: list[bytes], seconds: float, connections: int,
                      ok: int) -> tuple[float, int]:
    """(requests/s sustained, answers other than ``ok``)."""
    done, errors = 0, 0
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done, errors
        conn = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < deadline:
            errors += await exchange(*conn, requests[i % len(requests)]) != ok
            done += 1
            i += connections
        conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return done / (time.perf_counter() - started), errors


def percentiles_ms(latencies: list[float]) -> dict[str, float]:
    """``{"p50": ms, "p99": ms}`` of latencies in seconds."""
    ordered = sorted(latencies)
    return {"p50": round(ordered[len(ordered) // 2] * 1000, 3), "p99": round(ordered[int(len(ordered) * 0.99)] * 1000, 3)}


def in_own_process(load: Callable, *args) -> tuple:
    """Run ``load(*args, out)`` in a spawned process; return what it put on ``out``."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=load, args=(*args, out))
    proc.start()
    result = out.get(timeout=600)
    proc.join(30)
    return result


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 (a server's health route)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False
