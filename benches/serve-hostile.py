#!/usr/bin/env python3
"""Hostile-client measurements of `portal-triage serve` (a benchmark, not a test).

Python 3 standard library only (asyncio); loopback only; bounded: every
scenario has a fixed number of connections and requests and a deadline.

  benches/serve-hostile.py bodies [--concurrency 8 64 256] [--requests 2] [--size 1048576] [--many-findings]
      For each concurrency C: start a fresh release server (`--quiet` plus
      any --serve-arg), let C clients each send --requests POSTs of a
      --size-byte JSON body to /v1/triage (one request per connection),
      while a probe GETs /healthz every 100 ms (2 s timeout). Prints the
      answers by status, the server's peak RSS (VmHWM) and its RSS 3 s after
      the load, and whether /healthz answered throughout.

  benches/serve-hostile.py partial-headers [--connections 3000] [--deadline 120]
      Open N connections that each send part of a request head and then
      nothing; print how long the server keeps them open (until it closes
      them), and how many are still open at the deadline.

Options: --binary PATH (default target/release/portal-triage, built with
`cargo build --release` first), --serve-arg ARG (repeatable, passed to
`serve`; e.g. --serve-arg=--max-inflight-bytes=8388608).
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time

MESSAGE = (
    "Hi Dr. Lee, my blood pressure was 168/102 this morning and 171/99 last "
    "night. I have had a mild headache since yesterday and I am taking my "
    "lisinopril every day. Should I change the dose or come in? Thanks, Maria. "
)


def start_server(binary, extra):
    proc = subprocess.Popen(
        [binary, "serve", "--addr", "127.0.0.1:0", "--quiet", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if m:
            return proc, m.group(1), int(m.group(2))
    proc.kill()
    sys.exit("the service did not start")


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def memory(pid):
    """(VmRSS, VmHWM) in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


async def http(host, port, head, body=b"", timeout=120):
    """One request on a new connection; the status, or an error name."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout
        )
    except (OSError, asyncio.TimeoutError) as e:
        return f"connect-{type(e).__name__}"
    try:
        writer.write(head + body)
        try:
            await asyncio.wait_for(writer.drain(), timeout)
        except (ConnectionError, OSError):
            pass  # the server may answer (503/413) before reading it all
        data = await asyncio.wait_for(reader.read(), timeout)
        m = re.match(rb"HTTP/1\.1 (\d{3})", data)
        return int(m.group(1)) if m else "no-answer"
    except (OSError, asyncio.TimeoutError) as e:
        return type(e).__name__
    finally:
        writer.close()


def post_head(port, length):
    return (
        f"POST /v1/triage HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


# The worst answer per byte found: 25,000 findings ("dolor" reads as pain)
# make an 8 MB answer to a 1 MiB message.
MANY_FINDINGS = "lorem ipsum dolor sit amet refill please "


async def bodies_run(host, port, pid, concurrency, requests, size, message):
    text = (message * (size // len(message) + 1))[: size - 64]
    body = json.dumps({"id": "big", "text": text}).encode()
    head = post_head(port, len(body))
    statuses = {}
    health = {"ok": 0, "failed": 0, "max_ms": 0.0}
    peak_sampled = [0.0]
    done = asyncio.Event()

    async def client():
        for _ in range(requests):
            s = await http(host, port, head, body)
            statuses[s] = statuses.get(s, 0) + 1

    async def probe():
        hh = f"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        while not done.is_set():
            t = time.perf_counter()
            s = await http(host, port, hh, timeout=2)
            ms = (time.perf_counter() - t) * 1000
            if s == 200:
                health["ok"] += 1
                health["max_ms"] = max(health["max_ms"], ms)
            else:
                health["failed"] += 1
            await asyncio.sleep(0.1)

    async def sampler():
        while not done.is_set():
            peak_sampled[0] = max(peak_sampled[0], memory(pid)[0])
            await asyncio.sleep(0.02)

    started = time.perf_counter()
    tasks = [asyncio.create_task(probe()), asyncio.create_task(sampler())]
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    done.set()
    await asyncio.gather(*tasks)
    _, hwm = memory(pid)
    await asyncio.sleep(3)
    rss_after, _ = memory(pid)
    return statuses, health, hwm, rss_after, elapsed, len(body)


def bodies(args):
    print(
        f"serve-hostile bodies: {args.size}-byte messages"
        f"{' (many findings)' if args.many_findings else ''}, {args.requests} per client, "
        f"{os.cpu_count()} cores, serve args {args.serve_arg or []}"
    )
    print(
        f"{'clients':>8} {'answers':<28} {'peak RSS MiB':>12} {'RSS +3s MiB':>12} "
        f"{'seconds':>8}  /healthz"
    )
    for c in args.concurrency:
        proc, host, port = start_server(args.binary, args.serve_arg or [])
        try:
            statuses, health, hwm, after, elapsed, _ = asyncio.run(
                bodies_run(
                    host, port, proc.pid, c, args.requests, args.size,
                    MANY_FINDINGS if args.many_findings else MESSAGE,
                )
            )
        finally:
            stop_server(proc)
        answers = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items(), key=str))
        hz = (
            f"{health['ok']} ok, {health['failed']} failed, max {health['max_ms']:.0f} ms"
        )
        print(f"{c:>8} {answers:<28} {hwm:>12.0f} {after:>12.0f} {elapsed:>8.1f}  {hz}")


async def partial_run(host, port, n, deadline):
    head = b"POST /v1/triage HTTP/1.1\r\nHost: x\r\nContent-Type: applic"
    lifetimes = []
    still_open = 0
    connect_failed = 0
    gate = asyncio.Semaphore(500)  # connects at once

    async def one():
        nonlocal still_open, connect_failed
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), 30
                )
            except (OSError, asyncio.TimeoutError):
                connect_failed += 1
                return
        t = time.perf_counter()
        try:
            writer.write(head)
            await writer.drain()
            await asyncio.wait_for(reader.read(), deadline)
            lifetimes.append(time.perf_counter() - t)
        except asyncio.TimeoutError:
            still_open += 1
        except OSError:
            lifetimes.append(time.perf_counter() - t)
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return lifetimes, still_open, connect_failed


def partial_headers(args):
    proc, host, port = start_server(args.binary, args.serve_arg or [])
    try:
        lifetimes, still_open, failed = asyncio.run(
            partial_run(host, port, args.connections, args.deadline)
        )
        alive = proc.poll() is None
    finally:
        stop_server(proc)
    lifetimes.sort()
    print(
        f"serve-hostile partial-headers: {args.connections} connections, "
        f"serve args {args.serve_arg or []}"
    )
    if lifetimes:
        q = statistics.quantiles(lifetimes, n=100) if len(lifetimes) > 1 else lifetimes * 99
        print(
            f"closed by the server: {len(lifetimes)}; open for min {lifetimes[0]:.1f} s, "
            f"p50 {q[49]:.1f} s, p99 {q[98]:.1f} s, max {lifetimes[-1]:.1f} s"
        )
    print(
        f"still open after {args.deadline} s: {still_open}; connect failed: {failed}; "
        f"server alive: {alive}"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=["bodies", "partial-headers"])
    p.add_argument("--binary", default="target/release/portal-triage")
    p.add_argument("--serve-arg", action="append")
    p.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 256])
    p.add_argument("--requests", type=int, default=2)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--many-findings", action="store_true", help="bodies: a text with 25,000 findings per MiB")
    p.add_argument("--connections", type=int, default=3000)
    p.add_argument("--deadline", type=float, default=120)
    args = p.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if args.scenario == "bodies":
        bodies(args)
    else:
        partial_headers(args)


if __name__ == "__main__":
    main()
