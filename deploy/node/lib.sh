# shellcheck shell=bash
#
# lib.sh — what every berth-node verb shares (sourced by berth-node, after json.sh): the
# output discipline, answers and failures, undo steps, the layout below the node root,
# settings, arguments and their validation, site records, the node lock and disk space.

# ---------------------------------------------------------------------------
# Output discipline: fd 3 is the caller's stdout (JSON only), fd 4 the caller's stderr. Our
# own stdout and stderr go to a per-call log, so no tool can ever write a stray line into the
# JSON channel.
# ---------------------------------------------------------------------------
RESULT_PRINTED=0
CALL_LOG=""
# Where the one JSON answer goes: fd 3 (stdout), or fd 4 (stderr) for the verbs whose stdout
# is a data stream (backup-stream).
REPLY_FD=3

node_start() {
    exec 3>&1 4>&2
    # Without a log there is nothing to keep, so this one failure is answered directly; a full
    # /tmp is worth another try later (75).
    CALL_LOG="$(mktemp "${TMPDIR:-/tmp}/berth-node.XXXXXX")" || {
        json_object bool ok false str error failed str message "cannot create a temporary file" >&3
        printf '\n' >&3
        exit 75
    }
    exec 1>>"$CALL_LOG" 2>&1
    trap on_exit EXIT
}

# reply [TYPE KEY VALUE]...: print the success object (see json.sh for the triples), exit 0.
reply() {
    local out
    out=$(json_object bool ok true "$@") || fail failed "internal: the answer could not be encoded"
    printf '%s\n' "$out" >&"$REPLY_FD"
    RESULT_PRINTED=1
    exit 0
}

# fail CODE MESSAGE: roll back, print the error object, exit 75 for a temporary failure (the
# caller tries again later), 2 for a permanent one.
fail() {
    local code=$1 msg=$2 rc=2
    case $code in service_down | busy) rc=75 ;; esac
    rollback
    json_object bool ok false str error "$code" str message "$msg" >&"$REPLY_FD"
    printf '\n' >&"$REPLY_FD"
    RESULT_PRINTED=1
    exit "$rc"
}

# Any unexpected failure (set -e) lands here: roll back, classify, report.
on_exit() {
    local rc=$? code=failed msg
    trap - EXIT
    if [[ $RESULT_PRINTED == 0 ]]; then
        rollback
        msg="$(tail -n 3 "$CALL_LOG" 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
        # A full filesystem shows up as ENOSPC from whichever tool hit it.
        if grep -q 'No space left on device' "$CALL_LOG" 2>/dev/null; then
            code=disk_full
            msg="no space left on device: $msg"
        fi
        json_object bool ok false str error "$code" str message "${msg:-unexpected failure (exit $rc)}" >&"$REPLY_FD"
        printf '\n' >&"$REPLY_FD"
        rc=2
    fi
    # Keep a trail on the node; show it to the caller only when something failed.
    if [[ -d ${LOG_DIR:-} ]]; then
        { printf '=== %s %s\n' "$(date -u +%FT%TZ)" "${VERB:-}"; cat "$CALL_LOG"; } >>"$LOG_DIR/berth-node.log" 2>/dev/null || true
    fi
    [[ $rc == 0 ]] || cat "$CALL_LOG" >&4 2>/dev/null || true
    rm -f "$CALL_LOG"
    exit "$rc"
}

# ---------------------------------------------------------------------------
# Undo: each step is a function of these scripts and its arguments, kept back to back in one
# array with the word count per step alongside, and run as "${words[@]}" — never re-parsed by
# the shell, so a path with spaces, quotes or $(...) stays one inert argument.
# ---------------------------------------------------------------------------
UNDO_WORDS=()
UNDO_COUNTS=()

undo_push() {
    declare -F "$1" >/dev/null || fail failed "internal: undo step '$1' is not a function"
    UNDO_COUNTS+=("$#")
    UNDO_WORDS+=("$@")
}

# Forget the steps: what they would undo is now meant to stay.
undo_commit() {
    UNDO_WORDS=()
    UNDO_COUNTS=()
}

rollback() {
    local i n end=${#UNDO_WORDS[@]}
    for ((i = ${#UNDO_COUNTS[@]} - 1; i >= 0; i--)); do
        n=${UNDO_COUNTS[i]}
        end=$((end - n))
        "${UNDO_WORDS[@]:end:n}" || true
    done
    undo_commit
}

remove_path() { rm -rf -- "$1"; }
restore_file() { mv -f -- "$1" "$2"; } # restore_file SAVED DEST

# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------

# Every path below is written into nginx, php-fpm, MariaDB and PHP files, so the root may only
# hold characters that mean nothing in any of them.
check_environment() {
    ROOT="${BERTH_NODE_ROOT:-}"
    ROOT="${ROOT%/}"
    MODE="${BERTH_SERVICE_MODE:-systemd}"
    case $MODE in systemd | dev) ;; *) fail bad_input "BERTH_SERVICE_MODE must be systemd or dev" ;; esac
    [[ -z $ROOT || $ROOT =~ ^(/[A-Za-z0-9._+@-]+)+$ ]] ||
        fail bad_input "BERTH_NODE_ROOT must be an absolute path of letters, digits and ._+@-"
}

# shellcheck disable=SC2034 # the layout is read by the verb files
set_layout() {
    ETC="$ROOT/etc"
    NODE_CONF="$ETC/berth-node.conf"
    RECORDS="$ETC/berth/sites"         # one record per site: the source of truth
    NGX_CONF="$ETC/nginx/nginx.conf"
    NGX_SITES="$ETC/nginx/sites"
    SITES="$ROOT/srv/sites"
    STATIC_DIR="$ROOT/opt/berth/share" # the "suspended" page lives here
    TLS_DIR="$ETC/berth/tls"           # one directory per site: key.pem (0600), chain.pem
    ACME_ROOT="$ROOT/var/acme"         # ACME HTTP-01 answers, below .well-known/acme-challenge/
    if [[ $MODE == dev ]]; then
        RUN_DIR="$ROOT/run"
        LOG_DIR="$ROOT/log"
        MYSQL_SOCK="$ROOT/run/mysqld.sock"
        MYSQL_CNF="$ETC/mysql/my.cnf"
        MYSQL_DATA="$ROOT/var/mysql"
    else
        # On a real VPS, /run and /var/log are the distribution's; keep ours apart.
        RUN_DIR="$ROOT/run/berth"
        LOG_DIR="$ROOT/var/log/berth"
        MYSQL_SOCK="/run/mysqld/mysqld.sock"
    fi
    SITE_LOGS="$LOG_DIR/sites" # one access log per site, read by `usage`
    LOCK_FILE="$RUN_DIR/berth-node.lock"
}

# Pool files: dev mode has one php-fpm master per version per root; in systemd mode Debian's
# master already includes fpm/pool.d/*.conf.
pool_dir() { if [[ $MODE == dev ]]; then echo "$ETC/php/$1/pools"; else echo "$ROOT/etc/php/$1/fpm/pool.d"; fi; }
pool_file() { echo "$(pool_dir "$1")/berth-$2.conf"; }
fpm_conf() { if [[ $MODE == dev ]]; then echo "$ETC/php/$1/php-fpm.conf"; else echo "/etc/php/$1/fpm/php-fpm.conf"; fi; }
fpm_pid() { echo "$RUN_DIR/php-fpm$1.pid"; }

# PHP versions this node can serve: those with a php-fpm binary installed.
php_versions() {
    local f v
    for f in /usr/sbin/php-fpm[0-9]*.[0-9]*; do
        [[ -x $f ]] || continue
        v=${f#/usr/sbin/php-fpm}
        if [[ $v =~ ^[0-9]+\.[0-9]+$ ]]; then echo "$v"; fi
    done | sort -V
}

# Settings from etc/berth-node.conf (key=value lines; not sourced, so a stray line there can
# never run code).
MIN_FREE_MB=64
LOCK_WAIT=60
# shellcheck disable=SC2034 # MIN_FREE_MB is read by site.sh
load_conf() {
    local k v
    [[ -r $NODE_CONF ]] || return 0
    while IFS='=' read -r k v; do
        k=${k//[[:space:]]/}
        v=${v//[[:space:]]/}
        case $k in
            min_free_mb) if [[ $v =~ ^[0-9]+$ ]]; then MIN_FREE_MB=$v; fi ;;
            lock_wait_seconds) if [[ $v =~ ^[0-9]+$ ]]; then LOCK_WAIT=$v; fi ;;
        esac
    done <"$NODE_CONF"
}

# ---------------------------------------------------------------------------
# Arguments: checked against fixed patterns and lists before anything is touched. Keep the
# lists in step with the Rust side (berth-sagas checks that they agree).
# ---------------------------------------------------------------------------
SITE_KINDS=(static php laravel wordpress)
PHP_SUPPORTED=(8.1 8.2 8.3 8.4)
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
# Lower-case ASCII host names of two or more labels (internationalized ones arrive as
# punycode); what the domain's DomainName accepts is a subset of this.
LABEL_RE='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
DOMAIN_RE="^($LABEL_RE\\.)+$LABEL_RE\$"
# Linux users, groups, MariaDB databases and MariaDB users made for sites.
NAME_RE='^[a-z0-9_]{1,64}$'

declare -A ARG=()

# parse_args "KEY..." ARGS...: ARGS as --key value pairs, each key one of KEY... and given once.
parse_args() {
    local allowed=" $1 " key
    shift
    while (($#)); do
        [[ $1 == --* && $# -ge 2 ]] || fail bad_input "expected --key value, got '$1'"
        key=${1#--}
        [[ $key =~ ^[a-z]+$ && $allowed == *" $key "* ]] || fail bad_input "unknown argument '$1'"
        [[ -z ${ARG[$key]+set} ]] || fail bad_input "$1 given twice"
        ARG[$key]=$2
        shift 2
    done
}

# in_list VALUE ITEM...: whether VALUE is one of the ITEMs.
in_list() {
    local v=$1 item
    shift
    for item in "$@"; do [[ $v == "$item" ]] && return 0; done
    return 1
}

# need_site: the validated --site, and every name derived from it.
# shellcheck disable=SC2034 # the names are read by site.sh
need_site() {
    local s=${ARG[site]:-}
    s=${s,,}
    [[ $s =~ $UUID_RE ]] || fail bad_input "--site must be a UUID"
    SITE=$s
    local hex=${s//-/}
    # v7 UUIDs start with a timestamp, so the random tail is what tells sites apart; 'b' + 20
    # hex digits stays well under Linux's 32-character limit for user names.
    SITE_USER="b${hex: -20}"
    [[ $SITE_USER =~ $NAME_RE ]] || fail bad_input "derived name '$SITE_USER' is not a safe name"
    SITE_DIR="$SITES/$SITE"
    RECORD="$RECORDS/$SITE.conf"
    VHOST="$NGX_SITES/$SITE.conf"
}

# need_domain: the validated --domain (lower case, one trailing dot dropped).
# shellcheck disable=SC2034 # read by site.sh
need_domain() {
    local d=${ARG[domain]:-}
    d=${d,,}
    d=${d%.}
    [[ ${#d} -le 253 && $d =~ $DOMAIN_RE ]] || fail bad_input "--domain must be a DNS name"
    DOMAIN=$d
}

# shellcheck disable=SC2034 # read by site.sh
need_kind() {
    in_list "${ARG[kind]:-}" "${SITE_KINDS[@]}" || fail bad_input "--kind must be one of: ${SITE_KINDS[*]}"
    KIND=${ARG[kind]}
}

# need_aliases: the validated --aliases (comma-separated host names, at most 50; empty for
# none) as ALIASES, space-separated.
# shellcheck disable=SC2034 # read by site.sh
need_aliases() {
    local raw=${ARG[aliases]-} a list=()
    [[ -n ${ARG[aliases]+set} ]] || fail bad_input "--aliases is required (empty for none)"
    raw=${raw,,}
    if [[ -n $raw ]]; then
        IFS=, read -r -a list <<<"$raw"
    fi
    ((${#list[@]} <= 50)) || fail bad_input "--aliases holds more than 50 names"
    for a in "${list[@]}"; do
        [[ ${#a} -le 253 && $a =~ $DOMAIN_RE ]] || fail bad_input "--aliases must be DNS names separated by commas"
    done
    ALIASES="${list[*]}"
}

# need_flag NAME: the validated --NAME, 0 or 1, as FLAG.
need_flag() {
    FLAG=${ARG[$1]:-}
    [[ $FLAG == [01] ]] || fail bad_input "--$1 must be 0 or 1"
}

# need_challenge: the validated --token (base64url, as ACME makes them) and, when the verb
# takes one, --content (the key authorization: the token, a dot, the account's thumbprint).
# shellcheck disable=SC2034 # read by tls.sh
need_challenge() {
    TOKEN=${ARG[token]:-}
    [[ $TOKEN =~ ^[A-Za-z0-9_-]{16,128}$ ]] || fail bad_input "--token must be 16 to 128 base64url characters"
    CONTENT=${ARG[content]-}
    if [[ -n ${ARG[content]+set} ]]; then
        [[ $CONTENT =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,128}$ && ${CONTENT%%.*} == "$TOKEN" ]] ||
            fail bad_input "--content must be the token, a dot and the account's thumbprint"
    fi
}

# need_resources: the validated --workers, --memory and --upload (each optional: the plan's
# defaults), as WORKERS, MEMORY_MB and UPLOAD_MB.
# shellcheck disable=SC2034 # read by site.sh
need_resources() {
    WORKERS=${ARG[workers]:-5}
    MEMORY_MB=${ARG[memory]:-256}
    UPLOAD_MB=${ARG[upload]:-64}
    [[ $WORKERS =~ ^[0-9]{1,3}$ ]] && ((WORKERS >= 1 && WORKERS <= 200)) || fail bad_input "--workers must be 1 to 200"
    [[ $MEMORY_MB =~ ^[0-9]{1,5}$ ]] && ((MEMORY_MB >= 32 && MEMORY_MB <= 8192)) || fail bad_input "--memory must be 32 to 8192 (MiB)"
    [[ $UPLOAD_MB =~ ^[0-9]{1,4}$ ]] && ((UPLOAD_MB >= 1 && UPLOAD_MB <= 4096)) || fail bad_input "--upload must be 1 to 4096 (MiB)"
}

# need_noindex: the validated --noindex (0 or 1, 0 when absent) as NOINDEX: a staging copy
# asks search engines not to index it.
# shellcheck disable=SC2034 # read by site.sh
need_noindex() {
    NOINDEX=${ARG[noindex]:-0}
    [[ $NOINDEX == [01] ]] || fail bad_input "--noindex must be 0 or 1"
}

# need_php: the validated --php, or empty when none is given.
need_php() {
    PHP=${ARG[php]:-}
    [[ -z $PHP ]] || in_list "$PHP" "${PHP_SUPPORTED[@]}" || fail bad_input "--php must be one of: ${PHP_SUPPORTED[*]}"
}

# ---------------------------------------------------------------------------
# Site records: key=value files written only by us, and still checked when read back, since
# their values end up in configs and SQL.
# ---------------------------------------------------------------------------
declare -A REC=()
RECORD_KEYS=(site domain kind php user database db_password suspended aliases tls hsts wildcard maintenance deployed public_dir php_workers php_memory upload_mb sftp noindex sftp_locked)

# read_record: REC from the site's record; 1 if there is none, 2 if it does not pass the
# checks (REC then holds what was read, for messages only).
read_record() {
    local k v
    REC=()
    [[ -f $RECORD ]] || return 1
    while IFS='=' read -r k v; do
        if in_list "$k" "${RECORD_KEYS[@]}"; then REC[$k]=$v; fi
    done <"$RECORD"
    [[ ${REC[site]:-} == "$SITE" && ${REC[domain]:-} =~ $DOMAIN_RE && ${REC[user]:-} == "$SITE_USER" ]] &&
        in_list "${REC[kind]:-}" "${SITE_KINDS[@]}" &&
        [[ ${REC[php]:-} == "" || ${REC[php]} =~ ^[0-9]+\.[0-9]+$ ]] &&
        [[ ${REC[database]:-} == "" || ${REC[database]} =~ $NAME_RE ]] &&
        [[ ${REC[db_password]:-} == "" || ${REC[db_password]} =~ ^[0-9a-f]{16,128}$ ]] &&
        [[ ${REC[suspended]:-} == [01] && ${REC[maintenance]:-0} == [01] ]] &&
        [[ ${REC[tls]:-0} == [01] && ${REC[hsts]:-0} == [01] && ${REC[wildcard]:-0} == [01] ]] &&
        [[ ${REC[deployed]:-0} == [01] ]] && public_ok "${REC[public_dir]:-}" &&
        [[ ${REC[php_workers]:-5} =~ ^[0-9]{1,3}$ && ${REC[php_memory]:-256} =~ ^[0-9]{1,5}$ ]] &&
        [[ ${REC[upload_mb]:-64} =~ ^[0-9]{1,4}$ && ${REC[sftp]:-0} == [01] && ${REC[noindex]:-0} == [01] ]] &&
        [[ ${REC[sftp_locked]:-0} == [01] ]] &&
        aliases_ok "${REC[aliases]:-}" || return 2
}

# aliases_ok LIST: LIST is empty or host names separated by single spaces.
aliases_ok() {
    local a list=()
    read -r -a list <<<"$1"
    [[ "${list[*]}" == "$1" ]] || return 1
    for a in "${list[@]}"; do [[ $a =~ $DOMAIN_RE ]] || return 1; done
}

# load_record: like read_record, but a damaged record is a failure.
load_record() {
    local rc=0
    read_record || rc=$?
    ((rc != 2)) || fail failed "the record of site $SITE is damaged ($RECORD)"
    return "$rc"
}

write_record() {
    local k
    mkdir -p "$RECORDS"
    chmod 700 "$ETC/berth" "$RECORDS"
    {
        for k in "${RECORD_KEYS[@]}"; do
            printf '%s=%s\n' "$k" "${REC[$k]:-}"
        done
    } >"$RECORD.tmp"
    chmod 600 "$RECORD.tmp"
    mv -f "$RECORD.tmp" "$RECORD"
}

# ---------------------------------------------------------------------------
# Lock: site operations on one node run one at a time.
# ---------------------------------------------------------------------------
take_lock() {
    load_conf
    mkdir -p "$RUN_DIR"
    exec 9>>"$LOCK_FILE"
    flock -w "$LOCK_WAIT" 9 || fail busy "another berth-node operation holds the node lock (waited ${LOCK_WAIT}s)"
}

# ---------------------------------------------------------------------------
# Disk space of the filesystem holding a path (or its nearest existing ancestor).
# ---------------------------------------------------------------------------
free_mb_of() { _df_column 4 "$1"; }
total_mb_of() { _df_column 2 "$1"; }
_df_column() {
    local p=$2
    while [[ ! -e $p ]]; do p=$(dirname "$p"); done
    df -Pk "$p" | awk -v c="$1" 'NR==2 { printf "%d", $c / 1024 }'
}

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
