# shellcheck shell=bash
#
# json.sh — the one JSON emitter of the node scripts (sourced by berth-node).
#
# Every answer is built here from typed triples, so no verb writes JSON by hand and every
# string is escaped the same way:
#
#   json_string VALUE                  VALUE as a JSON string literal
#   json_object [TYPE KEY VALUE]...    an object, members in the order given
#   json_array TYPE [VALUE]...         an array of values of one TYPE
#
# TYPE is one of
#   str    a string
#   opt    a string, or null when empty
#   num    a JSON number (checked)
#   bool   true or false (checked)
#   json   JSON made by json_object or json_array (inserted as it is)
#
# Keys are fixed names chosen by the scripts, so they must match [a-z0-9_-]+. A malformed
# call (an unknown type, a non-number as num, a bad key) is a bug in the caller: the function
# prints nothing and returns 1, so the caller reports a failure instead of sending broken JSON.
#
# Strings are escaped byte by byte in the C locale: backslash and double quote, the five
# control characters with short escapes (\n \r \t \b \f), every other control character and
# DEL as \u00XX. All other bytes, UTF-8 included, pass through untouched.

# The control characters without a short escape, and their \u00XX forms, built once.
_JSON_CTRL=()
_JSON_CTRL_ESC=()
_json_tables() {
    local i hex c
    for ((i = 1; i < 32; i++)); do
        case $i in 8 | 9 | 10 | 12 | 13) continue ;; esac
        printf -v hex '%02x' "$i"
        printf -v c '%b' "\\x$hex"
        _JSON_CTRL+=("$c")
        _JSON_CTRL_ESC+=("\\u00$hex")
    done
    _JSON_CTRL+=($'\x7f')
    _JSON_CTRL_ESC+=('\u007f')
}
_json_tables

# _json_quote VALUE: sets REPLY to VALUE as a JSON string literal.
_json_quote() {
    # Byte semantics whatever the caller's locale: a multi-byte character is never split or
    # mistaken for a control character.
    local LC_ALL=C s=$1 bs=\\ i
    # Quoted replacements: bash 5.2 gives & and \ a meaning in unquoted ones.
    s=${s//"$bs"/"$bs$bs"}
    s=${s//'"'/"$bs\""}
    if [[ $s == *[[:cntrl:]]* ]]; then
        s=${s//$'\n'/'\n'}
        s=${s//$'\r'/'\r'}
        s=${s//$'\t'/'\t'}
        s=${s//$'\b'/'\b'}
        s=${s//$'\f'/'\f'}
        for ((i = 0; i < ${#_JSON_CTRL[@]}; i++)); do
            s=${s//"${_JSON_CTRL[i]}"/"${_JSON_CTRL_ESC[i]}"}
        done
    fi
    REPLY="\"$s\""
}

# _json_value TYPE VALUE: sets REPLY to VALUE encoded as TYPE; returns 1 if it is not one.
_json_value() {
    case $1 in
        str) _json_quote "$2" ;;
        opt) if [[ -z $2 ]]; then REPLY=null; else _json_quote "$2"; fi ;;
        num)
            [[ $2 =~ ^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$ ]] || return 1
            REPLY=$2
            ;;
        bool)
            [[ $2 == true || $2 == false ]] || return 1
            REPLY=$2
            ;;
        json)
            # Only our own output belongs here; an empty value would leave a hole.
            [[ $2 == [\{\[]* ]] || return 1
            REPLY=$2
            ;;
        *) return 1 ;;
    esac
}

json_string() {
    local REPLY
    _json_quote "$1"
    printf '%s' "$REPLY"
}

json_object() {
    local REPLY out="" sep=""
    while (($#)); do
        (($# >= 3)) || return 1
        [[ $2 =~ ^[a-z0-9_-]+$ ]] || return 1
        _json_value "$1" "$3" || return 1
        out+="$sep\"$2\":$REPLY"
        sep=,
        shift 3
    done
    printf '{%s}' "$out"
}

json_array() {
    local REPLY type=${1:-} out="" sep=""
    shift || return 1
    while (($#)); do
        _json_value "$type" "$1" || return 1
        out+="$sep$REPLY"
        sep=,
        shift
    done
    printf '[%s]' "$out"
}
