# shellcheck shell=bash
#
# sftp.sh — the verbs sftp-user-add and sftp-user-remove (sourced by berth-node). An SFTP
# account is a Linux user whose primary group is the site's, whose home is the site's
# directory, and who is a member of berth-sftp: sshd's Match block for that group chroots it
# to its home and allows nothing but internal-sftp. sshd requires a chroot to be owned by root
# and writable by nobody else, so a site with accounts has its directory owned by
# root:<site group> (0750; nginx reaches it as a member of the group) and its public/ shared
# with the group (2775, what is in it group-writable, files created 0664).
#
# While its tenant's storage is at its plan's limit, a site's accounts are also members of
# berth-sftp-ro, whose Match block comes first and so wins: the same chroot with internal-sftp
# read-only (-R), which refuses every upload, rename, removal and new directory.

SFTP_GROUP=berth-sftp
SFTP_RO_GROUP=berth-sftp-ro
SFTP_KEYS_DIR=""
SFTP_CONF=""

sftp_layout() {
    # Readable by the account itself: sshd reads authorized keys as the user logging in.
    SFTP_KEYS_DIR="$ETC/berth-sftp-keys"
    SFTP_CONF="$ETC/ssh/sshd_config.d/berth-sftp.conf"
}

# need_login: the validated --login (what the account logs in as).
need_login() {
    LOGIN=${ARG[login]:-}
    [[ $LOGIN =~ ^[a-z][a-z0-9_-]{0,30}$ ]] || fail bad_input "--login must be a lower-case user name"
}

# The sshd settings for every account, written once and loaded by sshd's Include. sshd takes
# each keyword from the first block that matches, so the read-only block goes first.
render_sftp_conf() {
    echo "# Managed by berth-node: SFTP accounts of sites, chrooted to the site's directory."
    render_sftp_block "$SFTP_RO_GROUP" "internal-sftp -R -d /public"
    render_sftp_block "$SFTP_GROUP" "internal-sftp -u 0002 -d /public"
}

# render_sftp_block GROUP COMMAND: one Match block.
render_sftp_block() {
    echo "Match Group $1"
    echo "    ChrootDirectory %h"
    echo "    ForceCommand $2"
    echo "    AuthorizedKeysFile $SFTP_KEYS_DIR/%u.keys"
    echo "    PasswordAuthentication yes"
    echo "    PubkeyAuthentication yes"
    echo "    AllowTcpForwarding no"
    echo "    X11Forwarding no"
    echo "    PermitTTY no"
}

# sftp_conf: the groups and the managed sshd settings in place (sshd reloaded if they changed).
sftp_conf() {
    getent group "$SFTP_GROUP" >/dev/null || groupadd --system "$SFTP_GROUP"
    getent group "$SFTP_RO_GROUP" >/dev/null || groupadd --system "$SFTP_RO_GROUP"
    mkdir -p "$SFTP_KEYS_DIR" "$(dirname "$SFTP_CONF")"
    chmod 755 "$SFTP_KEYS_DIR"
    CHANGED=0
    install_file "$SFTP_CONF" 0644 root:root < <(render_sftp_conf)
    if [[ $CHANGED == 1 ]]; then
        reload_sshd || fail service_down "sshd did not reload"
    fi
    undo_commit
}

# sftp_logins: the site's accounts, one a line.
sftp_logins() {
    getent passwd | awk -F: -v c="berth sftp $SITE" '$5 == c { print $1 }'
}

# sftp_apply_lock LOGIN: LOGIN is read-only while the site's record says so, writable otherwise.
sftp_apply_lock() {
    if [[ ${REC[sftp_locked]:-0} == 1 ]]; then
        id -nG "$1" | tr ' ' '\n' | grep -qxF "$SFTP_RO_GROUP" || usermod -a -G "$SFTP_RO_GROUP" "$1"
    else
        gpasswd -d "$1" "$SFTP_RO_GROUP" >/dev/null 2>&1 || true
    fi
}

reload_sshd() {
    if [[ $MODE == dev ]]; then
        local pid
        pid=$(cat "$ROOT/run/sshd.pid" 2>/dev/null) || return 1
        kill -HUP "$pid"
    else
        systemctl reload ssh
    fi
}

# The site's directory as a chroot: root-owned; the site's user and nginx reach it through
# the site's group.
sftp_site_dir() {
    chown "root:$SITE_USER" "$SITE_DIR"
    chmod 750 "$SITE_DIR"
    id -nG www-data | tr ' ' '\n' | grep -qxF "$SITE_USER" || usermod -a -G "$SITE_USER" www-data
    chown "$SITE_USER:$SITE_USER" "$SITE_DIR/public"
    chmod 2775 "$SITE_DIR/public"
    # What is there already becomes the group's to change too (symlinks are left alone).
    chmod -R g+w "$SITE_DIR/public"
    find "$SITE_DIR/public" -type d -exec chmod g+s {} +
}

# sftp-user-add --site UUID --login NAME --method key|password: the public key, or the
# password, on stdin. A repeat sets the key or password anew.
cmd_sftp_user_add() {
    need_site
    need_login
    local method=${ARG[method]:-}
    [[ $method == key || $method == password ]] || fail bad_input "--method must be key or password"
    local secret
    secret=$(head -c 16384 | tr -d '\r')
    if [[ $method == key ]]; then
        [[ $secret =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))\ [A-Za-z0-9+/]+=*(\ [^[:cntrl:]]*)?$ ]] ||
            fail bad_input "the public key must be one OpenSSH line"
    else
        [[ ${#secret} -ge 12 ]] || fail bad_input "the password must be at least 12 characters"
    fi
    take_lock
    sftp_layout
    load_record || fail not_found "no site $SITE on this node"
    if id -u "$LOGIN" >/dev/null 2>&1; then
        [[ $(id -gn "$LOGIN") == "$SITE_USER" ]] || fail bad_input "user $LOGIN exists and is not an account of site $SITE"
    fi
    sftp_conf
    if ! id -u "$LOGIN" >/dev/null 2>&1; then
        useradd --no-create-home --home-dir "$SITE_DIR" --gid "$SITE_USER" --groups "$SFTP_GROUP" \
            --shell /usr/sbin/nologin --comment "berth sftp $SITE" "$LOGIN"
    fi
    sftp_apply_lock "$LOGIN"
    if [[ $method == key ]]; then
        printf '%s\n' "$secret" >"$SFTP_KEYS_DIR/$LOGIN.keys"
        chmod 644 "$SFTP_KEYS_DIR/$LOGIN.keys"
        usermod -p '*' "$LOGIN"
    else
        rm -f "$SFTP_KEYS_DIR/$LOGIN.keys"
        local hash
        hash=$(printf '%s' "$secret" | openssl passwd -6 -stdin) || fail failed "the password could not be hashed"
        usermod -p "$hash" "$LOGIN"
    fi
    # shellcheck disable=SC2034 # REC is written by write_record
    REC["sftp"]=1
    sftp_site_dir
    reload_nginx || fail failed "nginx did not reload"
    write_record
    reply str site "$SITE" str login "$LOGIN" str method "$method" str root "/public"
}

# sftp-user-remove --site UUID --login NAME: the account and its key are gone (none: no error).
cmd_sftp_user_remove() {
    need_site
    need_login
    take_lock
    sftp_layout
    local existed=false
    if id -u "$LOGIN" >/dev/null 2>&1; then
        [[ $(id -gn "$LOGIN") == "$SITE_USER" ]] || fail bad_input "user $LOGIN is not an account of site $SITE"
        pkill -KILL -u "$LOGIN" 2>/dev/null || true
        userdel "$LOGIN" >/dev/null 2>&1 || userdel -f "$LOGIN"
        existed=true
    fi
    rm -f "$SFTP_KEYS_DIR/$LOGIN.keys"
    reply str site "$SITE" str login "$LOGIN" bool existed "$existed"
}

# sftp-lock --site UUID --locked 0|1: the site's accounts may upload (0) or only read (1),
# the site's record remembers it for accounts added later. Locking ends the accounts' open
# sessions, which would otherwise keep writing.
cmd_sftp_lock() {
    need_site
    local locked=${ARG[locked]:-} login n=0
    [[ $locked == [01] ]] || fail bad_input "--locked must be 0 or 1"
    take_lock
    sftp_layout
    load_record || fail not_found "no site $SITE on this node"
    sftp_conf
    REC["sftp_locked"]=$locked
    write_record
    while IFS= read -r login; do
        [[ -n $login ]] || continue
        sftp_apply_lock "$login"
        if [[ $locked == 1 ]]; then pkill -KILL -u "$login" 2>/dev/null || true; fi
        n=$((n + 1))
    done < <(sftp_logins)
    local state=false
    [[ $locked == 0 ]] || state=true
    reply str site "$SITE" bool locked "$state" num accounts "$n"
}
