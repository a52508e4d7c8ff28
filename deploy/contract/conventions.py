"""Holds Berth's two OpenAPI documents to the conventions the APIs promise integrators.

Usage: conventions.py COMMAND_DOCUMENT QUERY_DOCUMENT

Prints one `PASS <check>` or `FAIL <check>: <what is wrong>` line per check and exits 1 when
one failed. What the documents say is checked here; what the servers answer is checked by
journey.py and by schemathesis.
"""

import json
import re
import sys

COMMAND_IDS = {
    "logout",
    "create_staging",
    "promote_staging",
    "delete_staging",
    "add_sftp_user",
    "remove_sftp_user",
    "configure_repository",
    "deploy_site",
    "rollback_deployment",
    "git_push_webhook",
    "register_tenant",
    "login",
    "enrol_two_factor",
    "confirm_two_factor",
    "disable_two_factor",
    "require_two_factor",
    "accept_invitation",
    "create_site",
    "update_site",
    "delete_site",
    "suspend_site",
    "resume_site",
    "retry_site",
    "register_node",
    "bootstrap_node",
    "drain_node",
    "decommission_node",
    "issue_token",
    "revoke_token",
    "change_member_role",
    "remove_member",
    "invite_member",
    "revoke_invitation",
    "add_invoice_line",
    "cancel_subscription",
    "change_plan_limits",
    "change_plan_overage",
    "change_plan_price",
    "choose_series",
    "create_coupon",
    "create_credit_note",
    "create_invoice",
    "create_plan",
    "create_subscription",
    "discard_invoice",
    "downgrade_subscription",
    "issue_invoice",
    "open_series",
    "record_exchange_rate",
    "set_cost_model",
    "record_payment",
    "pay_invoice",
    "save_payment_method",
    "remove_payment_method",
    "stripe_webhook",
    "take_backup",
    "restore_backup",
    "restore_site_to_point_in_time",
    "evacuate_node",
    "retire_node",
    "recover_site",
    "erase_person",
    "record_usage",
    "remove_invoice_line",
    "retire_plan",
    "set_billing_profile",
    "set_invoice_notes",
    "set_seller",
    "upgrade_subscription",
    "withdraw_coupon",
    "withdraw_subscription_cancellation",
    "create_zone",
    "delete_zone",
    "set_zone_records",
    "delete_zone_records",
    "add_domain",
    "remove_domain",
    "issue_certificate",
}
QUERY_IDS = {
    "get_deployment_log",
    "list_sftp_users",
    "get_site_repository",
    "list_site_deployments",
    "get_deployment",
    "list_site_backups",
    "get_backup",
    "get_backup_storage",
    "list_restores",
    "get_restore",
    "get_evacuation",
    "export_my_data",
    "list_backup_failures",
    "list_payment_methods",
    "list_payments",
    "list_invoice_payments",
    "get_cash_report",
    "get_costs",
    "get_capacity",
    "get_cost_model",
    "list_dunning",
    "list_webhooks",
    "list_sites",
    "get_site",
    "list_nodes",
    "get_node",
    "get_tenant",
    "list_members",
    "list_tokens",
    "list_invitations",
    "list_audit_entries",
    "list_security_log",
    "stream_events",
    "list_timers",
    "export_events",
    "list_audit_keys",
    "get_billing_profile",
    "get_coupon",
    "get_current_subscription",
    "get_exchange_rates",
    "get_invoice",
    "get_invoice_efactura",
    "get_invoice_pdf",
    "get_plan",
    "get_revenue",
    "get_seller",
    "get_series",
    "get_subscription",
    "get_subscription_usage",
    "get_vat_report",
    "list_all_invoices",
    "list_coupons",
    "list_invoices",
    "list_plans",
    "list_zones",
    "get_zone",
    "list_certificates",
    "get_certificate",
    "list_expiring_certificates",
    "list_failing_renewals",
    "list_site_domains",
    "get_site_domain",
}
OPERATIONAL_IDS = {"healthz", "readyz", "metrics", "openapi"}

# The routes anyone may call, by (method, path): these carry `security: []`.
PUBLIC = {
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/invitations/accept"),
    ("post", "/v1/auth/two-factor/enrol"),
    ("post", "/v1/auth/two-factor/confirm"),
    ("post", "/v1/auth/two-factor/disable"),
    # Stripe calls it; the signature is its authentication.
    ("post", "/v1/webhooks/stripe"),
    # GitHub and GitLab call it; the signature is its authentication.
    ("post", "/v1/hooks/git/{site_id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
}
# Commands that append nothing, so an Idempotency-Key means nothing to them.
NOT_COMMANDS = {("post", "/v1/auth/login")}
# Single resources read by GET: they answer an ETag and honour If-None-Match.
DETAILS = {("get", "/v1/tenant")}

PROBLEM_FIELDS = {"type", "title", "status", "detail", "field"}
PROBLEM_REQUIRED = {"type", "title", "status", "detail"}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


class Document:
    def __init__(self, api: str, path: str):
        self.api = api
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)

    def resolve(self, node):
        """Follows local `$ref`s until an object that is not one."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                raise ValueError(f"cannot resolve {ref}")
            seen.add(ref)
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operations(self):
        """(method, path, operation, parameters) for every operation, path-level parameters
        merged under the operation's own."""
        for path, item in (self.doc.get("paths") or {}).items():
            item = self.resolve(item)
            shared = [self.resolve(p) for p in item.get("parameters", [])]
            for method in METHODS:
                if method not in item:
                    continue
                op = item[method]
                own = [self.resolve(p) for p in op.get("parameters", [])]
                names = {(p.get("in"), p.get("name", "").lower()) for p in own}
                merged = own + [p for p in shared if (p.get("in"), p.get("name", "").lower()) not in names]
                yield method, path, op, merged

    def responses(self, op):
        for status, response in (op.get("responses") or {}).items():
            yield str(status), self.resolve(response)

    def header_names(self, response) -> set:
        return {name.lower() for name in (response.get("headers") or {})}


def where(method: str, path: str, op) -> str:
    return f"{method.upper()} {path} ({op.get('operationId', 'no operationId')})"


def listing(items, limit: int = 8) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, name: str, problems):
        problems = list(problems)
        if problems:
            self.failed += 1
            print(f"FAIL {name}: {listing(problems, 12)}")
        else:
            print(f"PASS {name}")


def header_param(params, name: str) -> bool:
    return any(p.get("in") == "header" and p.get("name", "").lower() == name.lower() for p in params)


def operation_ids(d: Document, expected: set):
    seen = {}
    for method, path, op, _ in d.operations():
        seen.setdefault(op.get("operationId"), []).append(f"{method.upper()} {path}")
    for op_id, places in sorted(seen.items(), key=lambda kv: str(kv[0])):
        if op_id is None:
            yield f"no operationId on {listing(places)}"
        elif len(places) > 1:
            yield f"`{op_id}` is used {len(places)} times ({', '.join(places)})"
    missing = sorted(expected - set(seen))
    if missing:
        yield "missing " + ", ".join(missing)
    unexpected = sorted(str(i) for i in set(seen) - expected - {None})
    if unexpected:
        yield "not in the target list: " + ", ".join(f"{i} ({seen[i][0]})" for i in unexpected)


def summaries(d: Document):
    for method, path, op, _ in d.operations():
        summary = (op.get("summary") or "").strip()
        if not summary:
            yield f"{where(method, path, op)} has none"
        elif "\n" in summary:
            yield f"{where(method, path, op)} spans lines (the first paragraph became the summary)"


def servers(d: Document):
    listed = d.doc.get("servers") or []
    if not listed:
        yield "no `servers`"
    for server in listed:
        if not server.get("url"):
            yield "a server without a url"


def security(d: Document):
    schemes = (d.doc.get("components") or {}).get("securitySchemes") or {}
    bearer = schemes.get("bearer")
    if not bearer or bearer.get("type") != "http" or str(bearer.get("scheme", "")).lower() != "bearer":
        yield "components.securitySchemes.bearer is not {type: http, scheme: bearer}"
    for method, path, op, _ in d.operations():
        declared = op.get("security", d.doc.get("security"))
        if (method, path) in PUBLIC:
            if declared != []:
                yield f"{where(method, path, op)} is public but says security: {json.dumps(declared)}"
        elif declared != [{"bearer": []}]:
            yield f"{where(method, path, op)} says security: {json.dumps(declared)}, not [{{bearer: []}}]"


def problem_schema(d: Document):
    schemas = (d.doc.get("components") or {}).get("schemas") or {}
    problem = schemas.get("Problem")
    if problem is None:
        yield "no schema named `Problem`"
        return
    problem = d.resolve(problem)
    properties = set((problem.get("properties") or {}).keys())
    if properties != PROBLEM_FIELDS:
        yield f"Problem has the properties {sorted(properties)}, not {sorted(PROBLEM_FIELDS)}"
    required = set(problem.get("required") or [])
    if required != PROBLEM_REQUIRED:
        yield f"Problem requires {sorted(required)}, not {sorted(PROBLEM_REQUIRED)}"


def is_problem(d: Document, schema) -> bool:
    """The Problem schema, or one that extends it with allOf (a problem with extension members),
    named directly or through a component of its own."""
    ref = "#/components/schemas/Problem"
    if schema.get("$ref") == ref or any(part.get("$ref") == ref for part in schema.get("allOf") or []):
        return True
    target = schema.get("$ref")
    return bool(target) and target != ref and is_problem(d, d.resolve(schema))


def errors_are_problems(d: Document):
    for method, path, op, _ in d.operations():
        for status, response in d.responses(op):
            if not re.fullmatch(r"[45]\d\d|[45]XX", status):
                continue
            content = response.get("content") or {}
            types = sorted(content)
            if types != ["application/problem+json"]:
                yield f"{where(method, path, op)} {status} is {types or 'without a body'}"
            else:
                schema = content["application/problem+json"].get("schema") or {}
                if not is_problem(d, schema):
                    named = schema.get("$ref", "an inline schema").rsplit("/", 1)[-1]
                    yield f"{where(method, path, op)} {status} is {named}, neither Problem nor allOf Problem"


def typed_answers(d: Document):
    """A JSON answer with the empty schema gives a client nothing to parse it into. (The
    OpenAPI document's own shape is the OpenAPI specification's.)"""
    for method, path, op, _ in d.operations():
        if (method, path) == ("get", "/openapi.json"):
            continue
        for status, response in d.responses(op):
            for media, content in (response.get("content") or {}).items():
                if media.endswith("json") and not d.resolve(content.get("schema") or {}):
                    yield f"{where(method, path, op)} {status} {media} has the empty schema"


def accepted_answers(d: Document):
    """Every 202 is {id, version} with a Location; registration is 201 with a Location."""
    for method, path, op, _ in d.operations():
        for status, response in d.responses(op):
            if status not in ("201", "202"):
                continue
            if "location" not in d.header_names(response):
                yield f"{where(method, path, op)} {status} documents no Location header"
            if status == "202":
                schema = d.resolve(
                    ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
                )
                missing = {"id", "version"} - set(schema.get("required") or [])
                if missing:
                    yield f"{where(method, path, op)} 202 does not require {sorted(missing)}"


def registration(d: Document):
    found = [(m, p, op) for m, p, op, _ in d.operations() if (m, p) == ("post", "/v1/auth/register")]
    if not found:
        yield "no POST /v1/auth/register"
        return
    method, path, op = found[0]
    body = d.resolve(
        ((op.get("requestBody") or {}).get("content") or {}).get("application/json", {}).get("schema") or {}
    )
    fields = set((body.get("properties") or {}).keys())
    if fields != {"name", "email", "password"}:
        yield f"the request body has {sorted(fields)}, not ['email', 'name', 'password']"
    responses = dict(d.responses(op))
    created = responses.get("201")
    if created is None:
        yield f"no 201 answer (answers: {sorted(responses)})"
        return
    schema = ((created.get("content") or {}).get("application/json") or {}).get("schema") or {}
    named = schema.get("$ref", "an inline schema").rsplit("/", 1)[-1]
    required = set(d.resolve(schema).get("required") or [])
    if not {"tenant_id", "user_id", "token"} <= required:
        yield f"the 201 answer is {named}, requiring {sorted(required)}, not tenant_id, user_id and token"


def conditional_reads(d: Document):
    for method, path, op, params in d.operations():
        if method != "get" or not (path.endswith("}") or (method, path) in DETAILS):
            continue
        responses = dict(d.responses(op))
        ok = responses.get("200")
        if ok is None or "etag" not in d.header_names(ok):
            yield f"{where(method, path, op)} 200 documents no ETag"
        if not header_param(params, "If-None-Match"):
            yield f"{where(method, path, op)} takes no If-None-Match"
        if "304" not in responses:
            yield f"{where(method, path, op)} documents no 304"


def conditional_changes(d: Document):
    for method, path, op, params in d.operations():
        changes = method in ("patch", "delete") or (
            method == "post" and re.search(r"/\{[^}]+\}/[^/{}]+$", path)
        )
        if not changes:
            continue
        if not header_param(params, "If-Match"):
            yield f"{where(method, path, op)} takes no If-Match"
        if "412" not in dict(d.responses(op)):
            yield f"{where(method, path, op)} documents no 412"


def idempotency_keys(d: Document):
    for method, path, op, params in d.operations():
        if method in ("post", "put", "patch", "delete") and (method, path) not in NOT_COMMANDS:
            if not header_param(params, "Idempotency-Key"):
                yield f"{where(method, path, op)} takes no Idempotency-Key"


def rate_limit_headers(d: Document):
    """Authenticated answers carry RateLimit-Policy and RateLimit (not a 401, which has no
    bucket yet, nor a 5xx). Reported by status, since answers are mostly shared."""
    lacking: dict[tuple, list] = {}
    for method, path, op, _ in d.operations():
        if (method, path) in PUBLIC:
            continue
        for status, response in d.responses(op):
            if status == "401" or status.startswith("5"):
                continue
            missing = {"ratelimit-policy", "ratelimit"} - d.header_names(response)
            if missing:
                lacking.setdefault((status, ", ".join(sorted(missing))), []).append(
                    op.get("operationId") or path
                )
    for (status, missing), ops in sorted(lacking.items()):
        yield f"{status} lacks {missing} on {len(ops)} operation(s) ({listing(ops, 3)})"


def request_ids(d: Document):
    for method, path, op, _ in d.operations():
        for status, response in d.responses(op):
            if "x-request-id" not in d.header_names(response):
                yield f"{where(method, path, op)} {status} documents no X-Request-Id"


def retry_after(d: Document):
    for method, path, op, _ in d.operations():
        for status, response in d.responses(op):
            if status in ("429", "503") and "retry-after" not in d.header_names(response):
                yield f"{where(method, path, op)} {status} documents no Retry-After"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    c = Checker()
    documents = [Document("command", sys.argv[1]), Document("query", sys.argv[2])]
    for d in documents:
        expected = (COMMAND_IDS if d.api == "command" else QUERY_IDS) | OPERATIONAL_IDS
        c.check(f"{d.api}: operationIds are the target's, each once", operation_ids(d, expected))
        c.check(f"{d.api}: every operation has a one-line summary", summaries(d))
        c.check(f"{d.api}: the document lists servers", servers(d))
        c.check(f"{d.api}: public operations say security: [], the rest bearer", security(d))
        c.check(
            f"{d.api}: the error schema is `Problem` (type, title, status, detail, field)", problem_schema(d)
        )
        c.check(
            f"{d.api}: every 4xx and 5xx is application/problem+json with Problem", errors_are_problems(d)
        )
        c.check(f"{d.api}: every JSON answer has a schema", typed_answers(d))
        c.check(
            f"{d.api}: every 201 and 202 has a Location; every 202 is {{id, version}}", accepted_answers(d)
        )
        c.check(
            f"{d.api}: authenticated answers document RateLimit-Policy and RateLimit", rate_limit_headers(d)
        )
        c.check(f"{d.api}: every answer documents X-Request-Id", request_ids(d))
        c.check(f"{d.api}: every 429 and 503 documents Retry-After", retry_after(d))
    command, query = documents
    c.check(
        "command: register takes {name, email, password} and answers 201 {tenant_id, user_id, token}",
        registration(command),
    )
    c.check("command: every command takes an Idempotency-Key header", idempotency_keys(command))
    c.check(
        "command: every change of an existing resource takes If-Match and documents 412",
        conditional_changes(command),
    )
    c.check("query: every detail GET documents ETag, If-None-Match and 304", conditional_reads(query))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
