#!/bin/bash
# Entrypoint of the mod_pywebsocket appliance: check the WS_* environment, prepare
# the TLS certificate, then run Apache in the foreground (logs on stdout/stderr).
# WS_ROLE=balancer runs the same image as a balancer in front of appliance replicas
# (WS_BALANCER_MEMBERS, see conf/balancer.conf) instead of serving handlers.
#
#   mod_pywebsocket-entrypoint               start the server (the default)
#   mod_pywebsocket-entrypoint healthcheck   exit 0 while the server answers HTTP
#   mod_pywebsocket-entrypoint CMD ...       run CMD instead (e.g. bash)
set -euo pipefail

log() { printf 'mod_pywebsocket: %s\n' "$*" >&2; }
die() { printf 'mod_pywebsocket: error: %s\n' "$*" >&2; exit 2; }

if [ "${1:-}" = healthcheck ]; then
    port=${WS_LISTEN_HTTP:-80}
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 4 -A mod_pywebsocket-healthcheck "http://127.0.0.1:${port##*:}/" || true)
    [ -n "$code" ] && [ "$code" != 000 ]
    exit
fi
if [ $# -gt 0 ] && [ "$1" != apache2 ]; then
    exec "$@"
fi

# Every WS_* setting is checked (and its default filled in) by the package's settings
# module, the same table the standalone server's flags and Apache's PythonOptions use:
# it prints `export` lines, or one error line (exit 2).
settings=$(python3 -m mod_pywebsocket.runtime.settings) || exit 2
eval "$settings"

mkdir -p "$WS_RUN_DIR"
chmod 755 "$WS_RUN_DIR"
rm -f "$WS_RUN_DIR"/httpd.pid "$WS_RUN_DIR"/stopping "$WS_RUN_DIR"/deadline

# -- the client-conformance suite's reports: a folder the workers (www-data) can write --
defines=()
if [ "$WS_ROLE" = appliance ] && [ "$WS_CLIENT_CONFORMANCE" = on ]; then
    defines+=(-D CLIENT_CONFORMANCE)
    mkdir -p "$WS_REPORTS_DIR" 2>/dev/null || true
    if ! runuser -u www-data -- test -w "$WS_REPORTS_DIR" 2>/dev/null; then
        chown www-data:www-data "$WS_REPORTS_DIR" 2>/dev/null \
            && log "made $WS_REPORTS_DIR writable for the server (owner www-data)" \
            || log "warning: $WS_REPORTS_DIR is not writable: client-conformance reports will not be saved"
    fi
fi

# -- the balancer's replicas ------------------------------------------------------
if [ "$WS_ROLE" = balancer ]; then
    python3 -m mod_pywebsocket.runtime.settings balancer-members "$WS_RUN_DIR/balancer-members.conf" || exit 2
    read -r -a members <<< "$WS_BALANCER_MEMBERS"
fi

# -- TLS ------------------------------------------------------------------------
cert=$WS_TLS_DIR/cert.pem
key=$WS_TLS_DIR/key.pem
if [ -e "$cert" ] || [ -e "$key" ]; then
    [ -r "$cert" ] || die "$cert is missing or unreadable; mount both cert.pem and key.pem in $WS_TLS_DIR (or neither, for a self-signed one)"
    [ -r "$key" ] || die "$key is missing or unreadable; mount both cert.pem and key.pem in $WS_TLS_DIR (or neither, for a self-signed one)"
    cert_pub=$(openssl x509 -in "$cert" -noout -pubkey 2>/dev/null) || die "$cert is not a PEM certificate"
    key_pub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || die "$key is not a PEM private key (or it has a passphrase)"
    [ "$cert_pub" = "$key_pub" ] || die "$key does not match the certificate $cert"
    openssl x509 -in "$cert" -noout -checkend 0 >/dev/null || log "warning: $cert has expired"
else
    tls_dir=$WS_RUN_DIR/tls
    cert=$tls_dir/cert.pem
    key=$tls_dir/key.pem
    mkdir -p "$tls_dir"
    san="DNS:localhost,IP:127.0.0.1,IP:::1${WS_TLS_EXTRA_SAN:+,$WS_TLS_EXTRA_SAN}"
    [ "$WS_SERVER_NAME" = localhost ] || san="$san,DNS:$WS_SERVER_NAME"
    # ECDSA P-256 for 13 days: the certificate Chromium takes over QUIC (HTTP/3) when
    # told its SPKI hash (printed below); made again at every start.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes -days 13 \
        -subj "/CN=$WS_SERVER_NAME" -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "extendedKeyUsage=serverAuth" -keyout "$key" -out "$cert" 2>/dev/null \
        || die "could not generate a self-signed certificate"
    chmod 600 "$key"
    log "no certificate in $WS_TLS_DIR: generated a self-signed one for $san"
fi
export WS_TLS_CERT=$cert WS_TLS_KEY=$key
# WS_TLS_KEYLOG: TLS secrets for Wireshark, from mod_ssl (its SSLKEYLOGFILE) and the HTTP/3
# listener; a file anyone who reads decrypts the traffic with.
if [ -n "$WS_TLS_KEYLOG" ]; then
    touch "$WS_TLS_KEYLOG" 2>/dev/null || die "WS_TLS_KEYLOG: cannot write $WS_TLS_KEYLOG (mount a folder for it)"
    chmod 600 "$WS_TLS_KEYLOG"
    export SSLKEYLOGFILE=$WS_TLS_KEYLOG
    log "warning: TLS key log on: the secrets of every TLS and QUIC connection go to $WS_TLS_KEYLOG (test machines only)"
fi
# The hash Chromium's --ignore-certificate-errors-spki-list takes (docs/operations.md,
# "HTTP/3"); also served at /mod_pywebsocket/spki.
spki=$(openssl x509 -in "$cert" -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
printf '%s\n' "$spki" > "$WS_RUN_DIR/spki.txt"
chmod 644 "$WS_RUN_DIR/spki.txt"
export WS_SPKI_FILE=$WS_RUN_DIR/spki.txt
if [ "$WS_ROLE" = appliance ] && [ "$WS_H3" = on ]; then
    openssl x509 -in "$cert" -noout -text | grep -q 'prime256v1' \
        || log "warning: $cert is not ECDSA P-256: Chromium will not take it over HTTP/3"
    openssl x509 -in "$cert" -noout -checkend $((14 * 86400)) >/dev/null \
        && log "warning: $cert is valid for 14 days or more: Chromium will not take it over HTTP/3 with the SPKI hash"
fi
log "certificate SPKI hash (for Chromium's --ignore-certificate-errors-spki-list): $spki"

# -- run ------------------------------------------------------------------------
# Apache runs as a child so that SIGTERM can first close every open WebSocket with
# 1001 (the handlers see the shutdown file), then stop Apache gracefully: running
# handlers get up to WS_STOP_TIMEOUT seconds to finish. The deadline is ours, not
# Apache's: past GracefulShutdownTimeout Apache sends its children SIGTERM and waits
# again before SIGKILL (measured: about 20 s in all with a handler that never returns,
# so `docker stop` ended in SIGKILL and 137). At the deadline the children still
# running are killed, and the stop counts as clean: exit 0.
apache_pid=
deadline_pid=
h3_pid=
stop() {
    [ -n "$deadline_pid" ] && return  # a second SIGTERM changes nothing
    # The deadline counts from the signal, on the clock: a loop of `sleep 0.1` drifted
    # by up to 2 s on a loaded CI machine (each turn forks).
    local deadline=$(( ${EPOCHREALTIME/./} + WS_STOP_TIMEOUT * 1000000 ))
    if [ "$WS_ROLE" = balancer ]; then
        log "stopping: no new connections; open ones get up to ${WS_STOP_TIMEOUT}s (a graceful stop)"
    else
        log "stopping: closing open WebSockets with 1001, then a graceful stop (up to ${WS_STOP_TIMEOUT}s)"
        touch "$WS_RUN_DIR/stopping"
        sleep 0.5
    fi
    [ -n "$apache_pid" ] && kill -WINCH "$apache_pid" 2>/dev/null || true
    [ -n "$h3_pid" ] && kill -TERM "$h3_pid" 2>/dev/null || true
    enforce_deadline "$deadline" &
    deadline_pid=$!
}
# At $1 (microseconds since the epoch): end whatever of Apache still runs. The children
# are killed first; then the parent gets SIGTERM, which wakes it from its graceful
# stop's one-second sleep (it would otherwise notice them gone only then), and SIGKILL
# if it is still there 0.5 s later.
enforce_deadline() {
    local deadline=$1 children
    while [ "${EPOCHREALTIME/./}" -lt "$deadline" ] && { kill -0 "$apache_pid" || { [ -n "$h3_pid" ] && kill -0 "$h3_pid"; }; } 2>/dev/null; do
        sleep 0.1
    done
    if [ -n "$h3_pid" ] && kill -0 "$h3_pid" 2>/dev/null; then
        touch "$WS_RUN_DIR/deadline"
        kill -KILL $(cat "$WS_RUN_DIR/h3.pid" 2>/dev/null) 2>/dev/null || true
    fi
    kill -0 "$apache_pid" 2>/dev/null || return 0
    children=$(cat /proc/"$apache_pid"/task/*/children 2>/dev/null || true)
    log "stop deadline (${WS_STOP_TIMEOUT}s) reached: ending the handlers still running (workers ${children:-none})"
    touch "$WS_RUN_DIR/deadline"
    [ -n "$children" ] && kill -KILL $children 2>/dev/null || true
    kill -TERM "$apache_pid" 2>/dev/null || true
    deadline=$(( ${EPOCHREALTIME/./} + 500000 ))
    while [ "${EPOCHREALTIME/./}" -lt "$deadline" ]; do
        kill -0 "$apache_pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$apache_pid" 2>/dev/null || true
}
# The HTTP/3 listener (Apache has no HTTP/3): a process of its own beside Apache, started
# again when it dies (after 1 s, then up to 30 s apart while it keeps dying); exit status
# 2 or 3 (a bad setting, HTTP/3 cannot run here) is said once and not retried.
supervise_h3() {
    local child= status pause=1 stopping=
    trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM
    while [ -z "$stopping" ]; do
        local started=$SECONDS
        python3 -m mod_pywebsocket.adapters.h3 &
        child=$!
        echo "$child" > "$WS_RUN_DIR/h3.pid"
        while kill -0 "$child" 2>/dev/null; do
            wait "$child" && status=0 || status=$?
        done
        wait "$child" 2>/dev/null && status=0 || status=$?
        [ -n "$stopping" ] && break
        case $status in
            2|3) log "the HTTP/3 listener cannot run (exit status $status, see above): HTTP/3 is off"; break ;;
        esac
        [ $((SECONDS - started)) -ge 60 ] && pause=1
        log "the HTTP/3 listener exited (status $status); starting it again in ${pause}s"
        sleep "$pause" & wait $! || true
        pause=$(( pause * 2 > 30 ? 30 : pause * 2 ))
    done
}
trap stop TERM INT
trap '[ -n "$apache_pid" ] && kill -USR1 "$apache_pid" 2>/dev/null || true' HUP

conf=/etc/mod_pywebsocket/httpd.conf
[ "$WS_ROLE" = appliance ] || conf=/etc/mod_pywebsocket/balancer.conf
if ! out=$(apache2 -t -f "$conf" "${defines[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    die "Apache refused the configuration (see above)"
fi
if [ "$WS_ROLE" = appliance ]; then
    h3_note=
    [ "$WS_H3" = on ] && h3_note=", $WS_LISTEN_H3/udp (HTTP/3)"
    log "serving handlers from $WS_HANDLER_ROOT on $WS_LISTEN_HTTP (ws, http) and $WS_LISTEN_HTTPS (wss, https)$h3_note"
else
    log "balancing $WS_LISTEN_HTTP (ws, http) and $WS_LISTEN_HTTPS (wss, https) over ${members[*]}"
fi
apache2 -f "$conf" "${defines[@]}" -DFOREGROUND &
apache_pid=$!
if [ "$WS_ROLE" = appliance ] && [ "$WS_H3" = on ]; then
    supervise_h3 &
    h3_pid=$!
fi
while kill -0 "$apache_pid" 2>/dev/null; do
    wait "$apache_pid" || true  # returns early when a trapped signal arrives
done
wait "$apache_pid" && status=0 || status=$?
if [ -n "$h3_pid" ]; then
    kill -TERM "$h3_pid" 2>/dev/null || true  # Apache ended on its own: HTTP/3 goes with it
    while kill -0 "$h3_pid" 2>/dev/null; do wait "$h3_pid" || true; done
fi
if [ -e "$WS_RUN_DIR/deadline" ]; then
    log "stopped at the deadline (Apache exit status $status; handlers that did not return were ended)"
    exit 0
fi
log "stopped (Apache exit status $status)"
exit "$status"
