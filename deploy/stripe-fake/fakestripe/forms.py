"""Stripe's form encoding: `application/x-www-form-urlencoded` with bracket nesting.

`metadata[invoice_id]=x` is a hash, `expand[]=a&expand[]=b` an array, `items[0][price]=p`
an array of hashes (serde_qs, which async-stripe uses, writes the indexed form). Every leaf is
a string, as on the wire: the resource code converts with `integer`, `boolean` and friends,
which raise the `invalid_request_error` Stripe answers for a bad value.
"""

import re
from urllib.parse import parse_qsl

from .errors import invalid_param, missing_param, unknown_param

# One key segment: `name`, then any number of `[part]` (empty part = append).
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
MAX_FIELDS = 5000


def parse(raw):
    """Parse a body or query string (bytes or str) into nested dicts and lists."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_param("Invalid request: the body is not valid UTF-8.", None)
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict",
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_param("Invalid request: could not decode the form (%s)." % exc, None)
    tree = {}
    for key, value in pairs:
        _insert(tree, _split_key(key), value, key)
    return _arrays(tree)


def _split_key(key):
    match = _KEY.match(key)
    if not match:
        raise invalid_param("Invalid parameter name: %r" % key, key)
    return [match.group(1)] + _PART.findall(match.group(2))


def _insert(tree, parts, value, key):
    node = tree
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if part == "":
            # `[]` appends; only meaningful at the end, as Stripe's own clients use it.
            if not last or not isinstance(node, list):
                raise invalid_param("Invalid array parameter: %s" % key, key)
            node.append(value)
            return
        if not isinstance(node, dict):
            raise invalid_param("Invalid hash parameter: %s" % key, key)
        if last:
            if isinstance(node.get(part), (dict, list)):
                raise invalid_param("Invalid hash parameter: %s" % key, key)
            node[part] = value  # a repeated scalar: the last one wins
            return
        next_is_append = parts[depth + 1] == ""
        child = node.get(part)
        if child is None:
            child = [] if next_is_append else {}
            node[part] = child
        elif isinstance(child, str) or isinstance(child, list) != next_is_append:
            raise invalid_param("Invalid hash parameter: %s" % key, key)
        node = child


def _arrays(node):
    """Turn `{"0": a, "1": b}` (indexed arrays) into lists, recursively.

    Only dicts whose keys are exactly 0..n-1 become lists; `as_dict` turns such a list back
    for hashes with numeric keys (e.g. `metadata[0]=x`), so nothing is lost.
    """
    if isinstance(node, list):
        return [_arrays(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _arrays(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        indices = sorted(int(key) for key in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


# --- typed access to parsed parameters -------------------------------------------------

def string(params, name, required=False, allow_empty=True):
    value = params.get(name)
    if value is None:
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid_param("Invalid string: %s must be a string." % name, name)
    if value == "" and not allow_empty:
        raise invalid_param("You passed an empty string for '%s'. We assume empty values are "
                            "an attempt to unset a parameter; however '%s' cannot be unset."
                            % (name, name), name, "parameter_invalid_empty")
    return value


def integer(params, name, required=False, minimum=None):
    value = string(params, name, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise invalid_param("Invalid integer: %s" % value, name, "parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid_param("This value must be greater than or equal to %d." % minimum,
                            name, "parameter_invalid_integer")
    return number


def boolean(params, name, default=False):
    value = string(params, name)
    if value is None or value == "":
        return default
    if value not in ("true", "false"):
        raise invalid_param("Invalid boolean: %s" % value, name)
    return value == "true"


def choice(params, name, allowed, required=False):
    value = string(params, name, required=required)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise invalid_param("Invalid %s: must be one of %s" % (name, ", ".join(allowed)), name)
    return value


def as_list(params, name):
    """An array parameter, accepting `a[]=`, `a[0]=` and a single `a=` value."""
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if all(key.isdigit() for key in value):
            return [value[key] for key in sorted(value, key=int)]
        raise invalid_param("Invalid array: %s" % name, name)
    return value


def as_dict(value, name):
    if isinstance(value, list):  # a hash whose keys happened to be 0..n-1
        return {str(i): item for i, item in enumerate(value)}
    if not isinstance(value, dict):
        raise invalid_param("Invalid hash: %s must be a hash." % name, name)
    return value


def metadata(params, current=None):
    """Apply a `metadata` parameter Stripe's way: merge, `key=` deletes, `metadata=` clears."""
    result = dict(current or {})
    if "metadata" not in params:
        return result
    value = params["metadata"]
    if value == "":
        return {}
    for key, item in as_dict(value, "metadata").items():
        if not isinstance(item, str):
            raise invalid_param("Invalid metadata: values must be strings.", "metadata[%s]" % key)
        if len(key) > 40:
            raise invalid_param("Metadata keys can have up to 40 characters.", "metadata")
        if len(item) > 500:
            raise invalid_param("Metadata values can have up to 500 characters.",
                                "metadata[%s]" % key)
        if item == "":
            result.pop(key, None)
        else:
            result[key] = item
    if len(result) > 50:
        raise invalid_param("Metadata can have up to 50 keys.", "metadata")
    return result


def reject_unknown(params, allowed):
    """Stripe refuses parameters an endpoint does not take; so does the fake."""
    for name in params:
        if name not in allowed:
            raise unknown_param(name)
