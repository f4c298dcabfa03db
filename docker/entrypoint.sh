#!/bin/bash
# Entrypoint of the mod_pywebsocket appliance: check the WS_* environment, prepare
# the TLS certificate, then run Apache in the foreground (logs on stdout/stderr).
# WS_ROLE=balancer runs the same image as a balancer in front of appliance replicas
# (WS_BALANCER_MEMBERS, see conf/balancer.conf) instead of serving handlers.
#
#   mod_pywebsocket-entrypoint               start the server (the default)
#   mod_pywebsocket-entrypoint healthcheck   exit 0 while every listener serves (/mod_pywebsocket/ready)
#   mod_pywebsocket-entrypoint healthcheck live   exit 0 while Apache answers HTTP at all
#   mod_pywebsocket-entrypoint CMD ...       run CMD instead (e.g. bash)
set -euo pipefail

# WS_LOG_FORMAT=json: every line a JSON object, as the servers' own (docs/operations.md).
json_text() {
    local s=$1
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}; s=${s//$'\n'/\\n}
    printf '%s' "$s"
}
say() {  # say LEVEL MESSAGE
    if [ "${WS_LOG_FORMAT:-text}" = json ]; then
        printf '{"time":"%s","level":"%s","logger":"mod_pywebsocket.entrypoint","message":"%s","pid":%d}\n' \
            "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$(json_text "$2")" $$ >&2
    elif [ "$1" = error ]; then
        printf 'mod_pywebsocket: error: %s\n' "$2" >&2
    else
        printf 'mod_pywebsocket: %s\n' "$2" >&2
    fi
}
log() { case $* in warning:*) say warn "$*" ;; *) say info "$*" ;; esac; }
die() { say error "$*"; exit 2; }

# The health check asks /mod_pywebsocket/ready on the HTTP port (200 once the readiness
# watcher has seen every listener serve; docs/operations.md, "Readiness"). While it answers
# 503 the check waits up to 3 s for the watcher's file, so that the first check after the
# appliance became ready reports it healthy at once. `live` (a liveness probe) passes on any
# answer of Apache's, as this check did before readiness was checked.
if [ "${1:-}" = healthcheck ]; then
    listen=${WS_LISTEN_HTTP:-80}
    host=127.0.0.1
    case $listen in
        *:*) host=${listen%:*}; host=${host#[}; host=${host%]} ;;
    esac
    case $host in
        ''|'*'|0.0.0.0) host=127.0.0.1 ;;
        ::) host='[::1]' ;;
        *:*) host="[$host]" ;;
    esac
    ask() {
        curl -s -o /dev/null -w '%{http_code}' --max-time 2 -A mod_pywebsocket-healthcheck \
            "http://$host:${listen##*:}$1" || true
    }
    if [ "${2:-}" = live ]; then
        code=$(ask /)
        [ -n "$code" ] && [ "$code" != 000 ]
        exit
    fi
    code=$(ask /mod_pywebsocket/ready)
    for _ in {1..30}; do
        [ "$code" = 503 ] || break
        sleep 0.1
        [ -e "${WS_RUN_DIR:-/run/mod_pywebsocket}/ready" ] && code=$(ask /mod_pywebsocket/ready)
    done
    [ "$code" = 200 ]
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
rm -f "$WS_RUN_DIR"/httpd.pid "$WS_RUN_DIR"/stopping "$WS_RUN_DIR"/deadline "$WS_RUN_DIR"/ready "$WS_RUN_DIR"/h3-off
# /mod_pywebsocket/ready answers 503 with this until the readiness watcher says otherwise.
printf 'not ready: starting\n' > "$WS_RUN_DIR/not-ready"
chmod 644 "$WS_RUN_DIR/not-ready"

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

# -- logs and captures -------------------------------------------------------------
[ "$WS_LOG_FORMAT" = json ] && defines+=(-D LOG_JSON)  # conf/httpd.conf: Apache's lines as JSON too
if [ "$WS_ROLE" = appliance ] && [ "$WS_CAPTURE" != off ]; then
    defines+=(-D CAPTURE)  # /connections/
    mkdir -p "$WS_CAPTURE_DIR" 2>/dev/null || true
    if ! runuser -u www-data -- test -w "$WS_CAPTURE_DIR" 2>/dev/null; then
        chown www-data:www-data "$WS_CAPTURE_DIR" 2>/dev/null \
            || log "warning: $WS_CAPTURE_DIR is not writable: no captures will be kept"
    fi
    which="every WebSocket connection"
    [ "$WS_CAPTURE" = errors ] && which="WebSocket connections that end abnormally or whose handler raises"
    log "capture on: $which, as pcapng files in $WS_CAPTURE_DIR (up to $WS_CAPTURE_TOTAL_BYTES bytes in all); /connections/ lists them"
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
watcher_pid=
stop() {
    [ -n "$deadline_pid" ] && return  # a second SIGTERM changes nothing
    # Not ready from the first moment of the stop: the watcher goes, its file with it.
    [ -n "$watcher_pid" ] && kill -TERM "$watcher_pid" 2>/dev/null || true
    printf 'not ready: stopping\n' > "$WS_RUN_DIR/not-ready"
    rm -f "$WS_RUN_DIR/ready"
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
            2|3)
                log "the HTTP/3 listener cannot run (exit status $status, see above): HTTP/3 is off"
                printf 'exit status %s\n' "$status" > "$WS_RUN_DIR/h3-off"  # readiness leaves HTTP/3 out
                break ;;
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
    while IFS= read -r line; do say error "$line"; done <<< "$out"
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
# Readiness: probes every listener until all serve, then writes $WS_RUN_DIR/ready (what
# /mod_pywebsocket/ready and the health check answer) and logs one "ready:" line with the
# addresses really listening; checks again every 10 s. SIGTERM (stop above) ends it at once.
python3 -m mod_pywebsocket.adapters.apache.readiness watch &
watcher_pid=$!
while kill -0 "$apache_pid" 2>/dev/null; do
    wait "$apache_pid" || true  # returns early when a trapped signal arrives
done
wait "$apache_pid" && status=0 || status=$?
kill -TERM "$watcher_pid" 2>/dev/null || true  # not waited for: it ends at once, or with us
rm -f "$WS_RUN_DIR/ready"
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
