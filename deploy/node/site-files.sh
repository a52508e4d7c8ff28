# shellcheck shell=bash
#
# site-files.sh — what a site is made of on a node (sourced by berth-node): its user, home,
# document root, vhost, php-fpm pool and database. Every value written into these files was
# validated on the way in (lib.sh) or is generated here.

# A site deployed from a repository is served from the release `current` points at.
docroot_of() {
    if [[ ${REC[deployed]:-0} == 1 ]]; then
        echo "$SITE_DIR/current${REC[public_dir]:+/${REC[public_dir]}}"
        return
    fi
    case ${REC[kind]} in
        laravel) echo "$SITE_DIR/app/public" ;;
        *) echo "$SITE_DIR/public" ;;
    esac
}
fpm_socket() { echo "$RUN_DIR/php-$SITE_USER.sock"; }

# The vhost is a pure function of the record, so create, suspend, resume, a new certificate
# and new aliases all just regenerate it. With a certificate, port 80 only answers ACME
# challenges and redirects to HTTPS; the site itself is served on 443.
render_vhost() {
    local names=${REC[domain]}
    [[ ${REC[wildcard]:-0} == 0 ]] || names+=" *.${REC[domain]}"
    [[ -z ${REC[aliases]:-} ]] || names+=" ${REC[aliases]}"
    echo "# Managed by berth-node: site $SITE (${REC[kind]}). Regenerated on every change."
    echo "server {"
    echo "    listen 80;"
    echo "    server_name $names;"
    echo "    location ^~ /.well-known/acme-challenge/ { root $ACME_ROOT; default_type text/plain; try_files \$uri =404; }"
    if [[ ${REC[tls]:-0} == 1 ]]; then
        echo "    location / { return 301 https://\$host\$request_uri; }"
        echo "}"
        echo "server {"
        echo "    listen 443 ssl;"
        echo "    server_name $names;"
        echo "    ssl_certificate $TLS_DIR/$SITE/chain.pem;"
        echo "    ssl_certificate_key $TLS_DIR/$SITE/key.pem;"
        echo "    ssl_protocols TLSv1.2 TLSv1.3;"
        if [[ ${REC[hsts]:-0} == 1 ]]; then
            echo "    add_header Strict-Transport-Security \"max-age=31536000\" always;"
        fi
    fi
    render_site_body
    echo "}"
}

# The part of a server block that serves the site (or the suspended page).
render_site_body() {
    local root sock
    root=$(docroot_of)
    sock=$(fpm_socket)
    # The predefined combined format: `usage` sums its body bytes per site.
    echo "    access_log $SITE_LOGS/$SITE.log combined;"
    # A staging copy: no search engine is to index it, whatever its pages say.
    if [[ ${REC[noindex]:-0} == 1 ]]; then
        echo "    add_header X-Robots-Tag \"noindex, nofollow\" always;"
    fi
    if [[ ${REC[suspended]} == 1 ]]; then
        echo "    root $STATIC_DIR;"
        echo "    error_page 503 /suspended.html;"
        echo "    location = /suspended.html { internal; }"
        echo "    location / { return 503; }"
        return
    fi
    if [[ ${REC[maintenance]:-0} == 1 ]]; then
        # While a restore swaps the site's files and database, visitors get 503; the node
        # itself (loopback) still reaches the site, to check it answers before it reopens.
        echo "    if (\$remote_addr != 127.0.0.1) { return 503; }"
    fi
    echo "    root $root;"
    echo "    client_max_body_size ${REC[upload_mb]:-64}m;"
    if [[ ${REC[kind]} == static ]]; then
        echo "    index index.html index.htm;"
        echo "    location / { try_files \$uri \$uri/ =404; }"
    else
        echo "    index index.php index.html;"
        echo "    location / { try_files \$uri \$uri/ /index.php?\$query_string; }"
        echo "    location ~ \\.php\$ {"
        echo "        try_files \$uri =404;"
        echo "        include /etc/nginx/fastcgi_params;"
        # A deployed site's root runs through the `current` symlink: nginx resolves it per
        # request ($realpath_root), so PHP (and its realpath and opcache caches) sees the
        # release's own path and a switch takes effect with the next request, whole.
        local docvar='$document_root'
        [[ ${REC[deployed]:-0} == 0 ]] || docvar='$realpath_root'
        echo "        fastcgi_param SCRIPT_FILENAME $docvar\$fastcgi_script_name;"
        echo "        fastcgi_param DOCUMENT_ROOT $docvar;"
        echo "        fastcgi_pass unix:$sock;"
        echo "    }"
    fi
    if [[ ${REC[kind]} == wordpress ]]; then
        echo "    location = /wp-config.php { deny all; }"
    fi
    echo "    location ~ /\\.(?!well-known) { deny all; }"
}

render_pool() {
    local sock basedir
    sock=$(fpm_socket)
    basedir="$SITE_DIR/:/usr/share/php/:/dev/urandom"
    [[ ${REC[kind]} != wordpress ]] || basedir+=":/usr/share/wordpress/:/usr/share/javascript/:/etc/ssl/certs/"
    cat <<EOF
; Managed by berth-node: site $SITE (${REC[kind]}).
[$SITE_USER]
user = $SITE_USER
group = $SITE_USER
listen = $sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = ondemand
pm.max_children = ${REC[php_workers]:-5}
pm.process_idle_timeout = 20s
pm.max_requests = 500
request_terminate_timeout = 120s
chdir = $SITE_DIR
env[TMPDIR] = $SITE_DIR/tmp
php_admin_value[open_basedir] = $basedir
php_admin_value[upload_tmp_dir] = $SITE_DIR/tmp
php_admin_value[sys_temp_dir] = $SITE_DIR/tmp
php_admin_value[session.save_path] = $SITE_DIR/tmp
php_admin_value[error_log] = $SITE_DIR/log/php-error.log
php_admin_flag[log_errors] = on
php_admin_value[memory_limit] = ${REC[php_memory]:-256}M
php_admin_value[upload_max_filesize] = ${REC[upload_mb]:-64}M
php_admin_value[post_max_size] = ${REC[upload_mb]:-64}M
EOF
    if [[ ${REC[kind]} == laravel && -n ${REC[database]:-} ]]; then
        # The site's database, as Laravel's config/database.php reads it from the environment.
        echo "env[DB_CONNECTION] = mysql"
        echo "env[DB_HOST] = localhost"
        echo "env[DB_SOCKET] = $MYSQL_SOCK"
        echo "env[DB_DATABASE] = ${REC[database]}"
        echo "env[DB_USERNAME] = ${REC[user]}"
        echo "env[DB_PASSWORD] = ${REC[db_password]}"
    fi
    if [[ ${REC[kind]} == wordpress ]]; then
        # See wp_layout: defining ABSPATH before WordPress runs makes the shared code load
        # this site's own wp-config.php.
        echo "php_admin_value[auto_prepend_file] = $SITE_DIR/abspath.php"
    fi
}

# install_file DEST MODE OWNER (content on stdin): atomic write; a rollback restores what was
# there before, or removes it if this call created it. Unchanged content leaves the file
# alone, so a re-run reloads nothing.
CHANGED=0
# shellcheck disable=SC2034 # CHANGED is read by site.sh
install_file() {
    local dest=$1 mode=$2 owner=$3
    cat >"$dest.tmp"
    chmod "$mode" "$dest.tmp"
    chown "$owner" "$dest.tmp"
    if [[ -e $dest ]] && cmp -s "$dest.tmp" "$dest"; then
        rm -f "$dest.tmp"
        return 0
    fi
    if [[ -e $dest ]]; then
        cp -p "$dest" "$dest.prev"
        undo_push restore_file "$dest.prev" "$dest"
    else
        undo_push remove_path "$dest"
    fi
    mv -f "$dest.tmp" "$dest"
    CHANGED=1
}

html_escape() {
    local s=$1
    s=${s//&/&amp;}
    s=${s//</&lt;}
    s=${s//>/&gt;}
    printf '%s' "$s"
}

delete_site_user() {
    userdel "$1" >/dev/null 2>&1 || true
    groupdel "$1" >/dev/null 2>&1 || true
}

ensure_user() {
    if id -u "$SITE_USER" >/dev/null 2>&1; then return 0; fi
    undo_push delete_site_user "$SITE_USER"
    useradd --system --user-group --no-create-home --home-dir "$SITE_DIR" \
        --shell /usr/sbin/nologin --comment "berth site $SITE" "$SITE_USER"
}

ensure_site_dir() {
    if [[ ! -d $SITE_DIR ]]; then
        undo_push remove_path "$SITE_DIR"
        mkdir "$SITE_DIR"
    fi
    mkdir -p "$SITE_DIR/public" "$SITE_DIR/tmp" "$SITE_DIR/log" "$SITE_LOGS"
    [[ ${REC[kind]} != laravel ]] || mkdir -p "$SITE_DIR/app/public"
    # nginx (www-data) may enter to serve static files; other sites may not. A site with SFTP
    # accounts keeps its directory root-owned, as sshd's chroot needs (see sftp.sh).
    if [[ ${REC[sftp]:-0} == 1 ]]; then
        chown "root:$SITE_USER" "$SITE_DIR"
    else
        chown "$SITE_USER:www-data" "$SITE_DIR"
    fi
    chmod 750 "$SITE_DIR"
    chown "$SITE_USER:$SITE_USER" "$SITE_DIR/public" "$SITE_DIR/tmp" "$SITE_DIR/log"
    [[ ${REC[sftp]:-0} == 0 ]] || chmod 2775 "$SITE_DIR/public"
    chmod 700 "$SITE_DIR/tmp"
    [[ ${REC[kind]} != laravel ]] || chown -R "$SITE_USER:$SITE_USER" "$SITE_DIR/app"
    local docroot domain
    docroot=$(docroot_of)
    domain=$(html_escape "${REC[domain]}")
    case ${REC[kind]} in
        static)
            [[ -e $docroot/index.html ]] || install_file "$docroot/index.html" 0644 "$SITE_USER:$SITE_USER" <<EOF
<!doctype html>
<html><head><meta charset="utf-8"><title>$domain</title></head>
<body><h1>$domain</h1><p>This site is hosted by Berth. Upload your files to replace this page.</p></body></html>
EOF
            ;;
        php | laravel)
            [[ -e $docroot/index.php ]] || install_file "$docroot/index.php" 0644 "$SITE_USER:$SITE_USER" <<EOF
<?php
// Placeholder until the site's code is deployed.
echo "<!doctype html><title>$domain</title><h1>$domain</h1><p>PHP " . PHP_VERSION . " is ready.</p>";
EOF
            ;;
        wordpress) wp_layout ;;
    esac
}

ensure_db() {
    local name=${REC[database]} db account pw
    db=$(sql_name "$name") && account=$(sql_account "$name") && pw=$(sql_text "${REC[db_password]}") ||
        fail bad_input "unsafe database name or password for site $SITE"
    mariadb_up || fail service_down "MariaDB is not answering on $MYSQL_SOCK"
    if ! db_exists "$name"; then
        undo_push drop_database "$name"
        sql "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    fi
    if ! db_user_exists "$name"; then
        undo_push drop_db_user "$name"
        sql "CREATE USER $account IDENTIFIED BY $pw"
    fi
    # Re-asserting password and grant keeps a re-run convergent.
    sql "ALTER USER $account IDENTIFIED BY $pw; GRANT ALL PRIVILEGES ON $db.* TO $account"
}

# WordPress: Debian's package keeps one copy of the code in /usr/share/wordpress, and its
# wp-config.php picks a config from /etc/wordpress by Host header — machine-wide, outside the
# node root. Instead each site gets its own document root made of symlinks to the package's
# entries plus a real wp-config.php and wp-content/. PHP resolves symlinks in __FILE__, so
# left alone wp-load.php would still compute ABSPATH as /usr/share/wordpress/; the pool's
# auto_prepend_file defines ABSPATH as the site's document root first, and wp-load.php then
# requires ABSPATH/wp-config.php — this site's file — and loads everything else via the
# symlinks.
wp_layout() {
    local pub="$SITE_DIR/public" e name
    for e in /usr/share/wordpress/* /usr/share/wordpress/.[!.]*; do
        [[ -e $e || -L $e ]] || continue
        name=${e##*/}
        case $name in wp-config.php | wp-content | .htaccess) continue ;; esac
        [[ -L $pub/$name ]] || ln -s "$e" "$pub/$name"
    done
    mkdir -p "$pub/wp-content/plugins" "$pub/wp-content/themes" "$pub/wp-content/uploads" "$pub/wp-content/upgrade"
    for e in /usr/share/wordpress/wp-content/themes/* /usr/share/wordpress/wp-content/plugins/*; do
        [[ -d $e ]] || continue
        name=${e#/usr/share/wordpress/wp-content/}
        [[ -L $pub/wp-content/$name ]] || ln -s "$e" "$pub/wp-content/$name"
    done
    chown -R "$SITE_USER:$SITE_USER" "$pub/wp-content"
    chown -h "$SITE_USER:$SITE_USER" "$pub"/* 2>/dev/null || true

    install_file "$SITE_DIR/abspath.php" 0640 "$SITE_USER:$SITE_USER" <<EOF
<?php
// Managed by berth-node: point WordPress at this site's document root.
define('ABSPATH', '$pub/');
EOF
    # Salts are generated once; a re-run keeps the existing config as is.
    [[ ! -e $pub/wp-config.php ]] || return 0
    local k salts=""
    for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
        salts+="define('$k', '$(rand_hex 32)');"$'\n'
    done
    install_file "$pub/wp-config.php" 0600 "$SITE_USER:$SITE_USER" <<EOF
<?php
// Managed by berth-node: WordPress config of site $SITE (${REC[domain]}).
define('DB_NAME', '${REC[database]}');
define('DB_USER', '${REC[user]}');
define('DB_PASSWORD', '${REC[db_password]}');
define('DB_HOST', 'localhost:$MYSQL_SOCK');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$salts\$table_prefix = 'wp_';
define('WP_AUTO_UPDATE_CORE', false);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('DISALLOW_FILE_MODS', true);
define('FS_METHOD', 'direct');
if (isset(\$_SERVER['HTTP_X_FORWARDED_PROTO']) && \$_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') {
    \$_SERVER['HTTPS'] = 'on';
}
if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
EOF
}
