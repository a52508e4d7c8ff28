# shellcheck shell=bash
#
# tls.sh — the verbs challenge-put, challenge-remove and site-tls (sourced by berth-node):
# ACME HTTP-01 answers served on port 80 of every vhost, and a site's key and certificate
# chain installed with an HTTPS vhost. Keys arrive on stdin, never in argv, where every user
# of the node could read them.

challenge_file() { echo "$ACME_ROOT/.well-known/acme-challenge/$TOKEN"; }

# Answers are per token, which ACME makes unique and random, so they need no site and no
# lock: every vhost serves the one directory.
cmd_challenge_put() {
    need_challenge
    [[ -n ${ARG[content]+set} ]] || fail bad_input "--content is required"
    mkdir -p "$ACME_ROOT/.well-known/acme-challenge"
    chmod 755 "$ACME_ROOT" "$ACME_ROOT/.well-known" "$ACME_ROOT/.well-known/acme-challenge"
    local file written=false
    file=$(challenge_file)
    if [[ ! -f $file || $(cat "$file") != "$CONTENT" ]]; then
        printf '%s' "$CONTENT" >"$file.tmp"
        chmod 644 "$file.tmp"
        mv -f "$file.tmp" "$file"
        written=true
    fi
    reply str token "$TOKEN" bool written "$written"
}

cmd_challenge_remove() {
    need_challenge
    local file existed=false
    file=$(challenge_file)
    if [[ -f $file ]]; then
        rm -f "$file"
        existed=true
    fi
    reply str token "$TOKEN" bool existed "$existed"
}

# pem_blocks KIND < PEM: the blocks whose BEGIN line names KIND (CERTIFICATE, PRIVATE KEY),
# in order, and nothing else (no stray text reaches a file nginx reads).
pem_blocks() {
    awk -v kind="$1" '
        $0 ~ "^-----BEGIN " && index($0, kind " KEY-----") + index($0, "BEGIN " kind "-----") > 0 { on = 1 }
        on { print }
        $0 ~ "^-----END " { on = 0 }'
}

# site-tls --site UUID --hsts 0|1 --wildcard 0|1, key and chain (PEM) on stdin. The new
# files are checked (a key, a chain whose first certificate is for the site's domain and
# matches the key) before anything is replaced; nginx is reloaded gracefully, so the
# certificate before keeps serving every connection until the new one is in.
cmd_site_tls() {
    need_site
    need_flag hsts
    local hsts=$FLAG
    need_flag wildcard
    local wildcard=$FLAG
    take_lock
    load_record || fail not_found "no site $SITE on this node"
    local input dir="$TLS_DIR/$SITE" new
    input=$(head -c 65537)
    ((${#input} <= 65536)) || fail bad_input "the key and chain are over 64 KiB"
    new=$(mktemp -d "${TMPDIR:-/tmp}/berth-tls.XXXXXX")
    undo_push remove_path "$new"
    chmod 700 "$new"
    pem_blocks "PRIVATE" <<<"$input" >"$new/key.pem"
    pem_blocks "CERTIFICATE" <<<"$input" >"$new/chain.pem"
    openssl pkey -in "$new/key.pem" -noout 2>/dev/null || fail bad_input "stdin holds no private key"
    openssl x509 -in "$new/chain.pem" -noout 2>/dev/null || fail bad_input "stdin holds no certificate"
    [[ $(openssl pkey -in "$new/key.pem" -pubout) == $(openssl x509 -in "$new/chain.pem" -noout -pubkey) ]] ||
        fail bad_input "the key does not match the certificate"
    openssl x509 -in "$new/chain.pem" -noout -checkhost "${REC[domain]}" | grep -q 'does match' ||
        fail bad_input "the certificate is not for ${REC[domain]}"
    local serial not_after changed=false
    serial=$(openssl x509 -in "$new/chain.pem" -noout -serial)
    serial=${serial#serial=}
    not_after=$(date -u -d "$(openssl x509 -in "$new/chain.pem" -noout -enddate | cut -d= -f2)" +%FT%TZ)

    mkdir -p "$dir"
    chmod 700 "$TLS_DIR" "$dir"
    local f
    for f in key.pem chain.pem; do
        if ! cmp -s "$new/$f" "$dir/$f"; then
            changed=true
            if [[ -e $dir/$f ]]; then
                cp -p "$dir/$f" "$dir/$f.prev"
                undo_push restore_file "$dir/$f.prev" "$dir/$f"
            else
                undo_push remove_path "$dir/$f"
            fi
        fi
    done
    chmod 600 "$new/key.pem"
    chmod 644 "$new/chain.pem"
    mv -f "$new/key.pem" "$dir/key.pem"
    mv -f "$new/chain.pem" "$dir/chain.pem"
    REC["tls"]=1
    REC["hsts"]=$hsts
    REC["wildcard"]=$wildcard
    CHANGED=0
    install_file "$VHOST" 0644 root:root < <(render_vhost)
    if [[ $CHANGED == 1 || $changed == true ]] || ! nginx_up; then
        changed=true
        reload_nginx || fail failed "nginx rejected the configuration"
    fi
    write_record
    undo_commit
    rm -rf "$new"
    rm -f "$dir"/*.prev "$NGX_SITES"/*.prev 2>/dev/null || true
    reply str site "$SITE" str serial "$serial" str not_after "$not_after" bool changed "$changed"
}
