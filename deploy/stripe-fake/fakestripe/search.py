"""A subset of Stripe's Search Query Language, enough for `/v1/payment_intents/search`.

Supported: clauses `field:value` (exact, case-insensitive), `field~value` (substring),
`field>n`, `<`, `>=`, `<=` on numbers, `metadata['key']:'value'`, `field:null`, a leading `-`
for negation, and clauses joined by spaces or `AND`, or all by `OR` (Stripe does not allow
mixing the two). Unlike Stripe, results are not delayed: a new object is found at once.
"""

import re

from .errors import invalid_param

_CLAUSE = re.compile(r"""
    (?P<neg>-?)
    (?P<field>metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_]+)
    (?P<op>:|~|>=|<=|>|<)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+|null)
""", re.VERBOSE)
_JOIN = re.compile(r"(AND|OR)(?=\s)", re.IGNORECASE)


def _error(message):
    return invalid_param(message, "query")


def _unquote(text):
    if text[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _tokens(query):
    position, clauses, joins = 0, [], set()
    while position < len(query):
        if query[position].isspace():
            position += 1
            continue
        join = _JOIN.match(query, position)
        if join and clauses:
            joins.add(join.group(1).upper())
            position = join.end()
            continue
        clause = _CLAUSE.match(query, position)
        if not clause:
            raise _error("We could not parse your search query at position %d: %r"
                         % (position, query[position:position + 20]))
        clauses.append(clause)
        position = clause.end()
    if not clauses:
        raise _error("The search query must not be empty.")
    if len(joins) > 1:
        raise _error("Search queries cannot mix AND and OR.")
    if len(clauses) > 10:
        raise _error("Search queries can have at most 10 clauses.")
    return clauses, ("OR" in joins)


def compile_query(query, fields, resource):
    """A predicate over objects; `fields` maps names to "string" or "number" (plus metadata)."""
    clauses, any_of = _tokens(query)
    tests = [_clause_test(clause, fields, resource) for clause in clauses]
    combine = any if any_of else all
    return lambda obj: combine(test(obj) for test in tests)


def _clause_test(clause, fields, resource):
    field, op = clause.group("field"), clause.group("op")
    raw = clause.group("value")
    value = None if raw == "null" else _unquote(raw)
    if field.startswith("metadata["):
        key, kind = _unquote(field[len("metadata["):-1]), "string"
        read = lambda obj: (obj.get("metadata") or {}).get(key)
    elif field in fields:
        kind = fields[field]
        read = lambda obj: obj.get(field)
    else:
        raise _error("Field `%s` is an unsupported search field for resource `%s`."
                     % (field, resource))
    if op in (">", "<", ">=", "<="):
        if kind != "number" or value is None or not value.lstrip("-").isdigit():
            raise _error("The operator `%s` needs a numeric field and value." % op)
    if op == "~" and (value is None or len(value) < 3):
        raise _error("Substring search (`~`) needs at least 3 characters.")
    test = _comparison(op, value, kind, read)
    if clause.group("neg"):
        return lambda obj: not test(obj)
    return test


def _comparison(op, value, kind, read):
    if value is None:
        return lambda obj: read(obj) in (None, "")
    if op == ":":
        if kind == "number":
            return lambda obj: read(obj) is not None and str(read(obj)) == value
        return lambda obj: isinstance(read(obj), str) and read(obj).lower() == value.lower()
    if op == "~":
        return lambda obj: isinstance(read(obj), str) and value.lower() in read(obj).lower()
    bound = int(value)
    compare = {">": int.__gt__, "<": int.__lt__, ">=": int.__ge__, "<=": int.__le__}[op]
    return lambda obj: isinstance(read(obj), int) and compare(read(obj), bound)
