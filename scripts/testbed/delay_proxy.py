#!/usr/bin/env python3
"""The test bed's latency injector: a TCP proxy that delays every chunk it forwards.

This kernel has no netem, so scripts/testbed.sh puts this proxy between a host and
PostgreSQL. Each direction of each connection is a pipeline: a chunk read at time t is
written at t + delay (so a request/response round trip gains 2 x delay, and throughput is
not limited by the delay). The delay, in milliseconds, is read from --delay-file at start
and again on SIGHUP, so it can change while connections are open (chunks already queued
keep the delay they were read with).

Usage: delay_proxy.py --listen ADDR:PORT --target ADDR:PORT --delay-file FILE [--pid-file FILE]
Exits 0 on SIGTERM/SIGINT, 2 on bad arguments, 1 if it cannot listen.
"""
import argparse
import asyncio
import os
import signal
import sys


def log(message):
    print(f"delay_proxy[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT, not {text!r}")
    return host, int(port)


class Delay:
    def __init__(self, path):
        self.path = path
        self.seconds = 0.0
        self.reload()

    def reload(self):
        try:
            with open(self.path, encoding="ascii") as f:
                text = f.read().strip() or "0"
            ms = float(text)
            if ms < 0:
                raise ValueError("negative delay")
        except (OSError, ValueError) as error:
            log(f"keeping delay {self.seconds * 1000:g} ms: cannot read {self.path}: {error}")
            return
        self.seconds = ms / 1000.0
        log(f"delay {ms:g} ms per direction")


async def pump(reader, writer, delay, loop):
    """Copy reader to writer, each chunk written `delay` after it was read."""
    queue = asyncio.Queue()

    async def read_side():
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((loop.time() + delay.seconds, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((loop.time(), b""))

    reading = asyncio.ensure_future(read_side())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        writer.close()


async def serve(args):
    loop = asyncio.get_running_loop()
    delay = Delay(args.delay_file)
    loop.add_signal_handler(signal.SIGHUP, delay.reload)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    connections = set()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(*args.target), timeout=10)
        except (OSError, asyncio.TimeoutError) as error:
            log(f"cannot reach {args.target[0]}:{args.target[1]}: {error}")
            client_writer.close()
            return
        task = asyncio.gather(
            pump(client_reader, server_writer, delay, loop),
            pump(server_reader, client_writer, delay, loop),
            return_exceptions=True)
        connections.add(task)
        try:
            await task
        finally:
            connections.discard(task)

    try:
        server = await asyncio.start_server(handle, *args.listen, reuse_address=True)
    except OSError as error:
        log(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {error}")
        return 1
    if args.pid_file:
        with open(args.pid_file, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    log(f"listening on {args.listen[0]}:{args.listen[1]}, forwarding to {args.target[0]}:{args.target[1]}")
    async with server:
        await stop
    for task in list(connections):
        task.cancel()
    log("stopped")
    return 0


def main():
    parser = argparse.ArgumentParser(description="TCP proxy adding a fixed one-way delay per direction.")
    parser.add_argument("--listen", type=address, required=True)
    parser.add_argument("--target", type=address, required=True)
    parser.add_argument("--delay-file", required=True)
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    sys.exit(asyncio.run(serve(args)))


if __name__ == "__main__":
    main()
