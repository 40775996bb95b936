#!/usr/bin/env python3
"""Hostile clients at full size, against `popscope proxy --headless --json` (in front of the
demo server, with --record) and `popscope serve --check-client --json`, each a fresh process
per case so that its peak RSS (VmHWM) is the case's. Prints a Markdown table; CI plays the
same cases scaled down (tests/hostile_clients.rs).
    scripts/hostile_clients.py BIN
"""
import json, os, re, socket, subprocess, sys, tempfile, threading, time

BIN = sys.argv[1]
TIMEOUT = "5"
RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def port_of(line):
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    return int(m.group(1)) if m else None


class Proc:
    """A popscope process whose stdout lines (the JSON reports) are collected."""

    def __init__(self, args, banner_on_stdout=False):
        self.p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.port = None
        banner = self.p.stdout if banner_on_stdout else self.p.stderr
        for line in banner:
            self.port = self.port or port_of(line.decode(errors="replace"))
            if b"Ctrl-C" in line:
                break
        threading.Thread(target=lambda: [None for _ in self.p.stderr], daemon=True).start()
        self.lines = []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    def status(self, field):
        with open(f"/proc/{self.p.pid}/status") as f:
            for l in f:
                if l.startswith(field):
                    return int(l.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))

    def wait_reports(self, n, secs=120):
        end = time.time() + secs
        while len(self.lines) < n and time.time() < end:
            time.sleep(0.05)
        return [json.loads(l) for l in self.lines[:n]]

    def stop(self):
        self.p.terminate()
        self.p.wait()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    return s


def greeting(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def drain(s):
    try:
        while s.recv(1 << 16):
            pass
    except OSError:
        pass


def endless(port, fill, total):
    s = connect(port)
    greeting(s)
    reader = threading.Thread(target=drain, args=(s,), daemon=True)
    reader.start()
    block = fill * (1 << 20)
    for _ in range(total >> 20):
        s.sendall(block)
    s.sendall(b"\r\nQUIT\r\n")
    reader.join(60)
    s.close()


def silent(port):
    s = connect(port)
    greeting(s)
    t = time.time()
    drain(s)
    return time.time() - t


def churn(port, n):
    for i in range(n):
        s = socket.socket()
        if i % 2 == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.connect(("127.0.0.1", port))
        s.close()


def stls(port):
    s = connect(port)
    greeting(s)
    reader = threading.Thread(target=drain, args=(s,), daemon=True)
    reader.start()
    try:
        s.sendall(b"STLS\r\n" * 10000 + b"QUIT\r\n")
    except OSError:
        pass
    reader.join(60)


# The never-reading client stays connected until its judge has reported it.
KEEP = []


def pipeline(port):
    s = connect(port)
    KEEP.append(s)
    threading.Thread(target=lambda: s.sendall(b"CAPA\r\n" * 100000), daemon=True).start()
    time.sleep(0.5)
    t = time.time()
    other = connect(port)
    greeting(other)
    waited = time.time() - t
    other.sendall(b"QUIT\r\n")
    drain(other)
    return waited


CASES = [
    ("2 GB line without LF", lambda p: endless(p, b"x", 2 << 30), 1),
    ("10 MB line of NULs", lambda p: endless(p, b"\x00", 10 << 20), 1),
    ("connects, sends nothing", silent, 1),
    ("500 connections dropped or reset", lambda p: churn(p, 500), 500),
    ("STLS 10,000 times", stls, 1),
    ("100,000 CAPA pipelined, never read", pipeline, 2),
]


def row(cells):
    print("| " + " | ".join(str(c) for c in cells) + " |")


def main():
    demo = Proc(["serve", "--port", "0", "--tls", "none"], banner_on_stdout=True)
    upstream = f"pop3://127.0.0.1:{demo.port}"
    want = set(sys.argv[2:])
    print("| case | judge | s | peak RSS MiB | fds before → after | recording MiB | error | rules | raw controls |")
    print("| --- | --- | ---: | ---: | --- | ---: | --- | --- | --- |")
    for name, play, reports in CASES:
        if want and name not in want:
            continue
        for judge in ("proxy", "serve"):
            rec = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False).name
            os.unlink(rec)
            if judge == "proxy":
                p = Proc(["proxy", "--headless", "--json", "--timeout", TIMEOUT, "--record", rec,
                          "--listen", "pop3://127.0.0.1:0", "--upstream", upstream])
            else:
                p = Proc(["serve", "--port", "0", "--tls", "none", "--check-client", "--json",
                          "--timeout", TIMEOUT])
            time.sleep(0.3)
            fds_before = p.fds()
            t = time.time()
            extra = play(p.port)
            got = p.wait_reports(reports)
            took = time.time() - t
            KEEP.clear()
            time.sleep(0.5)
            fds_after = p.fds()
            peak = p.status("VmHWM:") // 1024
            p.stop()
            out = b"".join(p.lines)
            recorded = os.path.getsize(rec) / (1 << 20) if os.path.exists(rec) else 0
            raw = len(RAW.findall(out)) + (len(RAW.findall(open(rec, "rb").read())) if os.path.exists(rec) else 0)
            if os.path.exists(rec):
                os.unlink(rec)
            errors = sorted({(r.get("error") or "—")[:60] for r in got}) or ["no report"]
            rules = sorted({f["rule"] for r in got for f in r["findings"] if f["side"] == "client"})
            note = f"{took:.2f}" + (f" (other greeted in {extra:.3f} s)" if name.startswith("100,000") else "")
            row([name, judge, note, peak, f"{fds_before} → {fds_after}",
                 f"{recorded:.1f}" if judge == "proxy" else "—",
                 "; ".join(errors), " ".join(rules) or "—", raw])
            sys.stdout.flush()
    demo.stop()


main()
