# shellcheck shell=bash
#
# bootstrap.sh — the verbs `version` and `bootstrap` (sourced by berth-node): install or check
# what a node needs, lay out the directories and base configs, start the daemons.

cmd_version() { reply str version "$BERTH_NODE_VERSION"; }

# The services as one JSON object, for bootstrap and health answers.
services_json() {
    json_object str nginx "$(state_of nginx_up)" str php-fpm "$(state_of all_fpm_up)" \
        str mariadb "$(state_of mariadb_up)"
}

cmd_bootstrap() {
    take_lock
    local missing=() b
    if [[ $MODE == systemd ]]; then
        local pkgs=()
        command -v nginx >/dev/null || pkgs+=(nginx)
        [[ -n $(php_versions) ]] || pkgs+=(php-fpm)
        ls /usr/lib/php/*/mysqli.so >/dev/null 2>&1 || pkgs+=(php-mysql)
        command -v mariadbd >/dev/null || pkgs+=(mariadb-server mariadb-client)
        [[ -d /usr/share/wordpress ]] || pkgs+=(wordpress wordpress-theme-twentytwentythree)
        if ((${#pkgs[@]})); then
            DEBIAN_FRONTEND=noninteractive apt-get update -q || fail service_down "apt-get update failed"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" ||
                fail failed "apt-get install ${pkgs[*]} failed"
        fi
    else
        for b in nginx mariadbd mariadb mariadb-install-db; do
            command -v "$b" >/dev/null || missing+=("$b")
        done
        [[ -n $(php_versions) ]] || missing+=(php-fpm)
        [[ -d /usr/share/wordpress ]] || missing+=(wordpress)
        ((${#missing[@]} == 0)) || fail failed "missing on this machine: ${missing[*]} (run deploy/dev-node prepare)"
    fi
    layout
    local v
    if ! nginx_up; then start_nginx || fail service_down "nginx did not start"; fi
    for v in $(php_versions); do
        if ! fpm_up "$v"; then start_fpm "$v" || fail service_down "php-fpm $v did not start"; fi
    done
    if ! mariadb_up; then start_mariadb || fail service_down "MariaDB did not start"; fi
    local versions php
    mapfile -t versions < <(php_versions)
    php=$(json_array str "${versions[@]}")
    reply str version "$BERTH_NODE_VERSION" json php "$php" json services "$(services_json)"
}

# ---------------------------------------------------------------------------
# Base configuration (written once; later runs keep local edits)
# ---------------------------------------------------------------------------
write_if_missing() { # write_if_missing FILE (content on stdin)
    if [[ -e $1 ]]; then cat >/dev/null; else cat >"$1.tmp" && mv -f "$1.tmp" "$1"; fi
}

layout() {
    mkdir -p "$ETC" "$RECORDS" "$NGX_SITES" "$SITES" "$RUN_DIR" "$LOG_DIR" "$SITE_LOGS" "$STATIC_DIR" "$TLS_DIR" \
        "$ACME_ROOT/.well-known/acme-challenge"
    chmod 700 "$TLS_DIR"
    chmod 755 "$ACME_ROOT" "$ACME_ROOT/.well-known" "$ACME_ROOT/.well-known/acme-challenge"
    chmod 700 "$ETC/berth" "$RECORDS"
    chmod 755 "$ROOT/srv" "$SITES"
    write_if_missing "$NODE_CONF" <<EOF
# berth-node settings (key=value)
# Refuse to create sites when the filesystem holding srv/ has less free space.
min_free_mb=64
# How long a site operation waits for another one on this node to finish.
lock_wait_seconds=60
EOF
    write_if_missing "$STATIC_DIR/suspended.html" <<'EOF'
<!doctype html>
<html><head><meta charset="utf-8"><title>Site suspended</title></head>
<body><h1>Site suspended</h1><p>This site is temporarily unavailable.</p></body></html>
EOF
    if [[ $MODE == systemd ]]; then
        # Debian's nginx.conf includes conf.d/*.conf; route it to our vhosts.
        mkdir -p "$ETC/nginx/conf.d"
        write_if_missing "$ETC/nginx/conf.d/berth.conf" <<EOF
include $NGX_SITES/*.conf;
EOF
        return 0
    fi
    dev_layout
}

# Dev mode: per-root nginx, php-fpm masters and MariaDB, as run by deploy/dev-node.
dev_layout() {
    # The socket and pid file of mariadbd (running as mysql) live in run/.
    chown root:mysql "$RUN_DIR"
    chmod 775 "$RUN_DIR"
    mkdir -p "$ROOT/var/nginx" "$ETC/mysql" "$MYSQL_DATA" "$LOG_DIR/mariadb"
    chown mysql:mysql "$MYSQL_DATA" "$LOG_DIR/mariadb"
    chmod 750 "$MYSQL_DATA"
    local d
    for d in body fastcgi proxy uwsgi scgi; do mkdir -p "$ROOT/var/nginx/$d"; done
    chown -R www-data:www-data "$ROOT/var/nginx"

    write_if_missing "$NGX_CONF" <<EOF
# nginx for the Berth node rooted at ${ROOT:-/} (dev mode).
user www-data;
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $LOG_DIR/nginx-error.log;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $LOG_DIR/nginx-access.log;
    client_body_temp_path $ROOT/var/nginx/body;
    fastcgi_temp_path $ROOT/var/nginx/fastcgi;
    proxy_temp_path $ROOT/var/nginx/proxy;
    uwsgi_temp_path $ROOT/var/nginx/uwsgi;
    scgi_temp_path $ROOT/var/nginx/scgi;
    sendfile on;
    server_tokens off;
    client_max_body_size 64m;
    # Room for long host names: with nginx's default (one CPU cache line) a single domain
    # of about 40 characters makes the whole configuration fail.
    server_names_hash_bucket_size 256;
    # Unknown Host headers get a 404 instead of some site's content; on 443 an unknown name
    # gets no handshake, rather than some site's certificate.
    server { listen 80 default_server; server_name _; return 404; }
    server { listen 443 ssl default_server; server_name _; ssl_reject_handshake on; }
    include $NGX_SITES/*.conf;
}
EOF
    write_if_missing "$MYSQL_CNF" <<EOF
# MariaDB for the Berth node rooted at ${ROOT:-/} (dev mode): socket only.
[mysqld]
user = mysql
datadir = $MYSQL_DATA
socket = $MYSQL_SOCK
pid-file = $RUN_DIR/mysqld.pid
log-error = $LOG_DIR/mariadb/error.log
skip-networking
skip-name-resolve
performance_schema = OFF
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
max_connections = 50
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
[client]
socket = $MYSQL_SOCK
EOF
    local v
    for v in $(php_versions); do
        mkdir -p "$(pool_dir "$v")"
        # php-fpm refuses to start without a pool; the idle one costs nothing with
        # pm=ondemand.
        write_if_missing "$(fpm_conf "$v")" <<EOF
; php-fpm $v master for the Berth node rooted at ${ROOT:-/} (dev mode).
[global]
pid = $(fpm_pid "$v")
error_log = $LOG_DIR/php-fpm$v.log
daemonize = yes

[berth-idle]
user = www-data
group = www-data
listen = $RUN_DIR/php$v-idle.sock
pm = ondemand
pm.max_children = 1

include = $(pool_dir "$v")/*.conf
EOF
    done
}
