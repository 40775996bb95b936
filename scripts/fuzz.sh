#!/usr/bin/env bash
# Runs the cargo-fuzz targets (nightly toolchain; never part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Seeds each corpus from the rule fixtures. Crashes land in fuzz/artifacts/TARGET/; turn every
# one into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(server_bytes session transcript_text transcript_jsonl import_curl import_openssl import_pcap)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  if [ "$t" = transcript_text ]; then
    cp tests/fixtures/rules/*.trace tests/fixtures/sessions/*.trace "fuzz/corpus/$t/" 2>/dev/null || true
  else
    for f in tests/fixtures/rules/*.trace; do
      grep '^S: ' "$f" | sed 's/^S: //' | head -c 4096 > "fuzz/corpus/$t/$(basename "$f" .trace)" || true
    done
  fi
  echo "== $t for ${secs}s"
  cargo +nightly fuzz run "$t" -O -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+== ERROR|SUMMARY)' || true
done
