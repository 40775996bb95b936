#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real binary: tmux runs popscope against the demo
# server, capture-pane -e keeps the colours, aha turns them into HTML, headless Chromium
# renders the PNG. Installs tmux, aha and chromium from Debian packages when missing.
# `scripts/screenshots.sh NAME` shoots only screenshots/NAME.png.
set -euo pipefail
only=${1:-}
cd "$(dirname "$0")/.."
need=()
for t in tmux aha chromium; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]/chromium/chromium fonts-dejavu-core}" >/dev/null
fi
cargo build --release -q
bin=$PWD/target/release/popscope
out=$PWD/screenshots
work=$(mktemp -d)
mkdir -p "$out"
W=128 H=36

# shot NAME "popscope args" key... ; a key "wait:TEXT" waits until TEXT is on screen, a key
# "line:TEXT" types TEXT and Enter, "run:COMMAND" runs COMMAND here (a client of the proxy).
# A light theme is shot as on a light terminal.
shot() {
  local name=$1 args=$2; shift 2
  if [ -n "$only" ] && [ "$name" != "$only" ]; then return 0; fi
  local bg='#101418' fg='#d0d0d0' aha_bg=--black
  case "$args" in *"--theme light"*) bg='#ffffff' fg='#202020' aha_bg= ;; esac
  local sock="popscope-shot-$name"
  tmux -L "$sock" kill-server 2>/dev/null || true
  tmux -L "$sock" new-session -d -x $W -y $H "exec env HOME=$work/home TERM=xterm-256color COLORTERM=truecolor $bin $args"
  sleep 1.5
  for k in "$@"; do
    case "$k" in
      wait:*) for _ in $(seq 1 50); do tmux -L "$sock" capture-pane -p | grep -qF "${k#wait:}" && break; sleep 0.1; done ;;
      line:*) tmux -L "$sock" send-keys -l "${k#line:}"; tmux -L "$sock" send-keys Enter; sleep 0.5 ;;
      run:*) eval "${k#run:}" >/dev/null 2>&1 || true; sleep 0.3 ;;
      *) tmux -L "$sock" send-keys "$k"; sleep 0.3 ;;
    esac
  done
  sleep 0.5
  tmux -L "$sock" capture-pane -e -p > "$work/$name.ansi"
  tmux -L "$sock" kill-server
  {
    echo '<!doctype html><html><head><meta charset="utf-8"><style>'
    echo "body{margin:0;background:$bg} pre{margin:0;padding:10px;font:14px/1.2 'DejaVu Sans Mono',monospace;color:$fg}"
    # A symbol the mono font lacks (ℹ, ✖) comes from a fallback font of another width and
    # shifts the rest of its row: every non-ASCII character is held to one cell.
    echo ".c{display:inline-block;width:1ch;text-align:center;overflow:hidden;vertical-align:bottom}"
    echo '</style></head><body><pre>'
    aha --no-header $aha_bg < "$work/$name.ansi" |
      perl -CSD -pe 's/([^\x00-\x7f\x{2500}-\x{257f}])/<span class="c">$1<\/span>/g'
    echo '</pre></body></html>'
  } > "$work/$name.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/chrome" --hide-scrollbars \
    --window-size=1110,650 --screenshot="$out/$name.png" "file://$work/$name.html" >/dev/null 2>&1
  echo "screenshots/$name.png"
}

shot seed-case "demo --quirk tls-preauth" "wait:client cert sent" "line:USER demo" "wait:already authenticated" "line:STAT" "y" "wait:ST-009" "Escape" "Tab" "Down" "Down" "Down"
shot stls-session "demo" "wait:AUTHORIZATION" "line:CAPA" "line::starttls" "wait:TLS handshake done" "line:USER demo" "line:PASS demo" "line:LIST" "line:RETR 2" "wait:307 octets"
shot help "demo" "wait:AUTHORIZATION" "Escape" "?"
shot light-theme "demo --theme light --quirk unstuffed-dots" "wait:AUTHORIZATION" "line:CAPA" "line::starttls" "wait:TLS handshake done" "line:USER demo" "line:PASS demo" "line:RETR 2" "wait:ML-002"
# A refused bearer token: the demo server (started here: the demo itself takes no token)
# answers with its error challenge, decoded under it, with what the JWT says.
"$bin" serve --port 39110 > "$work/serve.out" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q "CA certificate" "$work/serve.out" && break; sleep 0.1; done
ca=$(grep -o '/[^ ]*/ca.pem' "$work/serve.out" | head -1)
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
claims=$(printf '{"aud":"https://outlook.office.com","scp":"IMAP.AccessAsUser.All","exp":%s}' $(( $(date +%s) - 180 )))
POPSCOPE_SHOT_TOKEN="$(printf '{"alg":"none"}' | b64url).$(printf '%s' "$claims" | b64url).sig"
export POPSCOPE_SHOT_TOKEN
shot oauth "pop3://127.0.0.1:39110 --starttls --ca-file $ca --user demo --login oauthbearer --token-env POPSCOPE_SHOT_TOKEN" "wait:authentication failed"
# The proxy's connections view, relaying to that server: curl fetches a message, lists, and
# fails a login; a fourth client stays connected (fd 7) and sends STAT before logging in.
shot proxy "proxy --listen pop3://127.0.0.1:39112 --upstream pop3://127.0.0.1:39110" "wait:no connection yet" \
  "run:curl -s --user demo:demo pop3://127.0.0.1:39112/1" "run:curl -s --user demo:demo pop3://127.0.0.1:39112/" \
  "run:curl -s --user demo:wrong pop3://127.0.0.1:39112/" "run:exec 7<>/dev/tcp/127.0.0.1/39112" \
  "run:printf 'STAT\r\n' >&7" "run:sleep 2" "wait:1 live"
exec 7>&- || true
# check --targets --tui over a small fleet: that server, one over implicit TLS, two with a
# quirk each and a dead port, sorted by status (the worst first).
fleet_pids=()
"$bin" serve --port 39113 --tls none --quirk lowercase-status >/dev/null 2>&1 & fleet_pids+=($!)
"$bin" serve --port 39114 --tls implicit > "$work/serve-tls.out" 2>&1 & fleet_pids+=($!)
"$bin" serve --port 39115 --tls none --quirk bare-lf >/dev/null 2>&1 & fleet_pids+=($!)
trap 'kill $serve_pid "${fleet_pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q "CA certificate" "$work/serve-tls.out" && break; sleep 0.1; done
# Each demo server makes its own CA: the fleet trusts both.
cat "$ca" "$(grep -o '/[^ ]*/ca.pem' "$work/serve-tls.out" | head -1)" > "$work/cas.pem"
printf '%s\n' '# the mail fleet' 'pop3://127.0.0.1:39110 --starttls' 'pop3://127.0.0.1:39113' \
  'pop3s://127.0.0.1:39114' 'pop3://127.0.0.1:39115' 'pop3://127.0.0.1:39119' > "$work/fleet.txt"
shot fleet "check --targets $work/fleet.txt --ca-file $work/cas.pem --injection-wait 0 --tui" "wait:finished" "s" "g" "j"
kill "${fleet_pids[@]}" 2>/dev/null || true
kill $serve_pid 2>/dev/null || true
rm -rf "$work"
