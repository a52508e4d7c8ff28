# shellcheck shell=bash
#
# deploy.sh — the verbs release-receive, release-build and release-switch (sourced by
# berth-node). A deployment's code arrives as a tar on stdin into a fresh
# releases/<id> directory, is built there as the site's user, and is switched in by replacing
# the `current` symlink with one rename, so no request ever sees half a release. Receiving and
# building hold the site's own lock, not the node lock, so a long build does not stop other
# sites' operations; the switch takes the node lock, since it may rewrite the vhost.

# need_release: the validated --release, and the paths derived from it.
# shellcheck disable=SC2034 # read below
need_release() {
    local r=${ARG[release]:-}
    r=${r,,}
    [[ $r =~ $UUID_RE ]] || fail bad_input "--release must be a UUID"
    RELEASE=$r
    RELEASES="$SITE_DIR/releases"
    RELEASE_DIR="$RELEASES/$RELEASE"
    RELEASE_LOG="$RELEASES/$RELEASE.log"
}

# need_commands KEY: the base64 list of one-line commands in --KEY, decoded into COMMANDS.
need_commands() {
    local raw=${ARG[$1]:-} text
    COMMANDS=()
    [[ ${#raw} -le 20000 && $raw =~ ^[A-Za-z0-9+/=]*$ ]] || fail bad_input "--$1 must be base64"
    [[ -n $raw ]] || return 0
    text=$(printf '%s' "$raw" | base64 -d 2>/dev/null) || fail bad_input "--$1 must be base64"
    mapfile -t COMMANDS <<<"$text"
    ((${#COMMANDS[@]} <= 10)) || fail bad_input "--$1 holds more than 10 commands"
}

# need_number KEY MAX: the validated --KEY, 1 to MAX, as NUMBER.
need_number() {
    NUMBER=${ARG[$1]:-}
    if ! [[ $NUMBER =~ ^[0-9]{1,7}$ ]] || ((NUMBER < 1 || NUMBER > $2)); then
        fail bad_input "--$1 must be 1 to $2"
    fi
}

# need_public: the validated --public (a relative path without '..', or empty).
need_public() {
    PUBLIC=${ARG[public]-}
    public_ok "$PUBLIC" || fail bad_input "--public must be a relative path of letters, digits and ._- without '..'"
}

# public_ok DIR: DIR is empty, or relative segments of [A-Za-z0-9._-] none of which is . or ..
public_ok() {
    local part parts=()
    [[ -z $1 ]] && return 0
    [[ ${#1} -le 200 && $1 =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]] || return 1
    IFS=/ read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do [[ $part != . && $part != .. ]] || return 1; done
}

# need_keep: the validated --keep (release ids separated by commas), as KEEP.
need_keep() {
    local raw=${ARG[keep]-} id
    KEEP=()
    [[ -n $raw ]] && IFS=, read -r -a KEEP <<<"${raw,,}"
    ((${#KEEP[@]} <= 20)) || fail bad_input "--keep holds more than 20 releases"
    for id in "${KEEP[@]}"; do [[ $id =~ $UUID_RE ]] || fail bad_input "--keep must be release ids separated by commas"; done
}

deployable_site() {
    load_record || fail not_found "no site $SITE on this node"
    [[ ${REC[kind]} != wordpress ]] || fail bad_input "WordPress sites are not deployed from a repository"
}

take_site_lock() {
    load_conf
    mkdir -p "$RUN_DIR"
    exec 8>>"$RUN_DIR/deploy-$SITE.lock"
    flock -w "$LOCK_WAIT" 8 || fail busy "another deployment of site $SITE holds its lock (waited ${LOCK_WAIT}s)"
}

# The release `current` points at, or nothing.
current_release() {
    local link
    link=$(readlink "$SITE_DIR/current" 2>/dev/null) || return 0
    printf '%s' "${link##*/}"
}

# point_current ID: `current` -> releases/ID, by one rename (empty ID: no `current`).
point_current() {
    if [[ -z $1 ]]; then
        rm -f "$SITE_DIR/current"
        return 0
    fi
    ln -sfn "releases/$1" "$SITE_DIR/current.next"
    mv -T "$SITE_DIR/current.next" "$SITE_DIR/current"
}

reload_nginx_quietly() { reload_nginx || true; }

# release-receive --site UUID --release UUID: the tar on stdin, unpacked as the site's user
# into a fresh releases/<id> (a repeat starts that directory over).
cmd_release_receive() {
    need_site
    need_release
    take_site_lock
    deployable_site
    local free
    free=$(free_mb_of "$SITE_DIR")
    ((free >= MIN_FREE_MB)) || fail disk_full "only ${free} MiB free for site $SITE (minimum ${MIN_FREE_MB} MiB)"
    [[ $(current_release) != "$RELEASE" ]] || fail bad_input "release $RELEASE is serving"
    if [[ ! -d $RELEASES ]]; then
        mkdir "$RELEASES"
        chown "$SITE_USER:$SITE_USER" "$RELEASES"
        chmod 755 "$RELEASES"
    fi
    rm -rf "$RELEASE_DIR" "$RELEASE_LOG"
    undo_push remove_path "$RELEASE_DIR"
    runuser -u "$SITE_USER" -- mkdir "$RELEASE_DIR"
    # As the site's user, so nothing in the archive can land outside what the site owns.
    runuser -u "$SITE_USER" -- tar -x -f - -C "$RELEASE_DIR" --no-same-owner --no-same-permissions ||
        fail failed "the archive did not unpack"
    local files bytes
    files=$(find "$RELEASE_DIR" -mindepth 1 | wc -l)
    bytes=$(du -sb "$RELEASE_DIR" | awk '{ print $1 }')
    undo_commit
    reply str release "$RELEASE" num files "$files" num bytes "$bytes"
}

# build_step NAME COMMAND...: runs COMMAND in the release as the site's user, with the time,
# CPU and memory limits, appending to the release's log. Returns its exit code.
build_step() {
    local name=$1 rc=0
    shift
    printf '$ %s\n' "$name" >>"$RELEASE_LOG"
    # shellcheck disable=SC2016 # the inner shell expands its own arguments
    (
        cd "$RELEASE_DIR"
        runuser -u "$SITE_USER" -- env -i HOME="$SITE_DIR" TMPDIR="$SITE_DIR/tmp" PATH="$PATH" LANG=C.UTF-8 \
            BERTH_SITE="$SITE" BERTH_RELEASE="$RELEASE" "${BUILD_ENV[@]}" \
            timeout --kill-after=5 "$TIMEOUT" \
            bash -c 'ulimit -v "$1" && ulimit -t "$2" && shift 2 && exec "$@"' limits "$MEMORY_KB" "$CPU_SECS" "$@"
    ) >>"$RELEASE_LOG" 2>&1 </dev/null || rc=$?
    ((rc != 124)) || printf 'timed out after %ss\n' "$TIMEOUT" >>"$RELEASE_LOG"
    return "$rc"
}

# build_report PASSED STEP CODE: the answer, with the end of the log.
build_report() {
    local log
    log=$(tail -c 65536 "$RELEASE_LOG" 2>/dev/null || true)
    reply bool passed "$1" str step "$2" num exit_code "$3" str log "$log"
}

# release-build --site UUID --release UUID --commands B64 --post B64 --timeout S
#   --memory MB --cpu SECONDS
# Builds the release by its site's kind: composer for PHP and Laravel when the release has a
# composer.json, migrations and the config cache for Laravel, then the site's own commands.
# A step that fails is an answer (passed false, its name, exit code and the log's end), not a
# script failure: the verb did its job.
cmd_release_build() {
    need_site
    need_release
    need_commands commands
    local own=("${COMMANDS[@]}")
    need_commands post
    local post=("${COMMANDS[@]}")
    need_number timeout 3600
    TIMEOUT=$NUMBER
    need_number memory 65536
    MEMORY_KB=$((NUMBER * 1024))
    need_number cpu 86400
    CPU_SECS=$NUMBER
    take_site_lock
    deployable_site
    [[ -d $RELEASE_DIR ]] || fail not_found "release $RELEASE was not received"
    : >"$RELEASE_LOG"
    BUILD_ENV=()
    if [[ -n ${REC[database]:-} ]]; then
        BUILD_ENV=(DB_CONNECTION=mysql DB_SOCKET="$MYSQL_SOCK" DB_HOST=localhost DB_DATABASE="${REC[database]}"
            DB_USERNAME="${REC[user]}" DB_PASSWORD="${REC[db_password]}")
    fi
    local rc=0 cmd i=0
    if [[ ${REC[kind]} != static && -f $RELEASE_DIR/composer.json ]]; then
        if ! command -v composer >/dev/null; then
            printf 'composer is not installed on this node\n' >>"$RELEASE_LOG"
            build_report false composer 127
        fi
        build_step "composer install --no-dev" composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader || rc=$?
        ((rc == 0)) || build_report false composer "$rc"
    fi
    for cmd in "${own[@]}"; do
        i=$((i + 1))
        build_step "$cmd" bash -c "$cmd" || rc=$?
        ((rc == 0)) || build_report false "command $i" "$rc"
    done
    if [[ ${REC[kind]} == laravel && -f $RELEASE_DIR/artisan ]]; then
        build_step "php artisan migrate --force" php artisan migrate --force || rc=$?
        ((rc == 0)) || build_report false migrate "$rc"
        build_step "php artisan config:cache" php artisan config:cache || rc=$?
        ((rc == 0)) || build_report false config_cache "$rc"
    fi
    i=0
    for cmd in "${post[@]}"; do
        i=$((i + 1))
        build_step "$cmd" bash -c "$cmd" || rc=$?
        ((rc == 0)) || build_report false "post-deploy $i" "$rc"
    done
    build_report true "" 0
}

# release-switch --site UUID --release UUID --public DIR --keep ID,ID...
# Points `current` at the release (the vhost serves <site>/current/<public> from the first
# deployment on), asks the site over the node's loopback whether it answers, and switches back
# to the release that served before if it does not. Then removes the releases not kept.
cmd_release_switch() {
    need_site
    need_release
    need_public
    need_keep
    take_lock
    deployable_site
    [[ -d $RELEASE_DIR ]] || fail not_found "release $RELEASE is not on this node"
    local previous
    previous=$(current_release)
    undo_push point_current "$previous"
    point_current "$RELEASE"
    local vhost_changed=0
    if [[ ${REC[deployed]:-0} != 1 || ${REC[public_dir]:-} != "$PUBLIC" ]]; then
        REC[deployed]=1
        REC[public_dir]=$PUBLIC
        undo_push reload_nginx_quietly
        CHANGED=0
        install_file "$VHOST" 0644 root:root < <(render_vhost)
        reload_nginx || fail failed "nginx rejected the configuration"
        vhost_changed=1
    fi
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Host: ${REC[domain]}" "http://127.0.0.1/" || true)
    if [[ ! $status =~ ^[23][0-9][0-9]$ ]]; then
        fail site_check_failed "the site answered ${status:-nothing} with release $RELEASE; ${previous:-no release} serves again"
    fi
    [[ $vhost_changed == 0 ]] || write_record
    undo_commit
    rm -f "$VHOST.prev"
    local d id removed=0
    for d in "$RELEASES"/*/; do
        id=${d%/}
        id=${id##*/}
        [[ $id =~ $UUID_RE && $id != "$RELEASE" ]] || continue
        in_list "$id" "${KEEP[@]}" && continue
        rm -rf "${RELEASES:?}/$id" "$RELEASES/$id.log"
        removed=$((removed + 1))
    done
    reply str release "$RELEASE" opt previous "$previous" num status "$status" num removed "$removed"
}
