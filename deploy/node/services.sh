# shellcheck shell=bash
#
# services.sh — nginx, php-fpm and MariaDB as the verbs see them (sourced by berth-node): are
# they up, start and reload them, and talk to MariaDB without building SQL from unchecked text.

# spawn LOG CMD...: start a daemon fully detached. Closing fds 3, 4 and the lock fd matters:
# an inherited copy would keep the SSH channel (or the lock) open for as long as the daemon
# lives.
spawn() {
    local log=$1
    shift
    setsid "$@" </dev/null >>"$log" 2>&1 3>&- 4>&- 9>&- &
}

# A pid file names a live process (zombies, which our PID 1 may be slow to reap, do not count).
pid_alive() {
    local p s
    [[ -s $1 ]] || return 1
    p=$(cat "$1" 2>/dev/null) || return 1
    [[ $p =~ ^[0-9]+$ ]] || return 1
    s=$(cat "/proc/$p/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [[ ${s%% *} != [ZX] ]]
}

nginx_up() {
    if [[ $MODE == dev ]]; then pid_alive "$RUN_DIR/nginx.pid"; else systemctl is-active --quiet nginx; fi
}
fpm_up() {
    if [[ $MODE == dev ]]; then pid_alive "$(fpm_pid "$1")"; else systemctl is-active --quiet "php$1-fpm"; fi
}
mariadb_up() {
    [[ -S $MYSQL_SOCK ]] && mariadb-admin --socket="$MYSQL_SOCK" --connect-timeout=2 ping >/dev/null 2>&1
}

# "up" or "down", for answers.
state_of() { if "$@"; then echo up; else echo down; fi; }

# The php-fpm of every installed version is up (and there is at least one).
all_fpm_up() {
    local v none=1
    for v in $(php_versions); do
        none=0
        fpm_up "$v" || return 1
    done
    return "$none"
}

nginx_workers() { pgrep -P "$(cat "$RUN_DIR/nginx.pid" 2>/dev/null || echo 1)" 2>/dev/null | sort | tr '\n' ' '; }

# Validate, then reload. A reload only signals the master, and old workers keep accepting
# connections until they have shut down; wait until none of them is left so that the next
# request surely sees the new config.
reload_nginx() {
    if [[ $MODE == dev ]]; then
        nginx -t -c "$NGX_CONF" || return 1
        if ! nginx_up; then
            start_nginx
            return
        fi
        local before p i left
        before=$(nginx_workers)
        nginx -c "$NGX_CONF" -s reload
        # Up to 10 s: on a busy machine the master may take a while to hand over.
        for ((i = 0; i < 200; i++)); do
            sleep 0.05
            left=0
            for p in $before; do
                if kill -0 "$p" 2>/dev/null; then left=1; fi
            done
            [[ $left == 1 ]] || return 0
        done
        return 0
    else
        nginx -t || return 1
        systemctl reload nginx
    fi
}

# SIGUSR2 makes the php-fpm master re-read its config and re-exec in place.
reload_fpm() {
    local v=$1
    if [[ $MODE == dev ]]; then
        "php-fpm$v" -t -y "$(fpm_conf "$v")" || return 1
        if fpm_up "$v"; then kill -USR2 "$(cat "$(fpm_pid "$v")")"; else start_fpm "$v"; fi
    else
        "php-fpm$v" -t || return 1
        systemctl reload "php$v-fpm"
    fi
}

wait_for() { # wait_for SECONDS TEST...
    local n=$(($1 * 10))
    shift
    while ((n-- > 0)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

start_nginx() {
    [[ $MODE == dev ]] || {
        systemctl start nginx
        return
    }
    nginx -t -c "$NGX_CONF"
    spawn "$LOG_DIR/nginx-error.log" nginx -c "$NGX_CONF"
    wait_for 5 nginx_up
}

start_fpm() {
    local v=$1
    [[ $MODE == dev ]] || {
        systemctl start "php$v-fpm"
        return
    }
    spawn "$LOG_DIR/php-fpm$v.log" "php-fpm$v" -y "$(fpm_conf "$v")"
    wait_for 5 fpm_up "$v"
}

start_mariadb() {
    [[ $MODE == dev ]] || {
        systemctl start mariadb
        return
    }
    if [[ ! -d $MYSQL_DATA/mysql ]]; then
        mariadb-install-db --defaults-file="$MYSQL_CNF" --user=mysql \
            --auth-root-authentication-method=socket --skip-test-db >/dev/null
    fi
    spawn "$LOG_DIR/mariadb/mariadbd.out" mariadbd --defaults-file="$MYSQL_CNF"
    wait_for 20 mariadb_up
}

# ---------------------------------------------------------------------------
# MariaDB. Statements go in on stdin, never in argv, where every user of the node could read
# a password from /proc. The only values ever put into SQL are names derived from a site id
# and generated passwords; the quoting helpers refuse anything else, so a value can never end
# a quote or a statement.
# ---------------------------------------------------------------------------
sql() { mariadb --socket="$MYSQL_SOCK" -u root --batch --skip-column-names <<<"$1"; }

# sql_name NAME: NAME as a quoted identifier; fails unless it is one of our names.
sql_name() {
    [[ $1 =~ $NAME_RE ]] || return 1
    printf '`%s`' "$1"
}

# sql_text VALUE: VALUE as a string literal; fails outside [A-Za-z0-9_.-].
sql_text() {
    [[ $1 =~ ^[A-Za-z0-9_.-]{0,128}$ ]] || return 1
    printf "'%s'" "$1"
}

# sql_account NAME: the local MariaDB account NAME@localhost.
sql_account() {
    [[ $1 =~ $NAME_RE ]] || return 1
    printf "'%s'@'localhost'" "$1"
}

db_exists() {
    local name
    name=$(sql_text "$1") || return 1
    [[ -n $(sql "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=$name") ]]
}

db_user_exists() {
    local name
    name=$(sql_text "$1") || return 1
    [[ -n $(sql "SELECT 1 FROM mysql.user WHERE User=$name AND Host='localhost'") ]]
}

drop_database() {
    local db
    db=$(sql_name "$1") || return 1
    sql "DROP DATABASE IF EXISTS $db"
}
drop_db_user() {
    local account
    account=$(sql_account "$1") || return 1
    sql "DROP USER IF EXISTS $account"
}
