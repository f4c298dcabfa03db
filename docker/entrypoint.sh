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

export WS_HANDLER_ROOT=${WS_HANDLER_ROOT:-/srv/handlers}
export WS_HANDLER_SCAN=${WS_HANDLER_SCAN:-$WS_HANDLER_ROOT}
export WS_DOCUMENT_ROOT=${WS_DOCUMENT_ROOT:-$WS_HANDLER_ROOT}
export WS_ALLOW_HANDLERS_OUTSIDE_ROOT=${WS_ALLOW_HANDLERS_OUTSIDE_ROOT:-off}
export WS_LOG_LEVEL=${WS_LOG_LEVEL:-warn}
export WS_MAX_MESSAGE_SIZE=${WS_MAX_MESSAGE_SIZE:-67108864}
export WS_TIMEOUT=${WS_TIMEOUT:-60}
export WS_PROCESSES=${WS_PROCESSES:-1}
export WS_THREADS=${WS_THREADS:-1024}
export WS_SERVER_NAME=${WS_SERVER_NAME:-localhost}
export WS_TLS_DIR=${WS_TLS_DIR:-/etc/mod_pywebsocket/tls}
export WS_RUN_DIR=${WS_RUN_DIR:-/run/mod_pywebsocket}
export WS_STOP_TIMEOUT=${WS_STOP_TIMEOUT:-8}
export WS_HEADER_TIMEOUT=${WS_HEADER_TIMEOUT:-20}
export WS_ALLOWED_ORIGINS=${WS_ALLOWED_ORIGINS:-}
export WS_HANDLER_RELOAD=${WS_HANDLER_RELOAD:-on}
export WS_HTTP2=${WS_HTTP2:-on}
export WS_LISTEN_HTTP=${WS_LISTEN_HTTP:-80}
export WS_LISTEN_HTTPS=${WS_LISTEN_HTTPS:-443}
export WS_ROLE=${WS_ROLE:-appliance}
export WS_BALANCER_MEMBERS=${WS_BALANCER_MEMBERS:-}

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }

case "${WS_ROLE,,}" in
    appliance|balancer) WS_ROLE=${WS_ROLE,,} ;;
    *) die "WS_ROLE must be appliance or balancer, not '$WS_ROLE'" ;;
esac

# -- the handler folder (the balancer has none) --------------------------------
if [ "$WS_ROLE" = appliance ]; then
    [ -e "$WS_HANDLER_ROOT" ] || die "WS_HANDLER_ROOT=$WS_HANDLER_ROOT does not exist; mount your handler folder there (docker run -v \"\$PWD/handlers:$WS_HANDLER_ROOT:ro\" ...)"
    [ -d "$WS_HANDLER_ROOT" ] || die "WS_HANDLER_ROOT=$WS_HANDLER_ROOT is not a directory; mount a folder of *_wsh.py files there"
    runuser -u www-data -- test -r "$WS_HANDLER_ROOT" -a -x "$WS_HANDLER_ROOT" \
        || die "WS_HANDLER_ROOT=$WS_HANDLER_ROOT is not readable by the www-data user; make it world-readable (chmod -R a+rX)"
    [ -d "$WS_HANDLER_SCAN" ] || die "WS_HANDLER_SCAN=$WS_HANDLER_SCAN is not a directory"
    root_real=$(realpath "$WS_HANDLER_ROOT")
    scan_real=$(realpath "$WS_HANDLER_SCAN")
    case "$scan_real/" in
        "$root_real"/*) ;;
        *) die "WS_HANDLER_SCAN=$WS_HANDLER_SCAN must be inside WS_HANDLER_ROOT=$WS_HANDLER_ROOT" ;;
    esac
    [ -d "$WS_DOCUMENT_ROOT" ] || die "WS_DOCUMENT_ROOT=$WS_DOCUMENT_ROOT is not a directory"
fi
export WS_TLS_SESSION_TICKETS=${WS_TLS_SESSION_TICKETS:-off}
case "${WS_TLS_SESSION_TICKETS,,}" in
    on|off) WS_TLS_SESSION_TICKETS=${WS_TLS_SESSION_TICKETS,,} ;;
    *) die "WS_TLS_SESSION_TICKETS must be on or off, not '$WS_TLS_SESSION_TICKETS'" ;;
esac
# TLS 1.3 sends (stateful) tickets after the handshake even with SSLSessionTickets off:
# a configuration that wants none sets OpenSSL's NumTickets to this (0 when off).
export WS_TLS13_TICKETS=0
[ "$WS_TLS_SESSION_TICKETS" = off ] || WS_TLS13_TICKETS=2
case "${WS_HTTP2,,}" in
    on) WS_HTTP2=on; export WS_TLS_PROTOCOLS="h2 http/1.1" ;;
    off) WS_HTTP2=off; export WS_TLS_PROTOCOLS="http/1.1" ;;
    *) die "WS_HTTP2 must be on or off, not '$WS_HTTP2'" ;;
esac
case "${WS_HANDLER_RELOAD,,}" in
    on|off) WS_HANDLER_RELOAD=${WS_HANDLER_RELOAD,,} ;;
    *) die "WS_HANDLER_RELOAD must be on or off, not '$WS_HANDLER_RELOAD'" ;;
esac
case "${WS_ALLOW_HANDLERS_OUTSIDE_ROOT,,}" in
    on|off|yes|no|true|false|1|0) ;;
    *) die "WS_ALLOW_HANDLERS_OUTSIDE_ROOT must be on or off, not '$WS_ALLOW_HANDLERS_OUTSIDE_ROOT'" ;;
esac

# -- limits and logging -------------------------------------------------------
is_uint "$WS_MAX_MESSAGE_SIZE" || die "WS_MAX_MESSAGE_SIZE must be a positive number of bytes, not '$WS_MAX_MESSAGE_SIZE'"
is_uint "$WS_TIMEOUT" || die "WS_TIMEOUT must be a positive number of seconds, not '$WS_TIMEOUT'"
is_uint "$WS_PROCESSES" || die "WS_PROCESSES must be a positive number, not '$WS_PROCESSES'"
is_uint "$WS_THREADS" || die "WS_THREADS must be a positive number, not '$WS_THREADS'"
is_uint "$WS_HEADER_TIMEOUT" || die "WS_HEADER_TIMEOUT must be a positive number of seconds, not '$WS_HEADER_TIMEOUT'"
is_uint "$WS_STOP_TIMEOUT" || die "WS_STOP_TIMEOUT must be a positive number of seconds, not '$WS_STOP_TIMEOUT'"
for listen in "$WS_LISTEN_HTTP" "$WS_LISTEN_HTTPS"; do
    is_uint "${listen##*:}" || die "WS_LISTEN_HTTP(S) must be a port or address:port, not '$listen'"
done
[ "${WS_LISTEN_HTTP##*:}" != "${WS_LISTEN_HTTPS##*:}" ] || die "WS_LISTEN_HTTP and WS_LISTEN_HTTPS need different ports"
export WS_LISTEN_HTTPS_PORT=${WS_LISTEN_HTTPS##*:}
export WS_MAX_WORKERS=$((WS_PROCESSES * WS_THREADS))
case "${WS_LOG_LEVEL,,}" in
    debug|info|notice|warn|error|crit) WS_APACHE_LOG_LEVEL=${WS_LOG_LEVEL,,} ;;
    warning) WS_APACHE_LOG_LEVEL=warn ;;
    critical) WS_APACHE_LOG_LEVEL=crit ;;
    *) die "WS_LOG_LEVEL must be one of debug, info, warn, error, crit; not '$WS_LOG_LEVEL'" ;;
esac
export WS_APACHE_LOG_LEVEL

mkdir -p "$WS_RUN_DIR"
chmod 755 "$WS_RUN_DIR"
rm -f "$WS_RUN_DIR"/httpd.pid "$WS_RUN_DIR"/stopping

# -- the balancer's replicas ------------------------------------------------------
if [ "$WS_ROLE" = balancer ]; then
    read -r -a members <<< "${WS_BALANCER_MEMBERS//,/ }"
    [ ${#members[@]} -gt 0 ] || die "WS_ROLE=balancer needs WS_BALANCER_MEMBERS, the replicas as host:port (e.g. 'replica1:80 replica2:80')"
    member_conf="# Written by the entrypoint from WS_BALANCER_MEMBERS."$'\n'
    for member in "${members[@]}"; do
        [[ $member =~ ^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):[0-9]+$ ]] \
            && is_uint "${member##*:}" && [ "${member##*:}" -le 65535 ] \
            || die "WS_BALANCER_MEMBERS: '$member' is not host:port (e.g. replica1:80)"
        [[ $member_conf != *" http://$member "* ]] || die "WS_BALANCER_MEMBERS lists $member twice"
        member_conf+="BalancerMember http://$member \${WS_MEMBER_PARAMETERS}"$'\n'
    done
    printf '%s' "$member_conf" > "$WS_RUN_DIR/balancer-members.conf"
    # Longer than the replicas' own idle handling (see conf/balancer.conf).
    export WS_PROXY_TIMEOUT=$((2 * WS_TIMEOUT + 10))
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
    openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 -subj "/CN=$WS_SERVER_NAME" \
        -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:FALSE" \
        -addext "extendedKeyUsage=serverAuth" -keyout "$key" -out "$cert" 2>/dev/null \
        || die "could not generate a self-signed certificate"
    chmod 600 "$key"
    log "no certificate in $WS_TLS_DIR: generated a self-signed one for $san"
fi
export WS_TLS_CERT=$cert WS_TLS_KEY=$key

# -- run ------------------------------------------------------------------------
# Apache runs as a child so that SIGTERM can first close every open WebSocket with
# 1001 (the handlers see the shutdown file), then stop Apache gracefully: running
# handlers get up to WS_STOP_TIMEOUT seconds to finish.
apache_pid=
stop() {
    if [ "$WS_ROLE" = balancer ]; then
        log "stopping: no new connections; open ones get up to ${WS_STOP_TIMEOUT}s (a graceful stop)"
    else
        log "stopping: closing open WebSockets with 1001, then a graceful stop (up to ${WS_STOP_TIMEOUT}s)"
        touch "$WS_RUN_DIR/stopping"
        sleep 0.5
    fi
    [ -n "$apache_pid" ] && kill -WINCH "$apache_pid" 2>/dev/null || true
}
trap stop TERM INT
trap '[ -n "$apache_pid" ] && kill -USR1 "$apache_pid" 2>/dev/null || true' HUP

conf=/etc/mod_pywebsocket/httpd.conf
[ "$WS_ROLE" = appliance ] || conf=/etc/mod_pywebsocket/balancer.conf
if ! out=$(apache2 -t -f "$conf" 2>&1); then
    printf '%s\n' "$out" >&2
    die "Apache refused the configuration (see above)"
fi
if [ "$WS_ROLE" = appliance ]; then
    log "serving handlers from $WS_HANDLER_ROOT on ports 80 (ws, http) and 443 (wss, https)"
else
    log "balancing ports 80 (ws, http) and 443 (wss, https) over ${members[*]}"
fi
apache2 -f "$conf" -DFOREGROUND &
apache_pid=$!
while kill -0 "$apache_pid" 2>/dev/null; do
    wait "$apache_pid" || true  # returns early when a trapped signal arrives
done
wait "$apache_pid" && status=0 || status=$?
log "stopped (Apache exit status $status)"
exit "$status"
