#!/usr/bin/env bash
# A flame graph of one popscope command (or any command), for a profile in a note or a review.
#   scripts/flame.sh OUT.svg CMD [ARG...]      e.g. scripts/flame.sh /tmp/recheck.svg \
#                                                 target/release/popscope check --transcript big.jsonl --json
# Samples with perf at 999 Hz (cpu-clock: this machine's VMs have no hardware counters), DWARF
# call graphs (the release profile keeps debuginfo; Rust omits frame pointers), folded and drawn
# by inferno. Installs linux-perf (Debian) and inferno (cargo install) when missing. The command's
# own output goes to /dev/null; keep it to a few seconds: DWARF samples are large.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
out=$1; shift
if ! command -v perf >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf >/dev/null
fi
command -v inferno-flamegraph >/dev/null || cargo install --quiet --locked inferno
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The command's own exit code is not ours (a check that finds a violation exits 1).
perf record -q -F 999 -e cpu-clock --call-graph dwarf,32768 -o "$work/perf.data" -- "$@" >/dev/null 2>"$work/err" || true
[ -s "$work/perf.data" ] || { echo "perf record failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf > "$work/folded"
inferno-flamegraph --title "$(basename "$1") ${*:2:4}" < "$work/folded" > "$out"
# The heaviest frames by their own time (the leaf of each sample), as text for a note.
awk '{n=$NF; $NF=""; k=split($0, f, ";"); g=f[k]; gsub(/^ +| +$/, "", g); t[g]+=n; total+=n}
     END { for (g in t) printf "%5.1f%%  %s\n", 100*t[g]/total, substr(g, 1, 110) }' "$work/folded" | sort -rn | sed -n '1,12p'
# cpu-clock samples are weighted by their period, in nanoseconds.
echo "flame graph: $out ($(awk '{s+=$NF} END {printf "%.0f", s/1e6}' "$work/folded") ms of samples)"
