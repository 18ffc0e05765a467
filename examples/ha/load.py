#!/usr/bin/env python3
"""Steady HTTP load with one line per request, for the failover rehearsal
and tests/ha.rs.

    load.py URL --out FILE [--workers 8] [--keepalive] [--timeout 2]
            [--stop-file PATH] [--duration SECONDS]

Each worker sends GET requests back to back, on a new connection each
time (or, with --keepalive, on one it keeps while the server lets it).
Every request becomes a line of FILE, written when the run ends:

    START END RESULT BODY

START and END are Unix times in seconds; RESULT is the status code, or E:
and the exception's class (ConnectionRefusedError, ConnectionResetError,
TimeoutError...); BODY is the start of the body (which origin answered).
The run ends when --stop-file exists or after --duration seconds.
"""

import argparse
import http.client
import os
import threading
import time
import urllib.parse


def worker(url, timeout, keepalive, stop, lines):
    target = urllib.parse.urlsplit(url)
    path = target.path or "/"
    connection = None
    while not stop.is_set():
        start = time.time()
        body = b""
        try:
            if connection is None:
                connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=timeout)
            connection.request("GET", path, headers={} if keepalive else {"Connection": "close"})
            response = connection.getresponse()
            body = response.read()
            result = str(response.status)
            if not keepalive or response.will_close:
                connection.close()
                connection = None
        except Exception as error:  # every failure is a result
            result = "E:" + type(error).__name__
            if connection is not None:
                connection.close()
            connection = None
        end = time.time()
        word = body.strip().split(b"\n")[0][:16].decode("ascii", "replace") or "-"
        lines.append(f"{start:.6f} {end:.6f} {result} {word}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--keepalive", action="store_true")
    parser.add_argument("--stop-file")
    parser.add_argument("--duration", type=float)
    args = parser.parse_args()
    stop = threading.Event()
    lines = []
    threads = [
        threading.Thread(target=worker, args=(args.url, args.timeout, args.keepalive, stop, lines))
        for _ in range(args.workers)
    ]
    for thread in threads:
        thread.start()
    began = time.time()
    while True:
        time.sleep(0.05)
        if args.stop_file and os.path.exists(args.stop_file):
            break
        if args.duration and time.time() - began >= args.duration:
            break
    stop.set()
    for thread in threads:
        thread.join()
    with open(args.out + ".tmp", "w") as out:
        out.write("\n".join(sorted(lines)) + "\n")
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
