# shellcheck shell=bash
#
# restore.sh — the restore verbs (sourced by berth-node, after backup.sh): restore-stage,
# restore-swap, restore-finish and restore-abort.
#
# A restore never writes into the live site until everything is ready: restore-stage unpacks
# the archive into a fresh directory and loads its dump into a fresh database; restore-swap
# moves the live files and tables aside and the fresh ones in (all tables in one RENAME
# TABLE, which MariaDB does atomically), checks that the site answers on the node's loopback,
# and puts the old ones back if it does not. restore-finish drops what was moved aside;
# restore-abort puts everything back as it was before the stage.

restore_stage_dir() { echo "$ROOT/srv/backups/restore-$1"; }
fresh_db() { local h=${1//-/}; echo "${REC[database]}_r${h: -8}"; }
old_db() { local h=${1//-/}; echo "${REC[database]}_o${h: -8}"; }

# tables_of DB: the base tables of DB, one a line.
tables_of() {
    sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=$(sql_text "$1") AND TABLE_TYPE='BASE TABLE'"
}

# move_tables FROM TO [FROM2 TO2]: one RENAME TABLE moving every table of FROM into TO (and of
# FROM2 into TO2 after), so the live database never shows a mix.
move_tables() {
    local pairs=() t
    while (($# >= 2)); do
        while IFS= read -r t; do
            [[ -n $t ]] || continue
            [[ $t =~ ^[A-Za-z0-9_]{1,64}$ ]] || fail failed "table name '$t' is not one Berth moves"
            pairs+=("\`$1\`.\`$t\` TO \`$2\`.\`$t\`")
        done < <(tables_of "$1")
        shift 2
    done
    ((${#pairs[@]})) || return 0
    local IFS=,
    sql "RENAME TABLE ${pairs[*]}"
}

# put_back OLD LIVE STAGED: the files moved aside to OLD go back to LIVE; what is in LIVE goes
# back to STAGED.
put_back() {
    if [[ -e $2 ]]; then mv -- "$2" "$3"; fi
    mv -- "$1" "$2"
}

# unswap_tables LIVE OLD FRESH: the swap's tables undone.
unswap_tables() { move_tables "$1" "$3" "$2" "$1"; }

# restore-stage --site UUID --restore UUID --what K: the archive on stdin, unpacked into a
# fresh directory, its dump loaded into a fresh database. Nothing live is touched.
cmd_restore_stage() {
    need_site
    need_id restore
    local restore=$ID
    need_backup_kind what
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local stage top fresh tables=0 files=0
    stage=$(restore_stage_dir "$restore")
    top=$(files_top)
    rm -rf -- "$stage"
    undo_push remove_path "$stage"
    mkdir -p "$stage" && chmod 700 "$stage"
    zstd -d -q -c | tar -x -C "$stage" -f - || fail failed "the archive does not unpack"
    if has_files "$BKIND"; then
        [[ -d $stage/$top ]] || fail failed "the archive holds no $top directory"
        chown -hR "$SITE_USER:$SITE_USER" "$stage/$top"
        files=$(find "$stage/$top" -mindepth 1 | wc -l)
    fi
    if has_dump "$BKIND"; then
        [[ -f $stage/database.sql ]] || fail dump_failed "the archive holds no database dump"
        tail -n 1 "$stage/database.sql" | grep -q "$DUMP_DONE_RE" || fail dump_failed "the dump is incomplete"
        mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
        fresh=$(fresh_db "$restore")
        drop_database "$fresh"
        undo_push drop_database "$fresh"
        sql "CREATE DATABASE $(sql_name "$fresh") CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        mariadb --socket="$MYSQL_SOCK" -u root "$fresh" <"$stage/database.sql" ||
            fail dump_failed "the dump does not load"
        tables=$(tables_of "$fresh" | wc -l)
        [[ ${REC[kind]} != wordpress ]] || wp_rehome "$fresh"
    fi
    rm -f "$stage/database.sql"
    undo_commit
    reply str site "$SITE" str restore "$restore" num files "$files" num tables "$tables"
}

# wp_rehome DB: WordPress's own address (siteurl, home) in DB becomes this site's domain, so a
# backup of another site of the tenant restores as a working copy; the scheme and any path
# stay. Restoring into the same site changes nothing. The domain was checked against
# DOMAIN_RE when the record was read.
#
# A copy from another site also takes this site's search engine setting (blog_public): 0 on a
# staging copy, and otherwise what the live database says, so promoting a staging copy into
# production keeps production visible as it was.
wp_rehome() {
    local db host from visible=""
    db=$(sql_name "$1") || return 1
    [[ -n $(sql "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA=$(sql_text "$1") AND TABLE_NAME='wp_options'") ]] ||
        return 0
    host="SUBSTRING_INDEX(SUBSTRING_INDEX(option_value, '//', -1), '/', 1)"
    from=$(sql "SELECT $host FROM $db.wp_options WHERE option_name = 'home' AND option_value LIKE '%//%'")
    sql "UPDATE $db.wp_options SET option_value = REPLACE(option_value, CONCAT('//', $host), '//${REC[domain]}')
         WHERE option_name IN ('siteurl', 'home') AND option_value LIKE '%//%'"
    [[ -n $from && $from != "${REC[domain]}" ]] || return 0
    if [[ ${REC[noindex]:-0} == 1 ]]; then
        visible=0
    elif [[ -n $(sql "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA=$(sql_text "${REC[database]}") AND TABLE_NAME='wp_options'") ]]; then
        visible=$(sql "SELECT option_value FROM $(sql_name "${REC[database]}").wp_options WHERE option_name = 'blog_public'")
    fi
    [[ $visible == [01] ]] || return 0
    sql "UPDATE $db.wp_options SET option_value = '$visible' WHERE option_name = 'blog_public'"
}

# site_answers: the site's status code on the node's loopback (maintenance lets it through).
site_answers() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Host: ${REC[domain]}" "http://127.0.0.1/" || true
}

# restore-swap --site UUID --restore UUID --what K: the staged files and tables in, the live
# ones aside; undone unless the site then answers (2xx or 3xx).
cmd_restore_swap() {
    need_site
    need_id restore
    local restore=$ID
    need_backup_kind what
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local stage top live old fresh code
    stage=$(restore_stage_dir "$restore")
    top=$(files_top)
    [[ -d $stage ]] || fail not_found "restore $restore was not staged"
    # Swapped before (its answer was lost on the way back): swapping again would move the
    # restored files and tables aside as if they were the old ones. Answer as then.
    if [[ -f $stage/.swapped ]]; then
        reply str site "$SITE" str restore "$restore" num status "$(site_answers)"
    fi
    if has_files "$BKIND"; then
        [[ -d $stage/$top ]] || fail not_found "restore $restore staged no files"
        # The live site keeps its own credentials.
        if [[ -f $SITE_DIR/$top/wp-config.php ]]; then cp -p "$SITE_DIR/$top/wp-config.php" "$stage/$top/"; fi
        mv -- "$SITE_DIR/$top" "$stage/old-$top"
        undo_push put_back "$stage/old-$top" "$SITE_DIR/$top" "$stage/$top"
        mv -- "$stage/$top" "$SITE_DIR/$top"
    fi
    if has_dump "$BKIND"; then
        live=${REC[database]}
        old=$(old_db "$restore")
        fresh=$(fresh_db "$restore")
        db_exists "$fresh" || fail not_found "restore $restore staged no database"
        drop_database "$old"
        sql "CREATE DATABASE $(sql_name "$old")"
        undo_push drop_database "$old"
        move_tables "$live" "$old" "$fresh" "$live"
        undo_push unswap_tables "$live" "$old" "$fresh"
    fi
    code=$(site_answers)
    [[ $code =~ ^[23][0-9][0-9]$ ]] || fail site_check_failed "the site answered ${code:-nothing} after the swap; put back"
    undo_commit
    : >"$stage/.swapped"
    reply str site "$SITE" str restore "$restore" num status "$code"
}

# restore-finish --site UUID --restore UUID: drop what the swap moved aside.
cmd_restore_finish() {
    need_site
    need_id restore
    local restore=$ID
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    if [[ -n ${REC[database]:-} ]] && mariadb_up; then
        drop_database "$(old_db "$restore")"
        drop_database "$(fresh_db "$restore")"
    fi
    rm -rf -- "$(restore_stage_dir "$restore")"
    reply str site "$SITE" str restore "$restore"
}

# restore-abort --site UUID --restore UUID: back to how it was before the stage (a swap that
# went through is undone too), and out of maintenance.
cmd_restore_abort() {
    need_site
    need_id restore
    local restore=$ID
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local stage top old fresh
    stage=$(restore_stage_dir "$restore")
    top=$(files_top)
    if [[ -d $stage/old-$top ]]; then put_back "$stage/old-$top" "$SITE_DIR/$top" "$stage/$top"; fi
    if [[ -n ${REC[database]:-} ]]; then
        mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
        old=$(old_db "$restore")
        fresh=$(fresh_db "$restore")
        if db_exists "$old"; then
            db_exists "$fresh" || sql "CREATE DATABASE $(sql_name "$fresh")"
            unswap_tables "${REC[database]}" "$old" "$fresh"
            drop_database "$old"
        fi
        drop_database "$fresh"
    fi
    rm -rf -- "$stage"
    set_maintenance 0
    reply str site "$SITE" str restore "$restore"
}
