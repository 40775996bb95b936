#!/usr/bin/env bash
# The report card of real POP3 clients against a misbehaving server: docs/clients.md.
#   scripts/clients.sh
# For each client (curl, Python's poplib, mpop, fetchmail, getmail6, neomutt) and each case of
# the client cases (README: Test a mail client on purpose) that `popscope serve --list-quirks` lists, plus a healthy server ("none"), runs
# the client against `popscope serve --quirk CASE --check-client --once --json` and writes
# what the client did and which client rules (CL-*) the judge reported. Cases this build does
# not have yet are marked "not yet". Clients are told to require TLS: by STLS, or implicit TLS
# where they have no STLS (getmail6). Each runs in a throwaway HOME with its own configuration.
# Not part of CI: it takes a minute or two, longer with slow-replies.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${CLIENTS_OUT:-docs/clients.md}
# slow-replies at 1 s a reply (its default 3 s times most clients' whole session out of the
# script's 60 s); login-delay shows only on a second login, and each client connects once here
# (tests/inject.rs has the two-connection run).
CASES="strip-stls stls-refused stls-response-injection no-capa pre-auth capa-differs-after-tls oauth-error slow-replies=1 drop-mid-retr in-use login-delay long-uidl"
CLIENTS="curl poplib mpop fetchmail getmail neomutt"
# Debian's python3 (a pyenv shim may stand first in PATH).
PY=/usr/bin/python3

# POPSCOPE_BIN: a popscope already built (else the debug build, made now).
BIN=${POPSCOPE_BIN:-}
[ -n "$BIN" ] || { cargo build -q && BIN=$PWD/target/debug/popscope; }
WORK=$(mktemp -d)
SERVE_PID=
trap '[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

version() {
  case $1 in
    curl) curl --version | head -1 | cut -d' ' -f2 ;;
    poplib) "$PY" -c 'import platform; print("Python " + platform.python_version())' ;;
    mpop) mpop --version | head -1 | awk '{print $3}' ;;
    fetchmail) fetchmail --version 2>&1 | sed -n 's/.*release \([^+]*\).*/\1/p' | head -1 ;;
    getmail) getmail --version 2>&1 | head -1 | awk '{print $2}' ;;
    neomutt) neomutt -v | head -1 | awk '{print $2}' ;;
  esac
}

have() {
  case $1 in
    poplib) [ -x "$PY" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# How the client reaches the demo server: STLS required, or implicit TLS.
tls_of() { [ "$1" = getmail ] && echo implicit || echo starttls; }

# run_client CLIENT PORT CA HOME: fetches every message into HOME/got/ (one file each, or a
# stream); prints the client's exit code.
run_client() {
  local client=$1 port=$2 ca=$3 home=$4 rc
  mkdir -p "$home/got"
  case $client in
    curl)
      timeout 60 curl -sv --fail-early --ssl-reqd --cacert "$ca" -u demo:demo --max-time 40 \
        "pop3://127.0.0.1:$port/1" -o "$home/got/1" "pop3://127.0.0.1:$port/2" -o "$home/got/2" \
        "pop3://127.0.0.1:$port/3" -o "$home/got/3" "pop3://127.0.0.1:$port/4" -o "$home/got/4" \
        >"$home/log" 2>&1
      rc=$? ;;
    poplib)
      HOME=$home timeout 60 "$PY" - "$port" "$ca" "$home/got" >"$home/log" 2>&1 <<'PY'
import poplib, ssl, sys
port, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
p = poplib.POP3("127.0.0.1", port, timeout=40)
p.stls(context=ssl.create_default_context(cafile=ca))
p.user("demo")
p.pass_("demo")
for entry in p.list()[1]:
    n = int(entry.split()[0])
    with open(f"{out}/{n}", "wb") as f:
        f.write(b"".join(l + b"\r\n" for l in p.retr(n)[1]))
p.quit()
PY
      rc=$? ;;
    mpop)
      # One file per message: the MDA runs once for each, through sh.
      printf 'account demo\nhost 127.0.0.1\nport %s\ntls on\ntls_starttls on\ntls_trust_file %s\nuser demo\npassword demo\ndelivery mda "cat > $(mktemp %s/got/msg.XXXXXX)"\nkeep on\nonly_new off\nreceived_header off\nuidls_file %s/uidls\ntimeout 40\n' \
        "$port" "$ca" "$home" "$home" > "$home/mpoprc"
      chmod 600 "$home/mpoprc"
      HOME=$home timeout 60 mpop -C "$home/mpoprc" --debug demo >"$home/log" 2>&1
      rc=$? ;;
    fetchmail)
      printf 'set no syslog\nset invisible\npoll localhost protocol pop3 port %s timeout 40\n  user demo password "demo" is demo here\n  sslproto tls1.2+ sslcertfile %s sslcertck\n  keep fetchall norewrite\n  mda "cat > $(mktemp %s/got/msg.XXXXXX)"\n' \
        "$port" "$ca" "$home" > "$home/fetchmailrc"
      chmod 600 "$home/fetchmailrc"
      HOME=$home timeout 60 fetchmail -f "$home/fetchmailrc" -v --nodetach --nosyslog -i "$home/ids" \
        --pidfile "$home/pid" >"$home/log" 2>&1
      rc=$? ;;
    getmail)
      mkdir -p "$home/Maildir/"{new,cur,tmp}
      printf '[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = %s\nusername = demo\npassword = demo\nca_certs = %s\ntimeout = 40\n\n[destination]\ntype = MDA_external\npath = /bin/sh\narguments = ("-c", "cat > $(mktemp %s/got/msg.XXXXXX)")\nallow_root_commands = true\n\n[options]\nread_all = true\ndelete = false\ndelivered_to = false\nreceived = false\n' \
        "$port" "$ca" "$home" > "$home/getmailrc"
      chmod 600 "$home/getmailrc"
      HOME=$home timeout 60 getmail --rcfile="$home/getmailrc" --getmaildir="$home" >"$home/log" 2>&1
      rc=$? ;;
    neomutt)
      mkdir -p "$home/Maildir/"{new,cur,tmp}
      cat > "$home/neomuttrc" <<EOF
set pop_host="pop://demo@127.0.0.1:$port/"
set pop_pass="demo"
set pop_delete=no
set pop_last=no
set mbox_type=Maildir
set folder="$home/Maildir"
set spool_file="$home/Maildir"
set ssl_starttls=yes
set ssl_force_tls=yes
set ssl_ca_certificates_file="$ca"
set header_cache=""
set message_cachedir=""
set timeout=40
push "<fetch-mail><quit>"
EOF
      HOME=$home TERM=xterm timeout 60 script -qec "neomutt -n -F $home/neomuttrc" /dev/null >"$home/log" 2>&1
      rc=$?
      # It moves what it read to cur/ when it quits.
      cp "$home/Maildir/new/"* "$home/Maildir/cur/"* "$home/got/" 2>/dev/null ;;
  esac
  echo "$rc"
}

# The cases that happen around STLS: nothing to serve a client on implicit TLS.
STLS_CASES=" strip-stls stls-refused stls-response-injection capa-differs-after-tls "

# One client against one case: a table row.
row() {
  local client=$1 case=$2 home=$WORK/$1-$2 tls quirk=() port ca
  mkdir -p "$home"
  tls=$(tls_of "$client")
  [ "$case" = none ] || quirk=(--quirk "$case")
  "$BIN" serve --port 0 --tls "$tls" "${quirk[@]}" --check-client --once --json \
    >"$home/report" 2>"$home/banner" </dev/null &
  SERVE_PID=$!
  for _ in $(seq 1 100); do grep -q '^Ctrl-C\|^listening' "$home/banner" 2>/dev/null && grep -q 'CA certificate' "$home/banner" && break; sleep 0.05; done
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$home/banner" | head -1)
  ca=$(sed -n 's/^CA certificate: \([^ ]*\).*/\1/p' "$home/banner" | head -1)
  local rc; rc=$(run_client "$client" "$port" "$ca" "$home")
  # --once ends after the connection; a client that never connected leaves it waiting.
  for _ in $(seq 1 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
  kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=
  local fetched; fetched=$(find "$home/got" -type f -size +0 | wc -l)
  "$PY" - "$home/report" "$client" "$(version "$client")" "$tls" "$case" "$rc" "$fetched" <<'PY'
import json, sys
report, client, version, tls, case, rc, fetched = sys.argv[1:8]
try:
    v = json.loads(open(report).readline())
except ValueError:
    v = None
did = []
if v is None:
    did.append("did not connect (no report)")
findings = v["findings"] if v else []
client_side = [f for f in findings if f.get("side") == "client"]
rules = sorted({f"{f['rule']} ({f['severity']})" for f in client_side})
if any(f["rule"] == "CL-008" for f in client_side):
    did.append("sent credentials in the clear")
n = int(fetched)
if n == 4:
    did.append("fetched all 4 messages")
elif n:
    did.append(f"fetched {n} of 4 messages")
elif v is not None:
    did.append("stopped without fetching")
did.append(f"exit {rc}")
server = sorted({f["rule"] for f in findings if f.get("side") == "server"})
via = "STLS required" if tls == "starttls" else "pop3s"
print(f"| {client} {version} ({via}) | {case} | {'; '.join(did)} | {', '.join(rules) or '-'} | {', '.join(server) or '-'} |")
PY
}

# Names as listed: a case that takes a number is listed as NAME[=N].
listed=$("$BIN" serve --list-quirks | awk '{print $1}' | sed 's/\[=N\]$//')
rows=$WORK/rows
: > "$rows"
not_yet=()
for case in none $CASES; do
  if [ "$case" != none ] && ! grep -qx -- "${case%%=*}" <<<"$listed"; then
    not_yet+=("$case")
    continue
  fi
  for client in $CLIENTS; do
    if ! have "$client"; then
      echo "| $client | $case | not installed | - | - |" >> "$rows"
      continue
    fi
    if [ "$(tls_of "$client")" = implicit ] && [[ $STLS_CASES == *" $case "* ]]; then
      echo "| $client $(version "$client") (pop3s) | $case | n/a: it has no STLS for POP3 | - | - |" >> "$rows"
      continue
    fi
    echo "$client: $case" >&2
    row "$client" "$case" >> "$rows"
  done
done
for case in "${not_yet[@]}"; do
  echo "| every client | $case | not yet: this build's \`serve --list-quirks\` has no $case | - | - |" >> "$rows"
done

{
  cat <<EOF
# How real POP3 clients handle a misbehaving server

Made by \`scripts/clients.sh\` on $(date -u +%Y-%m-%d) ($(uname -sr); popscope $("$BIN" --version | awk '{print $2}')); re-run it
to refresh this page. For every client installed and every client case (README, "Test a mail client on purpose") that
\`popscope serve --list-quirks\` lists (and "none", a healthy server), the script starts
\`popscope serve --quirk CASE --check-client --once --json\`, runs the client against it from a
throwaway HOME with its own configuration (user demo/demo; TLS required: STLS, or implicit TLS
for getmail6, which has no STLS for POP3; the demo's CA trusted), and records what the client
did (the messages it stored, its exit code) and what the judge reported: the client rules
(CL-*) with their severity, and the server rules the quirk itself set off (the misbehaviour
served, as the case table lists it). In the way of EAST's published results (NO STARTTLS,
USENIX Security 2021): a safe client stops before any credential when TLS is taken away.
"stopped" with a non-zero exit is the safe answer to an attack case; the exit code is the
client's own (curl stops at its first failed URL; 124 is the script's 60 s limit). A case that depends
on how the octets fall into reads (stls-response-injection: the injected lines in the same
read as the \`+OK\`, or in the handshake) can end differently from run to run. The server rules
are what the judge saw of the demo (info notes such as CAPA-004 for a list that grows under TLS
included).

| client (how it connects) | case | what it did | client rules reported | server rules (the case) |
|---|---|---|---|---|
EOF
  cat "$rows"
} > "$OUT"
echo "wrote $OUT" >&2
