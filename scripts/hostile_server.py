#!/usr/bin/env python3
"""A hostile POP3 server for scripts/hostile.sh: one misbehaviour per run, at full size.

    hostile_server.py CASE SIZE PORTFILE

Listens on a free loopback port (written to PORTFILE), serves connections one at a time and
streams what it sends, so a 2 GB body costs the server no memory. CI plays the same cases
scaled down from tests/hostile.rs; this script is for the full sizes only.
"""
import socket
import sys
import time

CASE, SIZE, PORTFILE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CHUNK = 1 << 16


def stream(conn, total, unit):
    """Send `total` octets made of repetitions of `unit`, in large writes."""
    block = unit * max(1, CHUNK // len(unit))
    sent = 0
    while sent + len(block) <= total:
        conn.sendall(block)
        sent += len(block)
    rest = total - sent
    if rest:
        conn.sendall((block * (rest // len(block) + 1))[:rest])


def body_lines(conn, total):
    # 78-octet lines; every tenth starts with a dot and is dot-stuffed on the wire.
    unit = b"".join(
        (b".." if i == 0 else b"") + b"x" * (76 - (2 if i == 0 else 0)) + b"\r\n" for i in range(10)
    )
    stream(conn, total - total % len(unit), unit)


def listing(conn, n, fmt):
    buf = []
    for i in range(1, n + 1):
        buf.append(fmt(i))
        if len(buf) == 4096:
            conn.sendall(b"".join(buf))
            buf = []
    conn.sendall(b"".join(buf) + b".\r\n")


def drip(conn, data, delay):
    for b in data:
        conn.sendall(bytes([b]))
        time.sleep(delay)


def reply(conn, verb):
    """Answers one command; False ends the connection."""
    if CASE == "drip":
        drip(conn, b"+OK dripping\r\n", SIZE / 1000.0)
        return verb != b"QUIT"
    if verb == b"QUIT":
        if CASE == "flood-after-quit":
            conn.sendall(b"+OK bye\r\n")
            stream(conn, SIZE, b"flood after QUIT\r\n")
        else:
            conn.sendall(b"+OK bye\r\n")
        return False
    if verb in (b"RETR", b"TOP"):
        if CASE == "long-line":
            conn.sendall(b"+OK\r\n")
            stream(conn, SIZE, b"x")
            conn.sendall(b"\r\n.\r\n")
            return True
        if CASE == "big-body":
            conn.sendall(b"+OK %d octets\r\n" % SIZE)
            body_lines(conn, SIZE)
            conn.sendall(b".\r\n")
            return True
        if CASE == "cut-body":
            conn.sendall(b"+OK\r\n")
            body_lines(conn, SIZE)
            return False
    if verb == b"LIST" and CASE == "list":
        conn.sendall(b"+OK %d messages\r\n" % SIZE)
        listing(conn, SIZE, lambda i: b"%d 1000\r\n" % i)
        return True
    if verb == b"UIDL" and CASE == "list":
        conn.sendall(b"+OK\r\n")
        listing(conn, SIZE, lambda i: b"%d uid-%010d\r\n" % (i, i))
        return True
    if verb == b"STAT" and CASE == "list":
        conn.sendall(b"+OK %d %d\r\n" % (SIZE, SIZE * 1000))
        return True
    if verb == b"CAPA" and CASE == "capa":
        conn.sendall(b"+OK\r\n")
        listing(conn, SIZE, lambda i: b"X-CAPABILITY-%d\r\n" % i)
        return True
    if verb == b"CAPA":
        conn.sendall(b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
        return True
    if verb == b"STAT":
        conn.sendall(b"+OK 1 %d\r\n" % SIZE)
        return True
    conn.sendall(b"+OK\r\n")
    return True


def serve(conn):
    if CASE == "silence":
        conn.sendall(b"+OK hostile server ready\r\n")
        time.sleep(3600)
        return
    if CASE == "drip":
        drip(conn, b"+OK hostile server dripping one octet at a time\r\n", SIZE / 1000.0)
    else:
        conn.sendall(b"+OK hostile server ready\r\n")
    pending = b""
    while True:
        data = conn.recv(4096)
        if not data:
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            verb = line.strip().split(b" ")[0].upper()
            if not reply(conn, verb):
                return


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os

    os.rename(PORTFILE + ".tmp", PORTFILE)
    while True:
        conn, _ = s.accept()
        try:
            serve(conn)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
