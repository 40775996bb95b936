#!/usr/bin/env bash
# popscope against the tools people compare it with, on this machine, over loopback.
#   scripts/bench.sh           messages of 1 MB, 100 MB and 1 GB; a maildrop of 100,000 messages
#   scripts/bench.sh --quick   1 MB and 100 MB; 10,000 messages (a few minutes)
#   scripts/bench.sh --relay   only the proxy's figures (below), its section of BENCHMARKS.md
#                              replaced in place
#   scripts/bench.sh --fleet   only `check --targets` over a fleet on loopback (below), its
#                              section of BENCHMARKS.md replaced in place
#   scripts/bench.sh --listing only LIST and UIDL of many messages (below), its section of
#                              BENCHMARKS.md replaced in place
#   scripts/bench.sh --engine  only the engine and `--record` figures (below), its section of
#                              BENCHMARKS.md replaced in place
#   scripts/bench.sh --offline only reading recordings back (check --transcript, export,
#                              replay --headless: scripts/bench-offline.sh), its section of
#                              BENCHMARKS.md replaced in place; no server
# The relay step: a RETR of BENCH_RELAY_MB (default 1024; 100 for a quick run) fetched by curl
# from Dovecot directly and through `popscope proxy`, TLS on both legs, alternated RUNS times
# (medians, the proxy's peak RSS); then BENCH_RELAY_CLIENTS (100) curl sessions at once through
# one proxy, each fetching the sample maildrop, all compared with a direct fetch.
# The fleet step: BENCH_FLEET_SERVERS (12) `popscope serve` instances, half of them with a quirk,
# and the Dovecot, repeated into a file of BENCH_FLEET_TARGETS (1000) lines, checked by one
# `check --targets --jobs 64` (wall time, targets/s, peak RSS; every quirk's rules on its targets,
# nothing above info on the clean ones), against a shell loop of `check URL` over the first
# BENCH_FLEET_LOOP (100) of them; then BENCH_FLEET_PASSIVE (10000) targets with --passive.
# The listing step: LIST and UIDL of BENCH_LISTING_MANY (100000) messages from Dovecot, popscope
# send against curl (a LIST, then a UIDL), alternated RUNS times (medians of wall time and peak
# RSS); then BENCH_LISTING_HOSTILE (1000000) lines of each from scripts/hostile_server.py's "list"
# case, headless (as scripts/hostile.sh runs it) and in the TUI (tmux). BENCH_BASE_BIN, a
# popscope built at an earlier commit (named BENCH_BASE_NAME in the table), is measured beside
# the current one.
# The engine step: a plain RETR of BENCH_ENGINE_MB (default 1024) with `popscope send`, with and
# without --record, and curl, alternated RUNS times (medians, peak RSS); then callgrind's
# instruction count of one RETR body of BENCH_ENGINE_CG_MB (64) MiB through the engine
# (crates/core/examples/retr_body.rs, the workload of the criterion benchmark retr_body).
# Starts its own Dovecot (scripts/dovecot.sh, ports 12110/12995), times popscope send, curl,
# openssl s_client and python3 poplib, alternating them RUNS times and taking medians, measures
# peak RSS (/usr/bin/time), runs the criterion benchmarks, and writes BENCHMARKS.md.
# Long-running by design: not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0 RELAY_ONLY=0 FLEET_ONLY=0 LISTING_ONLY=0 ENGINE_ONLY=0 OFFLINE_ONLY=0
[ "${1:-}" = "--quick" ] && QUICK=1
[ "${1:-}" = "--relay" ] && RELAY_ONLY=1
[ "${1:-}" = "--fleet" ] && FLEET_ONLY=1
[ "${1:-}" = "--listing" ] && LISTING_ONLY=1
[ "${1:-}" = "--engine" ] && ENGINE_ONLY=1
[ "${1:-}" = "--offline" ] && OFFLINE_ONLY=1
ENGINE_MB=${BENCH_ENGINE_MB:-1024} ENGINE_CG_MB=${BENCH_ENGINE_CG_MB:-64}
RUNS=${RUNS:-3}
RELAY_MB=${BENCH_RELAY_MB:-1024}
RELAY_CLIENTS=${BENCH_RELAY_CLIENTS:-100}
if [ $QUICK = 1 ]; then SIZES_MB="1 100"; MANY=10000; else SIZES_MB="1 100 1024"; MANY=100000; fi
[ $RELAY_ONLY = 1 ] && { SIZES_MB=$RELAY_MB; MANY=1; }
case " $SIZES_MB " in *" $RELAY_MB "*) ;; *) SIZES_MB="$SIZES_MB $RELAY_MB" ;; esac
# The fleet walks RETR what the maildrop holds: the sample messages only, no large ones.
[ $FLEET_ONLY = 1 ] && { SIZES_MB=; MANY=0; }
[ $LISTING_ONLY = 1 ] && { SIZES_MB=; MANY=${BENCH_LISTING_MANY:-100000}; }
[ $ENGINE_ONLY = 1 ] && { SIZES_MB=$ENGINE_MB; MANY=1; }

# Its own Dovecot (BENCH_DOVECOT_DIR, BENCH_DOVECOT_PLAIN, BENCH_DOVECOT_TLS to move it).
export POPSCOPE_DOVECOT_DIR=${BENCH_DOVECOT_DIR:-/tmp/popscope-bench}
export POPSCOPE_DOVECOT_PLAIN=${BENCH_DOVECOT_PLAIN:-12110} POPSCOPE_DOVECOT_TLS=${BENCH_DOVECOT_TLS:-12995}
DIR=$POPSCOPE_DOVECOT_DIR
PLAIN=127.0.0.1:$POPSCOPE_DOVECOT_PLAIN
TLS=127.0.0.1:$POPSCOPE_DOVECOT_TLS
WORK=$(mktemp -d)
# The processes the relay step starts, ended by their ids.
STARTED=()
stop_started() { local p; for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'stop_started; scripts/dovecot.sh stop; rm -rf "$WORK"' EXIT

for t in curl openssl python3 tmux; do command -v $t >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends curl openssl python3 >/dev/null; break; }; done
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends time >/dev/null; }
cargo build --release -q
BIN=$PWD/target/release/popscope
# replace_section TITLE FILE: the section of BENCHMARKS.md whose heading starts "## TITLE"
# replaced by FILE (appended when there is none), the rest kept.
replace_section() {
  python3 - "$1" "$2" <<'PY'
import sys
title, new = "## " + sys.argv[1], open(sys.argv[2]).read()
old = open("BENCHMARKS.md").read()
head, sep, rest = old.partition(title)
tail = rest[rest.find("\n## "):] if sep and "\n## " in rest else ""
open("BENCHMARKS.md", "w").write(head.rstrip("\n") + "\n\n" + new + tail)
PY
  echo "wrote the $1 section of BENCHMARKS.md" >&2
}

if [ $OFFLINE_ONLY = 1 ]; then
  . scripts/bench-offline.sh
  offline_bench "$WORK/offline.md"
  replace_section Offline "$WORK/offline.md"
  exit 0
fi
POPSCOPE_BIN=$BIN scripts/dovecot.sh start
CA=$DIR/certs/ca.pem

echo "generating messages" >&2
python3 - "$DIR" "$MANY" $SIZES_MB <<'PY'
import os, sys
d, many, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
cur = os.path.join(d, "home/demo/Maildir/cur")
line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\n"
for i, mb in enumerate(sizes):
    path = os.path.join(cur, f"1800000{i:03}.bench{mb}.localhost:2,S")
    with open(path, "wb") as f:
        f.write(b"From: bench@example.net\nSubject: %d MB\n\n" % mb)
        block = line * 49 + b".a line that needs dot-stuffing\n"
        n = mb * 1024 * 1024 // len(block) + 1
        for _ in range(n):
            f.write(block)
# A second user with many small messages.
many_dir = os.path.join(d, "home/many/Maildir")
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(many_dir, sub), exist_ok=True)
for i in range(many):
    with open(os.path.join(many_dir, "cur", f"{1700000000+i}.m{i}.localhost:2,S"), "wb") as f:
        f.write(b"Subject: small %d\n\nA small message.\n" % i)
with open(os.path.join(d, "passwd"), "a") as f:
    f.write(f"many:{{PLAIN}}many:65534:65534::{d}/home/many::\n")
PY
chown -R 65534:65534 "$DIR/home"

# Message numbers by size, as Dovecot lists them.
declare -A NUM
while read -r n size; do
  for mb in $SIZES_MB; do
    lo=$(( mb * 1024 * 1024 )); hi=$(( mb * 1024 * 1024 * 11 / 10 ))
    [ "$size" -ge "$lo" ] && [ "$size" -le "$hi" ] && NUM[$mb]=$n
  done
done < <(curl -s -u demo:demo "pop3://$PLAIN/" | tr -d '\r')

export PW=demo MANYPW=many
measure() { # label, command...: prints "label wall_s rss_kb"
  local label=$1; shift
  /usr/bin/time -f "$label %e %M" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || true
  cat "$WORK/t" | tail -1
}

# ---- the relay: popscope proxy between curl and Dovecot, TLS on both legs ----
# Ports of the two proxies and the demo server (BENCH_RELAY_PORT, and the two after it).
RELAY_PORT=${BENCH_RELAY_PORT:-12996}
RELAY_MANY_PORT=$((RELAY_PORT + 1)) DEMO_PORT=$((RELAY_PORT + 2))
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; return 1; }
# start_proxy PORT UPSTREAM CA REPORTS: sets PROXY_PID.
start_proxy() {
  "$BIN" proxy --listen "pop3s://127.0.0.1:$1" --cert "$DIR/certs/server.pem" --key "$DIR/certs/server-key.pem" \
    --upstream "$2" --ca-file "$3" --headless --json >"$4" 2>>"$WORK/proxy.err" &
  PROXY_PID=$!
  STARTED+=("$PROXY_PID")
  wait_port "$1"
}
peak_mib() { awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$1/status"; }
rss_mib() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }
# CPU seconds (user + system) a process has used.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

relay_bench() {
  local n=${NUM[$RELAY_MB]:-} out=$WORK/relay.md
  [ -n "$n" ] || { echo "no message of $RELAY_MB MB found" >&2; return 1; }
  local load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  start_proxy $RELAY_PORT "pop3s://$TLS" "$CA" "$WORK/relay.jsonl"
  local direct=() proxied=() run
  for run in $(seq 1 "$RUNS"); do
    echo "relay: RETR $RELAY_MB MB, run $run/$RUNS" >&2
    direct+=("$(/usr/bin/time -f %e curl -s --cacert "$CA" -u demo:demo "pop3s://$TLS/$n" -o /dev/null 2>&1 | tail -1)")
    proxied+=("$(/usr/bin/time -f %e curl -s --cacert "$CA" -u demo:demo "pop3s://127.0.0.1:$RELAY_PORT/$n" -o /dev/null 2>&1 | tail -1)")
  done
  # Intact: the same digest both ways (not timed).
  local sum_direct sum_proxied
  sum_direct=$(curl -s --cacert "$CA" -u demo:demo "pop3s://$TLS/$n" | sha256sum | cut -c1-16)
  sum_proxied=$(curl -s --cacert "$CA" -u demo:demo "pop3s://127.0.0.1:$RELAY_PORT/$n" | sha256sum | cut -c1-16)
  local rss cpu; rss=$(peak_mib "$PROXY_PID"); cpu=$(cpu_s "$PROXY_PID")
  kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
  local d p; d=$(printf '%s\n' "${direct[@]}" | median); p=$(printf '%s\n' "${proxied[@]}" | median)
  local reports; reports=$(grep -c '"final_state":"closed"' "$WORK/relay.jsonl" || true)

  # Many sessions at once: the demo server upstream (Dovecot allows 10 per user and address).
  "$BIN" serve --tls implicit --port $DEMO_PORT >"$WORK/demo.out" 2>&1 &
  STARTED+=("$!")
  wait_port $DEMO_PORT
  local demo_ca=
  for _ in $(seq 1 100); do
    demo_ca=$(sed -n 's/^CA certificate: \([^ ]*\).*/\1/p' "$WORK/demo.out")
    [ -n "$demo_ca" ] && break
    sleep 0.05
  done
  start_proxy $RELAY_MANY_PORT "pop3s://127.0.0.1:$DEMO_PORT" "$demo_ca" "$WORK/many.jsonl"
  local urls=() i m
  for m in 1 2 3 4; do urls+=("pop3s://127.0.0.1:$DEMO_PORT/$m" -o "$WORK/ref.$m"); done
  curl -s --cacert "$demo_ca" -u demo:demo "${urls[@]}"
  local idle; idle=$(rss_mib "$PROXY_PID")
  local start end failed=0 pids=()
  start=$(date +%s%N)
  for i in $(seq 1 "$RELAY_CLIENTS"); do
    urls=()
    for m in 1 2 3 4; do urls+=("pop3s://127.0.0.1:$RELAY_MANY_PORT/$m" -o "$WORK/c$i.$m"); done
    curl -s --max-time 120 --cacert "$CA" -u demo:demo "${urls[@]}" & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  end=$(date +%s%N)
  local intact=0
  for i in $(seq 1 "$RELAY_CLIENTS"); do
    local ok=1; for m in 1 2 3 4; do cmp -s "$WORK/ref.$m" "$WORK/c$i.$m" || ok=0; done
    intact=$((intact + ok))
  done
  sleep 0.5
  local many_rss; many_rss=$(peak_mib "$PROXY_PID")
  kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
  local many_reports; many_reports=$(grep '"final_state":"closed"' "$WORK/many.jsonl" | grep -c '"error":null' || true)
  local load_after; load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "## Relay: popscope proxy, TLS on both legs"
    echo
    echo "- date: $(date -u +%Y-%m-%d); RETR of $RELAY_MB MB from Dovecot (\`BENCH_RELAY_MB=$RELAY_MB scripts/bench.sh --relay\`), curl directly and through \`popscope proxy --listen pop3s:// --upstream pop3s://\` (release build), alternated, medians of $RUNS runs"
    [ "$RELAY_MB" -ge 1024 ] || echo "- a quick run: the goals are stated for a 1 GB RETR (\`scripts/bench.sh --relay\`)"
    echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after ($(nproc) cores, shared)"
    echo
    echo "| what | direct (s) | through the proxy (s) | ratio (goal <= 1.25) | proxy peak RSS (MiB, goal <= 32) |"
    echo "|---|---|---|---|---|"
    echo "| RETR $RELAY_MB MB | $d | $p | $(awk -v a="$p" -v b="$d" 'BEGIN{printf "%.2f", (b>0 ? a/b : 0)}') | $rss |"
    echo
    echo "- the message intact through the proxy: $([ "$sum_direct" = "$sum_proxied" ] && echo "yes (same SHA-256)" || echo "NO ($sum_direct direct, $sum_proxied proxied)"); reports with a clean end: $reports of $((RUNS + 1)); the proxy's CPU time for the $((RUNS + 1)) RETRs: $cpu s (both TLS legs and the checks)"
    echo "- $RELAY_CLIENTS curl sessions at once through one proxy (demo server upstream, pop3s both legs; each fetches the 4 sample messages, about 1 MB): $((RELAY_CLIENTS - failed)) completed, $intact with every message intact, $many_reports clean reports; $(( (end - start) / 1000000 )) ms in all; proxy peak RSS $many_rss MiB ($idle MiB idle before: $(awk -v a="$many_rss" -v b="$idle" -v n="$RELAY_CLIENTS" 'BEGIN{printf "%.2f", (a-b)/n}') MiB a session at most)"
  } > "$out"
  cat "$out" >&2
}

# ---- the fleet: check --targets over many servers on loopback ----
# Ports of the demo servers: BENCH_FLEET_PORT and the ones after it.
FLEET_PORT=${BENCH_FLEET_PORT:-13000}
FLEET_SERVERS=${BENCH_FLEET_SERVERS:-12}
FLEET_TARGETS=${BENCH_FLEET_TARGETS:-1000}
FLEET_LOOP=${BENCH_FLEET_LOOP:-100}
FLEET_PASSIVE=${BENCH_FLEET_PASSIVE:-10000}
# Quirks a plain walk with the demo password shows (as tests/fleet.rs plain_quirks picks them).
FLEET_QUIRKS="unstuffed-dots bare-lf lowercase-status wrong-list-sizes hostile-text no-login-needed"
# Every target is 127.0.0.1: --per-host counts by host name, and at its default (2) the whole
# fleet would run two at a time; --jobs is the bound that is measured.
FLEET_ARGS=(--jobs 64 --per-host 64 --json)

# fleet_file N FILE: N target lines, the servers in turn; Dovecot (which allows 10 sessions a
# user and address) on every 50th line, plain and pop3s.
fleet_file() {
  local i
  for i in $(seq 0 $(($1 - 1))); do
    case $((i % 50)) in
      0) echo "pop3://$PLAIN" ;;
      25) echo "pop3s://$TLS" ;;
      *) echo "pop3://127.0.0.1:$((FLEET_PORT + i % FLEET_SERVERS))" ;;
    esac
  done > "$2"
}

# fleet_run LABEL FILE OUT ARGS...: check --targets FILE, its JSON Lines into OUT; prints
# "wall_s rss_kb" (/usr/bin/time -v).
fleet_run() {
  local label=$1 file=$2 out=$3; shift 3
  echo "fleet: $label" >&2
  /usr/bin/time -v -o "$WORK/fleet.time" "$BIN" check --targets "$file" --credentials "$WORK/creds" \
    --ca-file "$CA" "$@" >"$out" 2>>"$WORK/fleet.err" || true
  awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]}
    /Maximum resident/{m=$2} END{printf "%.2f %d\n", s, m}' "$WORK/fleet.time"
}

fleet_bench() {
  local out=$WORK/fleet.md load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  local i quirks kinds=$WORK/fleet.kinds
  read -r -a quirks <<< "$FLEET_QUIRKS"
  : > "$kinds"
  for i in $(seq 0 $((FLEET_SERVERS - 1))); do
    local port=$((FLEET_PORT + i)) quirk=${quirks[$((i / 2))]:-}
    # Every other server is clean: half the fleet has a quirk.
    if [ $((i % 2)) = 1 ] && [ -n "$quirk" ]; then
      "$BIN" serve --port $port --quirk "$quirk" >/dev/null 2>&1 &
      echo "$port $quirk" >> "$kinds"
    else
      "$BIN" serve --port $port >/dev/null 2>&1 &
      echo "$port clean" >> "$kinds"
    fi
    STARTED+=("$!")
  done
  for i in $(seq 0 $((FLEET_SERVERS - 1))); do wait_port $((FLEET_PORT + i)); done
  # The rules each quirk breaks, as serve --list-quirks prints them (server quirks come first).
  "$BIN" serve --list-quirks > "$WORK/quirks.txt"
  printf '127.0.0.1 user demo password-env PW\n' > "$WORK/creds"
  chmod 600 "$WORK/creds"

  fleet_file "$FLEET_TARGETS" "$WORK/fleet.txt"
  local fleet; fleet=$(fleet_run "$FLEET_TARGETS targets, ${FLEET_ARGS[*]}" "$WORK/fleet.txt" "$WORK/fleet.jsonl" "${FLEET_ARGS[@]}")
  # The same targets one after another, a sample of the first FLEET_LOOP lines.
  echo "fleet: a shell loop over $FLEET_LOOP targets" >&2
  head -n "$FLEET_LOOP" "$WORK/fleet.txt" > "$WORK/loop.txt"
  # One report a file: check URL --json prints one JSON document over many lines.
  mkdir -p "$WORK/loop"
  local start end url n=0
  start=$(date +%s%N)
  while read -r url; do
    n=$((n + 1))
    "$BIN" check "$url" --user demo --password-env PW --ca-file "$CA" --json > "$WORK/loop/$n.json" 2>>"$WORK/fleet.err" || true
  done < "$WORK/loop.txt"
  end=$(date +%s%N)
  local loop_s; loop_s=$(awk -v ns=$((end - start)) 'BEGIN{printf "%.2f", ns / 1e9}')

  fleet_file "$FLEET_PASSIVE" "$WORK/passive.txt"
  local passive; passive=$(fleet_run "$FLEET_PASSIVE targets --passive" "$WORK/passive.txt" "$WORK/passive.jsonl" "${FLEET_ARGS[@]}" --passive)
  local load_after; load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  stop_started

  # What the JSON Lines say: one object a line, every quirk's rules on its targets, nothing
  # above info on the clean ones; Dovecot's own findings, for the record.
  local verdict; verdict=$(python3 - "$kinds" "$WORK/quirks.txt" "$WORK/fleet.txt" "$WORK/fleet.jsonl" \
    "$WORK/passive.txt" "$WORK/passive.jsonl" "$WORK/loop.txt" "$WORK/loop" <<'PY'
import json, os, re, sys, collections
kinds_file, quirks_file = sys.argv[1:3]
kind = {int(p): k for p, k in (l.split() for l in open(kinds_file))}
expected = {}
for l in open(quirks_file):
    if not l.strip():
        break
    m = re.match(r"(\S+)\s.*\[([^\]]*)\]\s*$", l)
    if m and m.group(1) not in expected:
        expected[m.group(1)] = [r.strip() for r in m.group(2).split(",") if r.strip() not in ("", "-")]

def legs(v):
    return v.get("transports") or [v]

def rules(v, above_info=False):
    return {f["rule"] for leg in legs(v) for f in leg.get("findings") or [] if not above_info or f["severity"] != "info"}

def judge(targets_file, jsonl, passive):
    targets = [l.strip() for l in open(targets_file)]
    if os.path.isdir(jsonl):
        # The loop's reports, one file per line of the targets, in order.
        def report(path):
            text = open(path).read()
            return json.loads(text) if text.strip() else {"error": "no report"}
        objects = [report(os.path.join(jsonl, f"{i + 1}.json")) for i in range(len(targets))]
    else:
        objects = [json.loads(l) for l in open(jsonl) if l.strip()]
    if objects and objects[-1].get("summary") is True:
        objects.pop()
    per_line = collections.Counter(o.get("line", i) for i, o in enumerate(objects))
    wrong = []
    if len(objects) != len(targets) or any(n != 1 for n in per_line.values()):
        wrong.append(f"{len(objects)} objects for {len(targets)} targets")
    dovecot = collections.Counter()
    for i, o in enumerate(objects):
        target = targets[o["line"] - 1] if "line" in o else targets[i]
        if o.get("error"):
            wrong.append(f"{target}: {o['error']}")
            continue
        port = int(target.rsplit(":", 1)[1])
        k = kind.get(port)
        if k is None:
            dovecot[(target, " ".join(sorted(rules(o, True))))] += 1
        elif k == "clean":
            if rules(o, True):
                wrong.append(f"{target} (clean): {sorted(rules(o, True))}")
        elif not passive or k != "no-login-needed":
            missing = [r for r in expected[k] if r not in rules(o)]
            if missing:
                wrong.append(f"{target} ({k}): no {missing}")
    return len(objects), wrong, dovecot

for name, (t, j, passive) in {"fleet": sys.argv[3:5] + [False], "passive": sys.argv[5:7] + [True], "loop": sys.argv[7:9] + [False]}.items():
    n, wrong, dovecot = judge(t, j, passive)
    ok = "yes" if not wrong else f"NO ({len(wrong)}: {'; '.join(wrong[:3])})"
    quirk_rules = ", ".join(f"{k} {'/'.join(expected[k])}" for k in sorted(set(kind.values()) - {"clean"}))
    dv = "; ".join(f"{t} x{c}: {r or 'nothing above info'}" for (t, r), c in sorted(dovecot.items()))
    print(f"{name}\t{n}\t{ok}\t{quirk_rules}\t{dv}")
PY
)
  field() { printf '%s\n' "$verdict" | awk -F'\t' -v n="$1" -v f="$2" '$1 == n {print $f}'; }
  local fw fr pw pr
  read -r fw fr <<< "$fleet"; read -r pw pr <<< "$passive"
  local rate; rate=$(awk -v n="$FLEET_TARGETS" -v s="$fw" 'BEGIN{printf "%.1f", (s > 0 ? n / s : 0)}')
  local loop_rate; loop_rate=$(awk -v n="$FLEET_LOOP" -v s="$loop_s" 'BEGIN{printf "%.2f", (s > 0 ? n / s : 0)}')
  local loop_scaled; loop_scaled=$(awk -v n="$FLEET_TARGETS" -v r="$loop_rate" 'BEGIN{printf "%.0f", (r > 0 ? n / r : 0)}')
  {
    echo "## Fleet: check --targets on loopback"
    echo
    echo "- date: $(date -u +%Y-%m-%d); \`scripts/bench.sh --fleet\` (release build); $FLEET_SERVERS \`popscope serve\` instances on ports $FLEET_PORT-$((FLEET_PORT + FLEET_SERVERS - 1)), every other one with a quirk, and Dovecot (plain and pop3s, on every 50th line: it allows 10 sessions a user and address), repeated into $FLEET_TARGETS target lines"
    echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after ($(nproc) cores, shared)"
    echo "- \`popscope check --targets FILE --credentials FILE --ca-file CA ${FLEET_ARGS[*]}\`: every target is 127.0.0.1, and --per-host (default 2) counts by host name, so it is raised to --jobs"
    echo "- the shell loop: \`while read url; do popscope check \$url --user demo --password-env PW --ca-file CA --json; done\` over the first $FLEET_LOOP lines of the same file, scaled to $FLEET_TARGETS"
    echo
    echo "| run | targets | wall (s) | targets/s | peak RSS (MiB) |"
    echo "|---|---|---|---|---|"
    echo "| check --targets, --jobs 64 (goals: <= 60 s, <= 150 MiB) | $FLEET_TARGETS | $fw | $rate | $(awk -v k="$fr" 'BEGIN{printf "%.1f", k/1024}') |"
    echo "| shell loop of check URL | $FLEET_LOOP | $loop_s | $loop_rate | - |"
    echo "| shell loop, scaled | $FLEET_TARGETS | $loop_scaled (estimate) | $loop_rate | - |"
    echo "| check --targets --passive, --jobs 64 (not CI) | $FLEET_PASSIVE | $pw | $(awk -v n="$FLEET_PASSIVE" -v s="$pw" 'BEGIN{printf "%.1f", (s > 0 ? n / s : 0)}') | $(awk -v k="$pr" 'BEGIN{printf "%.1f", k/1024}') |"
    echo
    echo "- check --targets is $(awk -v a="$loop_scaled" -v b="$fw" 'BEGIN{printf "%.1f", (b > 0 ? a / b : 0)}') times the shell loop's throughput, on $(nproc) shared cores"
    echo "- one object per target, every quirk's rules on its targets ($(field fleet 4)), nothing above info on the clean ones: $(field fleet 3) ($(field fleet 2) objects); the loop: $(field loop 3); --passive (no probes: ST-001 of no-login-needed is a probe's, not asked): $(field passive 3)"
    echo "- Dovecot's own findings above info (the same on each of its targets): $(field fleet 5)"
  } > "$out"
  cat "$out" >&2
}

# ---- listings: LIST and UIDL of many messages ----
LISTING_HOSTILE=${BENCH_LISTING_HOSTILE:-1000000}
# listing_tui BIN PORT: the TUI's peak RSS in MiB once LIST and UIDL of the hostile list are
# shown (commands typed as scripts/hostile.sh types them).
listing_tui() {
  local sock=popscope-bench-list-$$ pid shown=0
  local screen="tmux -L $sock capture-pane -p -t 0"
  tmux -L $sock new-session -d -x 200 -y 50 "TERM=xterm-256color HOME=$WORK $1 pop3://127.0.0.1:$2 --timeout 5; sleep 600"
  for _ in $(seq 100); do $screen | grep -q "Transcript" && break; sleep 0.1; done
  for cmd in LIST UIDL; do
    tmux -L $sock send-keys -t 0 -l "$cmd"; tmux -L $sock send-keys -t 0 Enter; sleep 0.3
    $screen | grep -q "is not valid in" && tmux -L $sock send-keys -t 0 y
    sleep 0.3
  done
  for _ in $(seq 900); do shown=$($screen | grep -cF "$LISTING_HOSTILE lines" || true); [ "$shown" -ge 2 ] && break; sleep 0.2; done
  pid=$(pgrep -x popscope -P "$(tmux -L $sock display-message -p -t 0 '#{pane_pid}')" | head -1)
  if [ "$shown" -ge 2 ] && [ -n "$pid" ]; then peak_mib "$pid"; else echo "?"; fi
  tmux -L $sock kill-server 2>/dev/null || true
}

listing_bench() {
  local out=$WORK/listing.md bins=("$BIN") run b i
  [ -n "${BENCH_BASE_BIN:-}" ] && bins=("$BENCH_BASE_BIN" "$BIN")
  local load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  : > "$WORK/listing.txt"
  for run in $(seq 1 "$RUNS"); do
    echo "listing: LIST and UIDL of $MANY messages, run $run/$RUNS" >&2
    for i in "${!bins[@]}"; do
      measure "popscope$i" "${bins[$i]}" send "pop3://$PLAIN" --user many --password-env MANYPW --login user --json LIST UIDL >> "$WORK/listing.txt"
    done
    measure curl sh -c "curl -s -u many:many pop3://$PLAIN/ && curl -s -u many:many -X UIDL pop3://$PLAIN/" >> "$WORK/listing.txt"
  done
  # med LABEL FIELD: the median of a column (2: wall s, 3: peak RSS KiB) over the runs.
  med() { awk -v l="$1" -v f="$2" '$1 == l {print $f}' "$WORK/listing.txt" | median; }
  mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
  # The hostile server's list case, each binary headless then in the TUI.
  local hostile=()
  for i in "${!bins[@]}"; do
    b=${bins[$i]}
    echo "listing: $LISTING_HOSTILE lines of LIST and UIDL, ${b}" >&2
    rm -f "$WORK/port"
    python3 scripts/hostile_server.py list "$LISTING_HOSTILE" "$WORK/port" >/dev/null 2>&1 &
    local server=$!
    STARTED+=("$server")
    for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
    local port; port=$(cat "$WORK/port")
    local t; t=$(measure send "$b" send "pop3://127.0.0.1:$port" --timeout 5 --record "$WORK/list.jsonl" --force --max-body 1048576 --json LIST UIDL)
    local tui; tui=$(listing_tui "$b" "$port")
    kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
    hostile+=("$(echo "$t" | awk '{printf "%.1f", $3/1024}') MiB in $(echo "$t" | awk '{print $2}') s headless, $tui MiB in the TUI")
  done
  local names=("this commit")
  [ ${#bins[@]} -eq 2 ] && names=("before (${BENCH_BASE_NAME:-\`$BENCH_BASE_BIN\`})" "after (this commit)")
  {
    echo "## Listings: LIST and UIDL"
    echo
    echo "- date: $(date -u +%Y-%m-%d); \`scripts/bench.sh --listing\` (release build); load before: $load_before; medians of $RUNS alternated runs"
    echo "- LIST then UIDL of $MANY messages from Dovecot: popscope \`send LIST UIDL --json\` (one session) against curl (a LIST session, then a UIDL one: its peak RSS is the larger of the two)"
    echo
    echo "| LIST + UIDL, $MANY messages | wall s | peak RSS MiB |"
    echo "|---|---:|---:|"
    for i in "${!bins[@]}"; do
      echo "| popscope, ${names[$i]} | $(med "popscope$i" 2) | $(mib "$(med "popscope$i" 3)") |"
    done
    echo "| curl | $(med curl 2) | $(mib "$(med curl 3)") |"
    echo
    echo "- $LISTING_HOSTILE lines of LIST and of UIDL (\`scripts/hostile_server.py list\`), headless \`send --timeout 5 --record FILE --max-body 1048576 --json LIST UIDL\` and the TUI in tmux 200x50 (peak RSS once both listings are shown):"
    for i in "${!bins[@]}"; do
      echo "  - ${names[$i]}: ${hostile[$i]}"
    done
  } > "$out"
  cat "$out" >&2
}

# ---- the engine and --record: a plain RETR with and without recording, callgrind counts ----
engine_bench() {
  local n=${NUM[$ENGINE_MB]:-} out=$WORK/engine.md load_before; load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  [ -n "$n" ] || { echo "no message of $ENGINE_MB MB found" >&2; return 1; }
  local res=$WORK/engine.txt; : > "$res"
  for run in $(seq 1 "$RUNS"); do
    echo "engine: RETR $ENGINE_MB MB, run $run/$RUNS" >&2
    measure plain "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json "RETR $n" >> "$res"
    measure record "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json --record "$WORK/e.jsonl" --force "RETR $n" >> "$res"
    # The same recording into memory (tmpfs): what is left without the disk's final fsync.
    measure record-shm "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json --record /dev/shm/popscope-e.jsonl --force "RETR $n" >> "$res"
    if [ -n "${BENCH_BASE_BIN:-}" ]; then
      measure record-base "$BENCH_BASE_BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json --record "$WORK/e-base.jsonl" --force "RETR $n" >> "$res"
    fi
    measure curl curl -s -u demo:demo "pop3://$PLAIN/$n" -o /dev/null >> "$res"
    # The disk alone: the recording copied from the page cache to a new file, then fsync.
    rm -f "$WORK/e-dd.jsonl"
    measure dd dd if="$WORK/e.jsonl" of="$WORK/e-dd.jsonl" bs=1M conv=fsync status=none >> "$res"
  done
  rm -f "$WORK/e-dd.jsonl"
  local record_mb; record_mb=$(du -m "$WORK/e.jsonl" | cut -f1)
  rm -f /dev/shm/popscope-e.jsonl
  col() { awk -v l="$1" -v c="$2" '$1==l{print $c}' "$res" | median; }
  local pw pr cw prss rrss crss ps psrss
  pw=$(col plain 2) pr=$(col record 2) cw=$(col curl 2) ps=$(col record-shm 2)
  prss=$(col plain 3) rrss=$(col record 3) crss=$(col curl 3) psrss=$(col record-shm 3)
  echo "engine: callgrind, $ENGINE_CG_MB MiB body" >&2
  cargo build --release -q -p popscope-core --example retr_body
  command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" --toggle-collect='retr_body::retr' \
    target/release/examples/retr_body "$ENGINE_CG_MB" 2>"$WORK/cg.err" >/dev/null || true
  local ir; ir=$(awk '/refs:/{gsub(",", "", $NF); print $NF}' "$WORK/cg.err")
  local load_after; load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b>0 ? a/b : 0)}'; }
  {
    echo "## Engine and recording"
    echo
    echo "- date: $(date -u +%Y-%m-%d); plain RETR of $ENGINE_MB MB from Dovecot (\`BENCH_ENGINE_MB=$ENGINE_MB scripts/bench.sh --engine\`), \`popscope send --json\` with and without \`--record\` (release build) and curl, alternated, medians of $RUNS runs"
    echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after ($(nproc) cores, shared)"
    echo
    echo "| what | wall (s) | peak RSS (MiB) | vs popscope without --record |"
    echo "|---|---|---|---|"
    echo "| popscope send | $pw | $(awk -v k="$prss" 'BEGIN{printf "%.1f", k/1024}') | 1.00 |"
    echo "| popscope send --record | $pr | $(awk -v k="$rrss" 'BEGIN{printf "%.1f", k/1024}') | $(ratio "$pr" "$pw") (goal <= 1.15) |"
    echo "| popscope send --record, to tmpfs (no disk) | $ps | $(awk -v k="$psrss" 'BEGIN{printf "%.1f", k/1024}') | $(ratio "$ps" "$pw") |"
    if [ -n "${BENCH_BASE_BIN:-}" ]; then
      local pb pbrss; pb=$(col record-base 2) pbrss=$(col record-base 3)
      echo "| popscope send --record at ${BENCH_BASE_NAME:-the base} | $pb | $(awk -v k="$pbrss" 'BEGIN{printf "%.1f", k/1024}') | $(ratio "$pb" "$pw") |"
    fi
    echo "| curl | $cw | $(awk -v k="$crss" 'BEGIN{printf "%.1f", k/1024}') | $(ratio "$cw" "$pw") |"
    echo "| dd of the recording to a new file, with fsync (the disk alone) | $(col dd 2) | - | - |"
    echo
    echo "- the recording: $record_mb MB (format 2)$([ -n "${BENCH_BASE_BIN:-}" ] && echo "; at ${BENCH_BASE_NAME:-the base}: $(du -m "$WORK/e-base.jsonl" | cut -f1) MB")"
    echo "- callgrind, one RETR body of $ENGINE_CG_MB MiB through the engine and out as body lines (\`crates/core/examples/retr_body.rs\`): $ir instructions, $(awk -v i="$ir" -v m="$ENGINE_CG_MB" 'BEGIN{printf "%.2f", i/m/1e6}') M a MiB"
  } > "$out"
  cat "$out" >&2
}

if [ $RELAY_ONLY = 1 ]; then
  relay_bench
  replace_section Relay "$WORK/relay.md"
  exit 0
fi
if [ $LISTING_ONLY = 1 ]; then
  listing_bench
  replace_section "Listings" "$WORK/listing.md"
  exit 0
fi
if [ $FLEET_ONLY = 1 ]; then
  fleet_bench
  replace_section Fleet "$WORK/fleet.md"
  exit 0
fi
if [ $ENGINE_ONLY = 1 ]; then
  engine_bench
  replace_section "Engine and recording" "$WORK/engine.md"
  exit 0
fi

results=$WORK/results.txt
: > "$results"
for mb in $SIZES_MB; do
  n=${NUM[$mb]:-}
  [ -n "$n" ] || { echo "no message of $mb MB found" >&2; continue; }
  for run in $(seq 1 "$RUNS"); do
    echo "RETR $mb MB, run $run/$RUNS" >&2
    measure "plain/$mb/popscope" "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json "RETR $n" >> "$results"
    measure "plain/$mb/popscope+record" "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user --json --record "$WORK/r.jsonl" --force "RETR $n" >> "$results"
    measure "plain/$mb/popscope-transcript" "$BIN" send "pop3://$PLAIN" --user demo --password-env PW --login user "RETR $n" >> "$results"
    measure "plain/$mb/curl" curl -s -u demo:demo "pop3://$PLAIN/$n" -o /dev/null >> "$results"
    measure "plain/$mb/poplib" python3 -c "import poplib; p=poplib.POP3('127.0.0.1',$POPSCOPE_DOVECOT_PLAIN); p.user('demo'); p.pass_('demo'); p.retr($n); p.quit()" >> "$results"
    measure "tls/$mb/popscope" "$BIN" send "pop3s://$TLS" --ca-file "$CA" --user demo --password-env PW --login user --json "RETR $n" >> "$results"
    measure "tls/$mb/curl" curl -s --cacert "$CA" -u demo:demo "pop3s://$TLS/$n" -o /dev/null >> "$results"
    measure "tls/$mb/openssl" sh -c "printf 'USER demo\r\nPASS demo\r\nRETR $n\r\nQUIT\r\n' | openssl s_client -connect $TLS -CAfile $CA -quiet -ign_eof" >> "$results"
    measure "tls/$mb/poplib" python3 -c "import poplib,ssl; p=poplib.POP3_SSL('127.0.0.1',$POPSCOPE_DOVECOT_TLS,context=ssl.create_default_context(cafile='$CA')); p.user('demo'); p.pass_('demo'); p.retr($n); p.quit()" >> "$results"
  done
done
for run in $(seq 1 "$RUNS"); do
  echo "LIST/UIDL of $MANY messages, run $run/$RUNS" >&2
  measure "many/list+uidl/popscope" "$BIN" send "pop3://$PLAIN" --user many --password-env MANYPW --login user --json LIST UIDL >> "$results"
  measure "many/list+uidl/curl" sh -c "curl -s -u many:many pop3://$PLAIN/ && curl -s -u many:many -X UIDL pop3://$PLAIN/" >> "$results"
  measure "many/list+uidl/poplib" python3 -c "import poplib; p=poplib.POP3('127.0.0.1',$POPSCOPE_DOVECOT_PLAIN); p.user('many'); p.pass_('many'); p.list(); p.uidl(); p.quit()" >> "$results"
done

# check --transcript on the recording of the largest RETR that is at most 100 MB.
check_line=""
if [ -s "$WORK/r.jsonl" ]; then
  size=$(stat -c %s "$WORK/r.jsonl")
  t=$( { /usr/bin/time -f "%e %M" "$BIN" check --transcript "$WORK/r.jsonl" >/dev/null; } 2>&1 | tail -1)
  check_line="check --transcript: $(python3 -c "import sys; s,r=sys.argv[1:3]; w,m=r.split(); print(f'{int(s)/1e6:.1f} MB in {float(w):.2f} s = {int(s)/1e6/max(float(w),0.01):.0f} MB/s, {int(m)/1024:.1f} MiB RSS')" "$size" "$t")"
fi

# Time from start to the greeting on screen in the TUI.
tui_line=""
if command -v tmux >/dev/null; then
  ms=()
  for run in $(seq 1 5); do
    tmux -L bench kill-server 2>/dev/null || true
    start=$(date +%s%N)
    tmux -L bench new-session -d -x 120 -y 34 "exec env HOME=$WORK $BIN pop3://$PLAIN"
    until tmux -L bench capture-pane -p | grep -q "+OK Dovecot"; do sleep 0.005; done
    ms+=($(( ($(date +%s%N) - start) / 1000000 )))
    tmux -L bench kill-server
  done
  # tmux's own share: the same start with a command that prints at once.
  base=()
  for run in $(seq 1 5); do
    tmux -L bench kill-server 2>/dev/null || true
    start=$(date +%s%N)
    tmux -L bench new-session -d -x 120 -y 34 "echo READY; sleep 5"
    until tmux -L bench capture-pane -p | grep -q READY; do sleep 0.005; done
    base+=($(( ($(date +%s%N) - start) / 1000000 )))
    tmux -L bench kill-server
  done
  tui_line="TUI start to greeting on screen (tmux, includes tmux start): ${ms[*]} ms; tmux alone to a printed line: ${base[*]} ms"

  # The UI retrieving the largest message: peak RSS, and the body scrolls once it is in.
  # (A failure here must not lose the figures above: every step is allowed to fail.)
  big=${SIZES_MB##* }
  tmux -L bench new-session -d -x 160 -y 40 "exec env HOME=$WORK PW=demo $BIN pop3://$PLAIN --user demo --password-env PW"
  # exec: the pane's process is popscope itself.
  pid=$(tmux -L bench display-message -p '#{pane_pid}' || true)
  until tmux -L bench capture-pane -p | grep -q "▶TRANSACTION"; do sleep 0.05; done
  start=$(date +%s%N)
  tmux -L bench send-keys -l "RETR ${NUM[$big]}"; tmux -L bench send-keys Enter
  for _ in $(seq 6000); do
    tmux -L bench capture-pane -p | grep -qE "lines, [0-9]+ octets, first [0-9]+ kept *│" && break
    sleep 0.05
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  rss=$(awk '/VmHWM/{print int($2/1024)}' /proc/"$pid"/status 2>/dev/null || echo "?")
  # Esc to the panels, the fold opens with Enter and shows the body.
  tmux -L bench send-keys Escape; sleep 0.2; tmux -L bench send-keys Enter; sleep 0.2
  tmux -L bench send-keys PageDown; sleep 0.3
  scrolled=no; tmux -L bench capture-pane -p | grep -q "Lorem ipsum" && scrolled=yes
  tmux -L bench kill-server || true
  tui_line="$tui_line
- TUI retrieving the $big MB message from Dovecot: $ms ms to the end of the body (screen polled every 50 ms), peak RSS $rss MiB; the body unfolds on Enter: $scrolled"
fi

relay_bench || echo "relay: failed" > "$WORK/relay.md"
fleet_bench || echo "fleet: failed" > "$WORK/fleet.md"
listing_bench || echo "listings: failed" > "$WORK/listing.md"
engine_bench || echo "engine: failed" > "$WORK/engine.md"

echo "criterion" >&2
engine=$(cargo bench --bench engine -- --warm-up-time 1 --measurement-time 4 2>/dev/null | grep -A2 'engine/retr_body' | grep -E 'thrpt' | head -1 | sed 's/ \+/ /g')
render=$(cargo bench --bench render -- --warm-up-time 1 --measurement-time 3 frame_1m_rows_follow_200x60 2>/dev/null | grep -E 'time:' | head -1 | sed 's/ \+/ /g')

python3 - "$results" "$RUNS" "$MANY" "$check_line" "$tui_line" "$engine" "$render" > BENCHMARKS.md <<'PY'
import sys, statistics, platform, datetime, os, collections
res, runs, many, check_line, tui_line, engine, render = sys.argv[1:8]
rows = collections.defaultdict(list)
for l in open(res):
    p = l.split()
    if len(p) == 3:
        rows[p[0]].append((float(p[1]), int(p[2])))
med = {k: (statistics.median(w for w, _ in v), max(m for _, m in v)) for k, v in rows.items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
print("# popscope benchmarks\n")
print(f"- date: {datetime.date.today()}; machine: {os.cpu_count()} cores ({cpu}), {mem} MiB; {platform.platform()}")
print(f"- server: Dovecot on loopback (scripts/dovecot.sh); medians of {runs} runs, tools alternated; peak RSS is the largest of the runs")
print("- popscope = `popscope send URL \"RETR n\" --json` (every line checked; `-transcript` prints the whole session; `+record` also writes JSON Lines)\n")
print("| transport | size | tool | wall (s) | ratio to popscope | peak RSS (MiB) |")
print("|---|---|---|---|---|---|")
for key in sorted(med, key=lambda k: (k.split('/')[0], float(k.split('/')[1]) if k.split('/')[1].replace('.','').isdigit() else 0, k)):
    tr, size, tool = key.split("/")
    base = med.get(f"{tr}/{size}/popscope")
    w, m = med[key]
    ratio = f"{w / base[0]:.2f}" if base and base[0] > 0 else "-"
    label = f"{size} MB" if size.isdigit() else f"{size} ({many} messages)"
    print(f"| {tr} | {label} | {tool} | {w:.2f} | {ratio} | {m/1024:.1f} |")
print()
for l in (check_line, tui_line, f"engine (criterion): {engine}", f"TUI frame, 1,000,000 rows, 200x60 (criterion): {render}"):
    if l.strip() and not l.endswith(": "):
        print(f"- {l}")
PY
for section in relay fleet listing engine; do echo; cat "$WORK/$section.md"; done >> BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
