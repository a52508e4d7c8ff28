# shellcheck shell=bash
#
# site.sh — the verbs site-create, site-delete, site-suspend and site-resume (sourced by
# berth-node). Each checks all of its arguments before it takes the node lock, and a failed
# site-create undoes everything it created.

cmd_site_create() {
    need_site
    need_domain
    need_kind
    need_php
    need_resources
    need_noindex
    local php=$PHP
    if [[ $KIND == static ]]; then
        php=""
    else
        if [[ -z $php ]]; then php=$(php_versions | tail -n 1); fi
        [[ $php =~ ^[0-9]+\.[0-9]+$ ]] || fail bad_input "--php must look like 8.2"
        [[ -x /usr/sbin/php-fpm$php ]] ||
            fail unsupported_php "PHP $php is not installed on this node (have: $(php_versions | paste -sd " "))"
    fi

    take_lock
    layout

    local existed=0
    if load_record; then
        existed=1
        [[ ${REC[kind]} == "$KIND" ]] || fail bad_input "site $SITE exists with kind ${REC[kind]}"
        [[ ${REC[php]} == "$php" ]] || fail bad_input "site $SITE exists with php ${REC[php]:-none}"
        REC["domain"]=$DOMAIN
        REC["php_workers"]=$WORKERS
        REC["php_memory"]=$MEMORY_MB
        REC["upload_mb"]=$UPLOAD_MB
        REC["noindex"]=$NOINDEX
    else
        local free
        free=$(free_mb_of "$SITES")
        ((free >= MIN_FREE_MB)) || fail disk_full "only ${free} MiB free under srv/ (minimum ${MIN_FREE_MB} MiB)"
        REC=([site]=$SITE [domain]=$DOMAIN [kind]=$KIND [php]=$php [user]=$SITE_USER [database]="" [db_password]="" [suspended]=0
            [php_workers]=$WORKERS [php_memory]=$MEMORY_MB [upload_mb]=$UPLOAD_MB [noindex]=$NOINDEX)
        # WordPress and Laravel sites get a database of their own (Laravel's migrations run
        # against it on every deployment).
        if [[ $KIND == wordpress || $KIND == laravel ]]; then
            REC[database]=$SITE_USER
            REC[db_password]=$(rand_hex 24)
        fi
    fi

    # A domain may belong to one site only.
    local other
    for other in "$RECORDS"/*.conf; do
        [[ -f $other && $other != "$RECORD" ]] || continue
        if grep -qxF "domain=$DOMAIN" "$other"; then fail bad_input "domain $DOMAIN is already used by another site"; fi
    done

    ensure_user
    ensure_site_dir
    [[ -z ${REC[database]} ]] || ensure_db

    if [[ -n $php ]]; then
        mkdir -p "$(pool_dir "$php")"
        CHANGED=0
        install_file "$(pool_file "$php" "$SITE")" 0644 root:root < <(render_pool)
        if [[ $CHANGED == 1 ]] || ! fpm_up "$php"; then
            reload_fpm "$php" || fail failed "php-fpm rejected the configuration"
        fi
        wait_for 5 test -S "$(fpm_socket)" || fail service_down "php-fpm $php did not open the pool socket"
    fi
    CHANGED=0
    install_file "$VHOST" 0644 root:root < <(render_vhost)
    if [[ $CHANGED == 1 ]] || ! nginx_up; then
        reload_nginx || fail failed "nginx rejected the configuration"
    fi

    [[ $existed == 1 ]] || undo_push remove_path "$RECORD"
    write_record
    undo_commit
    rm -f "$(pool_dir "${php:-0}")"/*.prev "$NGX_SITES"/*.prev 2>/dev/null || true

    local created=true
    [[ $existed == 0 ]] || created=false
    reply str site "$SITE" str user "$SITE_USER" str root "$SITE_DIR" str kind "$KIND" str domain "$DOMAIN" \
        opt php "$php" opt database "${REC[database]}" bool created "$created"
}

cmd_site_delete() {
    need_site
    take_lock
    local existed=false v f touched_fpm=()
    # A damaged record does not stop the clean-up.
    read_record || true
    # Remove by derived names, not only by record, so a half-present site (record lost, files
    # left) still gets cleaned up.
    if [[ -f $VHOST ]]; then
        existed=true
        rm -f "$VHOST"
        reload_nginx || true
    fi
    for v in $(php_versions); do
        f=$(pool_file "$v" "$SITE")
        if [[ -f $f ]]; then
            existed=true
            rm -f "$f"
            touched_fpm+=("$v")
        fi
    done
    for v in "${touched_fpm[@]}"; do reload_fpm "$v" || true; done
    if mariadb_up; then
        if db_exists "$SITE_USER"; then
            existed=true
            drop_database "$SITE_USER"
        fi
        if db_user_exists "$SITE_USER"; then
            existed=true
            drop_db_user "$SITE_USER"
        fi
    elif [[ -n ${REC[database]:-} ]]; then
        fail service_down "MariaDB is not answering; cannot drop database ${REC[database]}"
    fi
    if id -u "$SITE_USER" >/dev/null 2>&1; then
        existed=true
        # The pool's workers are gone after the reload; anything left is stray.
        pkill -KILL -u "$SITE_USER" 2>/dev/null || true
        userdel "$SITE_USER" >/dev/null 2>&1 || userdel -f "$SITE_USER"
        groupdel "$SITE_USER" >/dev/null 2>&1 || true
    fi
    if [[ -d $SITE_DIR ]]; then
        existed=true
        rm -rf "$SITE_DIR"
    fi
    if [[ -d $TLS_DIR/$SITE ]]; then
        existed=true
        rm -rf "${TLS_DIR:?}/$SITE"
    fi
    if [[ -f $RECORD ]]; then
        existed=true
        rm -f "$RECORD"
    fi
    rm -f "$(fpm_socket)"
    reply str site "$SITE" bool existed "$existed"
}

# alias_in NAME RECORD: whether the record's aliases hold NAME.
alias_in() {
    awk -v a="$1" -F= '$1 == "aliases" { n = split($2, w, " "); for (i = 1; i <= n; i++) if (w[i] == a) f = 1 }
        END { exit !f }' "$2"
}

# site-aliases --site UUID --aliases a,b: the site also answers for these names (verified
# custom domains); an empty list takes every alias away.
cmd_site_aliases() {
    need_site
    need_aliases
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local other a
    for other in "$RECORDS"/*.conf; do
        [[ -f $other && $other != "$RECORD" ]] || continue
        for a in $ALIASES; do
            if grep -qxF "domain=$a" "$other" || alias_in "$a" "$other"; then
                fail bad_input "$a is already served by another site"
            fi
        done
    done
    local changed=false
    if [[ ${REC[aliases]:-} != "$ALIASES" ]]; then
        REC["aliases"]=$ALIASES
        CHANGED=0
        install_file "$VHOST" 0644 root:root < <(render_vhost)
        if ! reload_nginx; then
            fail failed "nginx rejected the configuration"
        fi
        write_record
        undo_commit
        rm -f "$NGX_SITES"/*.prev 2>/dev/null || true
        changed=true
    fi
    local list=()
    read -r -a list <<<"$ALIASES"
    reply str site "$SITE" json aliases "$(json_array str "${list[@]}")" bool changed "$changed"
}

# cmd_site_toggle 1|0: suspend or resume.
cmd_site_toggle() {
    local want=$1
    need_site
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local changed=false suspended=false
    if [[ ${REC[suspended]} != "$want" ]]; then
        REC[suspended]=$want
        local old
        old=$(cat "$VHOST" 2>/dev/null || true)
        render_vhost >"$VHOST.tmp" && mv -f "$VHOST.tmp" "$VHOST"
        if ! reload_nginx; then
            printf '%s\n' "$old" >"$VHOST"
            fail failed "nginx rejected the configuration"
        fi
        write_record
        changed=true
    fi
    [[ $want == 0 ]] || suspended=true
    reply str site "$SITE" bool suspended "$suspended" bool changed "$changed"
}
