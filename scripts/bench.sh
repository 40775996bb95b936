#!/usr/bin/env bash
# popscope against the tools people compare it with, on this machine, over loopback.
#   scripts/bench.sh           messages of 1 MB, 100 MB and 1 GB; a maildrop of 100,000 messages
#   scripts/bench.sh --quick   1 MB and 100 MB; 10,000 messages (a few minutes)
# Starts its own Dovecot (scripts/dovecot.sh, ports 12110/12995), times popscope send, curl,
# openssl s_client and python3 poplib, alternating them RUNS times and taking medians, measures
# peak RSS (/usr/bin/time), runs the criterion benchmarks, and writes BENCHMARKS.md.
# Long-running by design: not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
RUNS=${RUNS:-3}
if [ $QUICK = 1 ]; then SIZES_MB="1 100"; MANY=10000; else SIZES_MB="1 100 1024"; MANY=100000; fi

export POPSCOPE_DOVECOT_DIR=/tmp/popscope-bench POPSCOPE_DOVECOT_PLAIN=12110 POPSCOPE_DOVECOT_TLS=12995
DIR=$POPSCOPE_DOVECOT_DIR
PLAIN=127.0.0.1:$POPSCOPE_DOVECOT_PLAIN
TLS=127.0.0.1:$POPSCOPE_DOVECOT_TLS
WORK=$(mktemp -d)
trap 'scripts/dovecot.sh stop; rm -rf "$WORK"' EXIT

for t in curl openssl python3; do command -v $t >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends curl openssl python3 >/dev/null; break; }; done
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends time >/dev/null; }
cargo build --release -q
BIN=$PWD/target/release/popscope
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
echo "wrote BENCHMARKS.md" >&2
