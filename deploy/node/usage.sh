# shellcheck shell=bash
#
# usage.sh — the verb `usage` (sourced by berth-node): per site, the bytes of its own directory
# (`du -sb`, symlinks into shared code counted as links), of its database (data and indexes, as
# information_schema.TABLES reports them) and served by nginx (the body bytes in the site's
# access log). It takes no lock: it only reads, and a busy node still answers.

# usage_served LOG: the body bytes the combined-format LOG records (the field after the status,
# behind the request's closing quote; nginx escapes quotes inside the request).
usage_served() {
    [[ -f $1 ]] || {
        echo 0
        return
    }
    awk -F'"' '{ n = split($3, a, " "); if (n >= 2 && a[2] ~ /^[0-9]+$/) s += a[2] } END { printf "%d", s }' "$1"
}

# usage_database NAME: the bytes of database NAME.
usage_database() {
    local name
    name=$(sql_text "$1") || fail failed "unsafe database name '$1'"
    sql "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = $name"
}

cmd_usage() {
    local f id disk db served items=() rc
    for f in "$RECORDS"/*.conf; do
        [[ -f $f ]] || continue
        id=${f##*/}
        id=${id%.conf}
        [[ $id =~ $UUID_RE ]] || continue
        # shellcheck disable=SC2034 # read by need_site
        ARG["site"]=$id
        need_site
        rc=0
        read_record || rc=$?
        ((rc == 0)) || continue
        disk=0
        if [[ -d $SITE_DIR ]]; then disk=$(du -sb -- "$SITE_DIR" | cut -f1); fi
        db=0
        if [[ -n ${REC[database]:-} ]]; then
            mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
            db=$(usage_database "${REC[database]}")
        fi
        served=$(usage_served "$LOG_DIR/sites/$SITE.log")
        items+=("$(json_object str site "$SITE" num disk_bytes "$disk" num database_bytes "$db" num served_bytes "$served")")
    done
    reply json sites "$(json_array json "${items[@]}")"
}
