"""A loopback TCP proxy that adds latency: every chunk read from one side is written
to the other side `--delay-ms` later (default 0.5 ms each way, 1 ms per round trip).
Order and pipelining are kept; only latency is added, not a bandwidth limit.

    python bench/latency_proxy.py --target-port 27017 [--delay-ms 0.5] [--lifetime 3600] [--trace FILE]

Listens on a free 127.0.0.1 port and prints it on the first line of stdout. It stops by
itself when its standard input closes (the benchmark that started it ended, however it
ended) or after --lifetime seconds, whichever comes first. Loopback only.

With --trace FILE it also reads the wire protocol: for each command name, how many were
sent and the seconds from the request's last byte to the reply's last byte, as seen by the
proxy (the server's time, plus the proxy's own hops). FILE is written, as JSON, when the
proxy stops because its standard input closed, and FILE.timeline: every command in the
order sent, with its start (seconds from the first) and duration, so that the gaps between
commands (the client's own work) show.

Why threads and not asyncio: asyncio's event loop waits with epoll, whose timeout has a
resolution of one millisecond, so a 0.5 ms delay would become about 1.1 ms each way. A
thread per direction sleeping with time.sleep (nanosleep) keeps the delay within tens of
microseconds of what was asked.
"""
import argparse
import collections
import os
import json
import socket
import struct
import sys
import threading
import time

CHUNK = 256 * 1024


OP_MSG = 2013
OP_QUERY = 2004


def command_name(message: bytes) -> str:
    """The command of an OP_MSG: the first key of its body section (kind 0), and the
    collection it names, if any ("update orders")."""
    opcode = struct.unpack_from("<i", message, 12)[0]
    if opcode == OP_QUERY:
        return "(OP_QUERY: connection handshake)"
    if opcode != OP_MSG:
        return f"(opcode {opcode})"
    i = 20
    while i < len(message):
        kind = message[i]
        if kind == 0:
            start = i + 1 + 4 + 1  # document length, then the first element's type
            end = message.index(b"\0", start)
            name = message[start:end].decode("utf-8", "replace")
            # A collection-level command names its collection as the first value;
            # getMore's first value is its cursor, and its collection comes later.
            if message[start - 1] == 0x02:
                length = struct.unpack_from("<i", message, end + 1)[0]
                name += " " + message[end + 5:end + 4 + length].decode("utf-8", "replace")
            elif name == "getMore":
                key = message.find(b"\x02collection\x00", end)
                if key > 0:
                    at = key + len(b"\x02collection\x00")
                    length = struct.unpack_from("<i", message, at)[0]
                    name += " " + message[at + 4:at + 3 + length].decode("utf-8", "replace")
            return name
        i += 1 + struct.unpack_from("<i", message, i + 1)[0]
    return "(unknown)"


class Tracer:
    """Pairs requests with replies (requestID, responseTo) per connection and adds up the
    time per command name."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.pending = {}
        self.totals = {}
        # Every command in the order sent: (start, seconds, name), for a timeline that
        # also shows the gaps between commands (the client's own work).
        self.sequence = []

    def splitter(self, connection: int, outbound: bool):
        buffer = bytearray()

        def feed(data: bytes, now: float):
            buffer.extend(data)
            while len(buffer) >= 16:
                length = struct.unpack_from("<i", buffer, 0)[0]
                if len(buffer) < length:
                    break
                message = bytes(buffer[:length])
                del buffer[:length]
                request_id, response_to = struct.unpack_from("<ii", message, 4)
                with self.lock:
                    if outbound:
                        self.pending[(connection, request_id)] = (command_name(message), now)
                    elif (entry := self.pending.pop((connection, response_to), None)):
                        total = self.totals.setdefault(entry[0], [0, 0.0])
                        total[0] += 1
                        total[1] += now - entry[1]
                        self.sequence.append((entry[1], now - entry[1], entry[0]))
        return feed

    def dump(self):
        with self.lock:
            data = {name: {"count": c, "seconds": round(t, 6)} for name, (c, t) in sorted(self.totals.items())}
            sequence = sorted(self.sequence)
        with open(self.path, "w") as f:
            json.dump(data, f)
        if sequence:
            with open(self.path + ".timeline", "w") as f:
                origin = sequence[0][0]
                for start, seconds, name in sequence:
                    f.write(f"{start - origin:9.4f} {seconds * 1000:9.2f} ms  {name}\n")


class Pipe:
    """One direction of one connection: a reader thread stamps each chunk with the time
    it may leave, a writer thread sends it then."""

    def __init__(self, source: socket.socket, sink: socket.socket, delay: float, on_close, trace=None):
        self.source, self.sink, self.delay, self.on_close, self.trace = source, sink, delay, on_close, trace
        self.queue = collections.deque()
        self.ready = threading.Condition()
        self.closed = False

    def start(self):
        threading.Thread(target=self.read, daemon=True).start()
        threading.Thread(target=self.write, daemon=True).start()

    def read(self):
        try:
            while True:
                data = self.source.recv(CHUNK)
                if not data:
                    break
                now = time.perf_counter()
                if self.trace:
                    self.trace(data, now)
                with self.ready:
                    self.queue.append((now + self.delay, data))
                    self.ready.notify()
        except OSError:
            pass
        with self.ready:
            self.closed = True
            self.ready.notify()

    def write(self):
        try:
            while True:
                with self.ready:
                    while not self.queue and not self.closed:
                        self.ready.wait()
                    if not self.queue:
                        break
                    due, data = self.queue.popleft()
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                self.sink.sendall(data)
        except OSError:
            pass
        self.on_close()


def serve(target_port: int, delay: float, lifetime: float, trace_path: str | None) -> None:
    tracer = Tracer(trace_path) if trace_path else None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    print(listener.getsockname()[1], flush=True)

    def stop_when_parent_goes():
        # stdin is a pipe from the benchmark: EOF means it has ended.
        try:
            while sys.stdin.buffer.read(1):
                pass
        except OSError:
            pass
        if tracer:
            tracer.dump()
        os._exit(0)

    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    threading.Timer(lifetime, lambda: os._exit(0)).start()

    connections = 0
    while True:
        client, _ = listener.accept()
        connections += 1
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            client.close()
            continue
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        ended = [0]
        lock = threading.Lock()

        def close(a=client, b=upstream, ended=ended, lock=lock):
            # The first direction to end ends the other; the second frees the sockets.
            with lock:
                ended[0] += 1
                last = ended[0] == 2
            for sock in (a, b):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                if last:
                    sock.close()

        Pipe(client, upstream, delay, close, tracer and tracer.splitter(connections, True)).start()
        Pipe(upstream, client, delay, close, tracer and tracer.splitter(connections, False)).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target-port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added delay each way, in ms (default 0.5)")
    parser.add_argument("--lifetime", type=float, default=3600, help="stop after this many seconds (default 3600)")
    parser.add_argument("--trace", help="write the time per command name to this file (JSON) when stopped")
    args = parser.parse_args()
    serve(args.target_port, args.delay_ms / 1000, args.lifetime, args.trace)


if __name__ == "__main__":
    main()
