# shellcheck shell=bash
#
# backup.sh — the backup verbs (sourced by berth-node): backup-prepare, backup-stream,
# backup-check, backup-clean and site-maintenance. Restores are in restore.sh.
#
# A backup is one tar stream compressed with zstd: the site's own files (its document root,
# where WordPress's shared code is only symlinks, without wp-config.php, which holds the site's
# own credentials) and a `mysqldump --single-transaction` of its database as database.sql.
# The dump is made first, into a staging directory on the node (so a full disk shows up here,
# as disk_full, before anything leaves the node); backup-stream then writes the archive to
# stdout for Berth to encrypt and upload. The node never sees storage credentials.

BACKUP_KINDS=(full files database)
DUMP_DONE_RE='^-- Dump completed'

# need_id NAME: the validated --NAME (a UUID) as ID.
need_id() {
    local v=${ARG[$1]:-}
    v=${v,,}
    [[ $v =~ $UUID_RE ]] || fail bad_input "--$1 must be a UUID"
    ID=$v
}

# need_backup_kind NAME: the validated --NAME (full, files or database) as BKIND.
need_backup_kind() {
    in_list "${ARG[$1]:-}" "${BACKUP_KINDS[@]}" || fail bad_input "--$1 must be one of: ${BACKUP_KINDS[*]}"
    BKIND=${ARG[$1]}
}

has_files() { [[ $1 == full || $1 == files ]]; }
has_dump() { [[ ($1 == full || $1 == database) && -n ${REC[database]:-} ]]; }

# The top directory of a site's own files, relative to its home.
files_top() { if [[ ${REC[kind]} == laravel ]]; then echo app; else echo public; fi; }

backup_stage() { echo "$ROOT/srv/backups/$1"; }

# dump_to FILE: a consistent dump of the site's database; dump_failed unless it completed.
dump_to() {
    local db=${REC[database]}
    [[ $db =~ $NAME_RE ]] || fail failed "the record of site $SITE names an unsafe database"
    mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
    if ! mariadb-dump --socket="$MYSQL_SOCK" -u root --single-transaction --quick --routines --triggers \
        --hex-blob --default-character-set=utf8mb4 "$db" >"$1"; then
        if grep -qi 'No space left on device\|Errcode: 28\|errno 28' "$CALL_LOG"; then
            fail disk_full "no space left on device while dumping $db"
        fi
        fail dump_failed "mysqldump of $db failed: $(tail -n 2 "$CALL_LOG" | tr '\n' ' ' | cut -c1-300)"
    fi
    tail -n 1 "$1" | grep -q "$DUMP_DONE_RE" || fail dump_failed "the dump of $db is incomplete"
}

# backup-prepare --site UUID --backup UUID --kind K: dump the database into the staging
# directory and measure what backup-stream will send.
cmd_backup_prepare() {
    need_site
    need_id backup
    local backup=$ID
    need_backup_kind kind
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local stage files_bytes=0 dump_bytes=0 top
    stage=$(backup_stage "$backup")
    rm -rf -- "$stage"
    undo_push remove_path "$stage"
    mkdir -p "$stage" && chmod 700 "$stage"
    if has_dump "$BKIND"; then
        dump_to "$stage/database.sql"
        dump_bytes=$(stat -c %s "$stage/database.sql")
    fi
    if has_files "$BKIND"; then
        top=$(files_top)
        [[ -d $SITE_DIR/$top ]] || fail not_found "site $SITE has no $top directory"
        files_bytes=$(du -sb --exclude="$top/wp-config.php" "$SITE_DIR/$top" | awk '{ print $1 }')
    fi
    undo_commit
    reply str site "$SITE" str backup "$backup" str kind "$BKIND" num files_bytes "$files_bytes" \
        num dump_bytes "$dump_bytes" bool database "$(has_dump "$BKIND" && echo true || echo false)"
}

# backup-stream --site UUID --backup UUID --kind K: the archive on stdout; the JSON answer on
# stderr (its first line), since stdout is the data.
cmd_backup_stream() {
    need_site
    need_id backup
    local backup=$ID
    need_backup_kind kind
    load_record || fail not_found "no site $SITE on this node"
    local stage top args=()
    stage=$(backup_stage "$backup")
    if has_files "$BKIND"; then
        top=$(files_top)
        args+=(--exclude="$top/wp-config.php" -C "$SITE_DIR" "$top")
    fi
    if has_dump "$BKIND"; then
        [[ -f $stage/database.sql ]] || fail not_found "backup $backup was not prepared"
        args+=(-C "$stage" database.sql)
    fi
    ((${#args[@]})) || fail bad_input "site $SITE has nothing of kind $BKIND to back up"
    tar --create --file=- --numeric-owner --sparse "${args[@]}" | zstd -q -3 -c >&3
    local status=("${PIPESTATUS[@]}")
    [[ ${status[0]} == 0 && ${status[1]} == 0 ]] || fail failed "tar | zstd failed (${status[*]})"
    reply str site "$SITE" str backup "$backup"
}

# backup-check --site UUID --backup UUID: the archive (as backup-stream wrote it) on stdin;
# unpacks it into a scratch directory, loads its dump into a scratch database, drops both.
cmd_backup_check() {
    need_site
    need_id backup
    local backup=$ID
    load_record || fail not_found "no site $SITE on this node"
    local dir entries tables=0 scratch
    dir="$(backup_stage "$backup").check"
    rm -rf -- "$dir"
    undo_push remove_path "$dir"
    mkdir -p "$dir" && chmod 700 "$dir"
    zstd -d -q -c | tar -x -C "$dir" --no-same-owner -f - || fail failed "the archive does not unpack"
    entries=$(find "$dir" -mindepth 1 | wc -l)
    if [[ -f $dir/database.sql ]]; then
        tail -n 1 "$dir/database.sql" | grep -q "$DUMP_DONE_RE" || fail dump_failed "the dump is incomplete"
        mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
        scratch="bchk_${backup//-/}"
        scratch=${scratch:0:40}
        drop_database "$scratch"
        undo_push drop_database "$scratch"
        sql "CREATE DATABASE $(sql_name "$scratch")"
        mariadb --socket="$MYSQL_SOCK" -u root "$scratch" <"$dir/database.sql" ||
            fail dump_failed "the dump does not load into a scratch database"
        tables=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=$(sql_text "$scratch")")
    fi
    rollback
    reply str site "$SITE" str backup "$backup" num entries "$entries" num tables "$tables"
}

# backup-clean --site UUID --backup UUID: remove the staging directory.
cmd_backup_clean() {
    need_site
    need_id backup
    local stage existed=false
    stage=$(backup_stage "$ID")
    if [[ -e $stage ]]; then
        existed=true
        rm -rf -- "$stage"
    fi
    reply str backup "$ID" bool existed "$existed"
}

# site-maintenance --site UUID --on 0|1: visitors get 503 (the node's loopback still reaches
# the site) while a restore changes it.
cmd_site_maintenance() {
    need_site
    need_flag on
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    set_maintenance "$FLAG"
    reply str site "$SITE" bool maintenance "$([[ $FLAG == 1 ]] && echo true || echo false)"
}

set_maintenance() {
    [[ ${REC[maintenance]:-0} != "$1" ]] || return 0
    REC[maintenance]=$1
    local old
    old=$(cat "$VHOST" 2>/dev/null || true)
    render_vhost >"$VHOST.tmp" && mv -f "$VHOST.tmp" "$VHOST"
    if ! reload_nginx; then
        printf '%s\n' "$old" >"$VHOST"
        fail failed "nginx rejected the configuration"
    fi
    write_record
}
