# Sourced by scripts/bench.sh --offline: reading recordings back, with no server.
# Generates two JSON Lines recordings of BENCH_OFFLINE_MB (default 1024) each, written directly
# in the documented format (src/transcript/jsonl/mod.rs): one RETR of long records, and many
# small records (LIST, UIDL and TOP of many messages, one record a line); and their text
# exports. Times, alternated RUNS times (medians, the largest peak RSS): wc -l, cat, jq -c .,
# and popscope's offline paths, each also with the popscope of BENCH_OFFLINE_BASE (default
# 8be4e0c, built in a temporary worktree into target/bench-base; BENCH_OFFLINE_BEFORE=BIN gives
# a built one instead). Checks that both give the same findings and byte-identical exports.
# Each recording is also written as format 2 (its data as raw blocks), which only today's
# popscope reads: its rows are "(format 2)", beside wc -l on that file, and its findings must
# be those of format 1 but for the line numbers (a block spans its lines).

offline_bench() { # out.md
  local out=$1 mb=${BENCH_OFFLINE_MB:-1024} base=${BENCH_OFFLINE_BASE:-8be4e0c}
  command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null; }
  local before=${BENCH_OFFLINE_BEFORE:-}
  if [ -z "$before" ]; then
    git worktree add -q --detach "$WORK/base" "$base"
    cargo build --release -q --manifest-path "$WORK/base/Cargo.toml" --target-dir target/bench-base
    git worktree remove --force "$WORK/base"
    before=$PWD/target/bench-base/release/popscope
  fi
  local d=$WORK/offline; mkdir -p "$d"
  echo "generating recordings of $mb MB" >&2
  python3 - "$mb" "$d" <<'PY'
import json, sys
mb, d = int(sys.argv[1]), sys.argv[2]
target = mb * 1024 * 1024
for shape in ("retr", "many"):
    out = open(f"{d}/{shape}.jsonl", "w")
    out2 = open(f"{d}/{shape}2.jsonl", "w")
    t = 0.0
    def rec(dr, text):
        global t
        t += 0.0001
        out.write('{"type":"data","t":%.4f,"dir":"%s","text":%s}\n' % (t, dr, json.dumps(text)))
        out2.write('{"type":"data","t":%.4f,"dir":"%s","octets":%d}\n%s\n' % (t, dr, len(text), text))
    for n, o in ((1, out), (2, out2)):
        o.write('{"type":"header","format":%d,"popscope":"0.1.0","target":"pop3://127.0.0.1:1","started":1795478400.0,"secrets":"redacted"}\n' % n)
    for c, r in (("", "+OK ready"), ("USER a", "+OK"), ("PASS ******", "+OK")):
        if c: rec("client", c + "\r\n")
        rec("server", r + "\r\n")
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\r\n"
    if shape == "retr":
        chunk = (line * 49 + "..a line that needs dot-stuffing\r\n") * 8
        n = target // (len(chunk) + 40) + 1
        rec("client", "RETR 1\r\n"); rec("server", "+OK %d octets\r\n" % (n * len(chunk)))
        for _ in range(n): rec("server", chunk)
        rec("server", ".\r\n")
    else:
        msgs = target // 700 + 1
        for cmd, fmt in (("LIST", "%d 40\r\n"), ("UIDL", "%d m%d.localhost\r\n")):
            rec("client", cmd + "\r\n"); rec("server", "+OK\r\n")
            for i in range(1, msgs + 1): rec("server", fmt % ((i,) * fmt.count("%d")))
            rec("server", ".\r\n")
        for i in range(1, msgs + 1):
            rec("client", "TOP %d 0\r\n" % i); rec("server", "+OK\r\n")
            rec("server", "Subject: small %d\r\n" % i); rec("server", "\r\n"); rec("server", ".\r\n")
    rec("client", "QUIT\r\n"); rec("server", "+OK bye\r\n")
    out.close(); out2.close()
PY
  local rows=$d/rows same=yes shape f
  : > "$rows"
  for shape in retr many; do
    f=$d/$shape.jsonl
    "$BIN" export --to text "$f" -o "$d/$shape.txt" 2>/dev/null
    # The same outputs before and after: findings, and both exports byte for byte.
    for kind in check text bundle ttext; do
      case $kind in
        check) a=("$BIN" check --transcript "$f" --json); b=("$before" check --transcript "$f" --json) ;;
        ttext) a=("$BIN" check --transcript "$d/$shape.txt" --json); b=("$before" check --transcript "$d/$shape.txt" --json) ;;
        *) a=("$BIN" export --to $kind "$f"); b=("$before" export --to $kind "$f") ;;
      esac
      [ "$("${a[@]}" 2>/dev/null | sha256sum)" = "$("${b[@]}" 2>/dev/null | sha256sum)" ] || { same=no; echo "differs: $shape $kind" >&2; }
    done
    # Format 2 finds what format 1 finds: the same report but for its source and line numbers.
    local f2=$d/${shape}2.jsonl unlined='del(.source) | walk(if type == "object" then del(.line) else . end)'
    [ "$("$BIN" check --transcript "$f2" --json 2>/dev/null | jq -c "$unlined" | sha256sum)" = \
      "$("$BIN" check --transcript "$f" --json 2>/dev/null | jq -c "$unlined" | sha256sum)" ] || { same=no; echo "differs: $shape format 2" >&2; }
    local size; size=$(stat -c %s "$f")
    local size2; size2=$(stat -c %s "$f2")
    local tsize; tsize=$(stat -c %s "$d/$shape.txt")
    for run in $(seq 1 "$RUNS"); do
      for label in "wc -l|$size|wc -l $f" "cat|$size|cat $f" "jq -c .|$size|jq -c . $f" \
        "check --transcript (jsonl)|$size|@ check --transcript $f --json" \
        "export --to text|$size|@ export --to text $f" "export --to bundle|$size|@ export --to bundle $f" \
        "wc -l (format 2)|$size2|wc -l $f2" "cat (format 2)|$size2|cat $f2" \
        "check --transcript (format 2)|$size2|@ check --transcript $f2 --json" \
        "export --to text (format 2)|$size2|@ export --to text $f2" \
        "wc -l (text)|$tsize|wc -l $d/$shape.txt" \
        "check --transcript (text)|$tsize|@ check --transcript $d/$shape.txt --json" \
        "replay --headless (text)|$tsize|@ replay --headless $d/$shape.txt"; do
        IFS='|' read -r name bytes cmd <<<"$label"
        for who in after before; do
          case $cmd in @*) local bin=$BIN; [ $who = before ] && { case $name in *"format 2"*) continue ;; esac; bin=$before; }; set -- "$bin" ${cmd#@ } ;;
            *) [ $who = before ] && continue; set -- $cmd ;; esac
          /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" >/dev/null 2>/dev/null || true
          echo "$shape|$name|$who|$bytes|$(tail -1 "$WORK/t")" >> "$rows"
        done
      done
    done
  done
  python3 - "$rows" "$mb" "$RUNS" "$base" "$same" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$out" <<'PY'
import sys, statistics
rows, mb, runs, base, same, load = sys.argv[1:7]
t = {}
for l in open(rows):
    shape, name, who, size, res = l.rstrip("\n").split("|")
    w, m = res.split()
    t.setdefault((shape, name, who, int(size)), []).append((float(w), int(m)))
print("## Offline: reading recordings\n")
print(f"- `BENCH_OFFLINE_MB={mb} scripts/bench.sh --offline` (release build); recordings written directly in the"
      " documented JSON Lines format: `retr` one RETR in records of 31 KB, `many` LIST, UIDL and TOP of many messages"
      f" (one record a line); the text files are their `export --to text`; alternated, medians of {runs} runs;"
      f" before: the same command at {base}")
print("- `(format 2)`: the same recording written as format 2 (data as raw blocks, the recorder's format now), read only by"
      " today's popscope; `x wc -l` is against `wc -l` on the file of that row")
print(f"- same findings and byte-identical exports before and after, and format 2 finding what format 1 finds: {same};"
      f" load average after: {load} (2 cores, shared)\n")
print("| recording | command | MB | before (s) | after (s) | after MB/s | x wc -l | before RSS (MiB) | after RSS (MiB) |")
print("|---|---|---|---|---|---|---|---|---|")
med = lambda v: statistics.median(x[0] for x in v)
peak = lambda v: max(x[1] for x in v) / 1024
for (shape, name, who, size), v in t.items():
    if who != "after":
        continue
    kind = next((k for k in ("(text)", "(format 2)") if k in name), "")
    wc = t.get((shape, f"wc -l {kind}".strip(), "after", size))
    b = t.get((shape, name, "before", size))
    a = med(v)
    print(f"| {shape} | {name} | {size/1e6:.0f} | {f'{med(b):.2f}' if b else '-'} | {a:.2f} | {size/1e6/a if a else 0:.0f}"
          f" | {a/med(wc) if wc and med(wc) else 0:.1f} | {f'{peak(b):.1f}' if b else '-'} | {peak(v):.1f} |")
PY
  cat "$out" >&2
}
