"""The README's journey, walked through the Python clients that openapi-python-client generated
from Berth's two documents, and through nothing else: no request here is written by hand.

Usage: journey.py --command URL --query URL --command-doc FILE --query-doc FILE

The clients are the installed packages `berth_command_client` and `berth_query_client`.
Operations are found by the operationIds the API promises. Where a document still names an
operation otherwise, or a model lacks a field the contract promises, the step says so and
fails, but goes on with what the document offers, so that one run shows every gap.

Prints one `PASS <step>` or `FAIL <step>: <why>` line per step (`SKIP` when an earlier step
left it nothing to work with) and exits 1 when one failed.
"""

import argparse
import secrets
import sys
import time
import traceback
import typing
import uuid
from urllib.parse import parse_qs, urlsplit

from clients import Answer, Api, Session, StepFailed, excerpt

# Where the target contract puts each operation the journey uses: (api, method, path).
TARGET = {
    "register_tenant": ("command", "post", "/v1/auth/register"),
    "create_site": ("command", "post", "/v1/sites"),
    "update_site": ("command", "patch", "/v1/sites/{id}"),
    "issue_token": ("command", "post", "/v1/tokens"),
    "invite_member": ("command", "post", "/v1/invitations"),
    "accept_invitation": ("command", "post", "/v1/invitations/accept"),
    "list_sites": ("query", "get", "/v1/sites"),
    "get_site": ("query", "get", "/v1/sites/{id}"),
    "get_tenant": ("query", "get", "/v1/tenant"),
    "list_members": ("query", "get", "/v1/members"),
    "list_audit_entries": ("query", "get", "/v1/audit"),
}
PRECONDITION_FAILED = "https://berth.dev/problems/precondition-failed"
PASSWORD = "a long contract password"


class Skipped(Exception):
    """An earlier step left this one nothing to work with."""


class Journey(Session):
    def __init__(self, command: Api, query: Api):
        super().__init__({"command": command, "query": query}, TARGET)
        self.failed = 0
        self.state: dict[str, typing.Any] = {}

    # -- the steps' frame ---------------------------------------------------------------

    def step(self, name: str, run):
        self.notes = []
        try:
            run()
        except Skipped as skip:
            print(f"SKIP {name}: {skip}")
            return
        except StepFailed as failure:
            self.notes.append(str(failure))
        except Exception as error:  # a bug in the client or here: show where
            frame = traceback.extract_tb(error.__traceback__)[-1]
            self.notes.append(f"{type(error).__name__}: {error} (at {frame.filename}:{frame.lineno})")
        if self.notes:
            self.failed += 1
            print(f"FAIL {name}: " + "; ".join(self.notes))
        else:
            print(f"PASS {name}")

    def need(self, *keys: str):
        missing = [k for k in keys if k not in self.state]
        if missing:
            raise Skipped("needs " + ", ".join(missing) + " from an earlier step")
        return [self.state[k] for k in keys]

    def location(self, answer: Answer, path: str, version: typing.Optional[int] = None):
        """The Location header points at the query API's `path` (with `?min_version=`)."""
        value = answer.headers.get("location")
        if not value:
            self.note(f"{answer.op_id}'s {answer.status} answer has no Location")
            return
        parts = urlsplit(value)
        query_base = urlsplit(self.apis["query"].base_url)
        if parts.netloc and (parts.scheme, parts.netloc) != (query_base.scheme, query_base.netloc):
            self.note(
                f"{answer.op_id}'s Location {value} is not on the query API ({self.apis['query'].base_url})"
            )
        elif not parts.netloc:
            self.note(
                f"{answer.op_id}'s Location {value} is relative, so it resolves against the command API"
            )
        if parts.path != path:
            self.note(f"{answer.op_id}'s Location {value} does not point at {path}")
        if version is not None and parse_qs(parts.query).get("min_version") != [str(version)]:
            self.note(f"{answer.op_id}'s Location {value} does not ask for ?min_version={version}")

    # -- the journey ----------------------------------------------------------------------

    def register(self):
        email = f"owner-{secrets.token_hex(4)}@contract.berth.test"
        body = {"name": "Contract Journey", "email": email, "password": PASSWORD}
        try:
            answer = self.call("register_tenant", body=body, key=str(uuid.uuid4()))
        except StepFailed as gap:
            # Refused by the client's model before anything was sent: say so, and register with
            # the field the document asks for instead, so that the rest of the journey runs.
            if "organization" not in str(gap):
                raise
            self.note(f"{gap} (went on with `organization`)")
            body = {"organization": body.pop("name"), **body}
            answer = self.call("register_tenant", body=body, key=str(uuid.uuid4()))
        data = self.expect(answer, 201)
        missing = {"tenant_id", "user_id", "token"} - set(data)
        if missing:
            raise StepFailed(f"the answer lacks {sorted(missing)}: {answer.describe()}")
        if not answer.headers.get("location"):
            self.note("the 201 answer has no Location")
        self.state.update(owner=data["token"], tenant_id=data["tenant_id"], email=email)

    def create_sites(self):
        (owner,) = self.need("owner")
        run = secrets.token_hex(3)
        sites = []
        for i in range(3):
            key = str(uuid.uuid4())
            body = {"domain": f"site{i}-{run}.contract.berth.test", "type": "wordpress", "php_version": "8.3"}
            answer = self.call("create_site", owner, body=body, key=key)
            data = self.expect(answer, 202)
            if not isinstance(data.get("id"), str) or not isinstance(data.get("version"), int):
                raise StepFailed(f"the 202 answer is not {{id, version}}: {answer.describe()}")
            self.location(answer, f"/v1/sites/{data['id']}", data["version"])
            sites.append({"id": data["id"], "version": data["version"], "key": key, "body": body})
        self.state["sites"] = sites

    def idempotent_retry(self):
        (owner, sites) = self.need("owner", "sites")
        first = sites[0]
        answer = self.call("create_site", owner, body=first["body"], params={"Idempotency-Key": first["key"]})
        data = self.expect(answer, 202)
        if (data.get("id"), data.get("version")) != (first["id"], first["version"]):
            raise StepFailed(
                f"the retry answered {data}, the first answer was {first['id']} at {first['version']}"
            )

    def read_your_write(self):
        (owner, sites) = self.need("owner", "sites")
        for site in sites:
            answer = self.call("get_site", owner, params={"id": site["id"], "min_version": site["version"]})
            data = self.expect(answer, 200)
            view = data.get("site", data)
            if view.get("id") != site["id"] or view.get("version", -1) < site["version"]:
                raise StepFailed(
                    f"get_site with min_version={site['version']} answered {excerpt(answer.content)}"
                )
            if view.get("status") != "requested":
                self.note(f"site {site['id']} is {view.get('status')}, not requested (no node takes part)")

    def etag(self):
        (owner, sites) = self.need("owner", "sites")
        site = sites[1]
        answer = self.call("get_site", owner, params={"id": site["id"], "min_version": site["version"]})
        self.expect(answer, 200)
        tag = answer.headers.get("etag")
        if tag != f'"{site["version"]}"':
            raise StepFailed(f'get_site\'s ETag is {tag!r}, not the quoted version "{site["version"]}"')
        again = self.call("get_site", owner, params={"id": site["id"], "If-None-Match": tag})
        if again.status != 304:
            raise StepFailed(f"If-None-Match: {tag} did not answer 304; {again.describe()}")
        if again.content:
            self.note("the 304 answer has a body")

    def paging(self):
        (owner, sites) = self.need("owner", "sites")
        ours = {s["id"] for s in sites}
        seen, pages, cursor = [], 0, None
        while True:
            params = {"limit": 2, "type": "wordpress"}
            if cursor:
                params["cursor"] = cursor
            data = self.expect(self.call("list_sites", owner, params=params), 200)
            items = data.get("items") or []
            pages += 1
            if len(items) > 2:
                raise StepFailed(f"a page with limit=2 held {len(items)} sites")
            seen += [item.get("id") for item in items]
            cursor = data.get("next_cursor")
            if not cursor or pages > 10:
                break
        if sorted(seen) != sorted(ours):
            raise StepFailed(
                f"paging with limit=2&type=wordpress gave {seen}, not the three sites {sorted(ours)}"
            )
        if pages < 2:
            raise StepFailed(f"three sites with limit=2 came in {pages} page(s)")
        other = self.expect(self.call("list_sites", owner, params={"type": "static"}), 200)
        wrong = ours & {item.get("id") for item in other.get("items") or []}
        if wrong:
            raise StepFailed(f"type=static listed the wordpress sites {sorted(wrong)}")

    def api_token(self):
        (owner, sites) = self.need("owner", "sites")
        answer = self.call(
            "issue_token", owner, body={"name": "contract journey", "role": "member"}, key=str(uuid.uuid4())
        )
        data = self.expect(answer, 202)
        secret = data.get("token")
        if not secret:
            raise StepFailed(f"the answer carries no token: {answer.describe()}")
        listed = self.expect(self.call("list_sites", secret, params={"limit": 10}), 200)
        if not {s["id"] for s in sites} <= {item.get("id") for item in listed.get("items") or []}:
            raise StepFailed("the issued token does not see the tenant's sites")

    def invitation(self):
        (owner,) = self.need("owner")
        email = f"member-{secrets.token_hex(4)}@contract.berth.test"
        invited = self.expect(
            self.call("invite_member", owner, body={"email": email, "role": "member"}, key=str(uuid.uuid4())),
            202,
        )
        if not invited.get("token"):
            raise StepFailed(f"the invitation answer carries no token: {invited}")
        accepted = self.call(
            "accept_invitation",
            body={"token": invited["token"], "email": email, "password": PASSWORD},
            key=str(uuid.uuid4()),
        )
        if accepted.status not in (200, 201):
            raise StepFailed(f"accepting failed; {accepted.describe()}")
        joined = self.expect(accepted, accepted.status)
        member_token = joined.get("token")
        if not member_token:
            raise StepFailed(f"the accept answer carries no token: {accepted.describe()}")
        params = {"min_version": joined["version"]} if isinstance(joined.get("version"), int) else {}
        self.expect(self.call("get_tenant", member_token, params=params), 200)
        members = self.expect(self.call("list_members", owner, params={"limit": 50}), 200)
        roles = {m.get("email"): m.get("role") for m in members.get("items") or []}
        if roles.get(email) != "member":
            raise StepFailed(f"list_members shows {roles}, without {email} as a member")

    def audit(self):
        (owner, sites) = self.need("owner", "sites")
        wanted = {s["id"] for s in sites}
        deadline = time.monotonic() + 10
        while True:
            targets, cursor, pages = set(), None, 0
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                data = self.expect(self.call("list_audit_entries", owner, params=params), 200)
                for entry in data.get("items") or []:
                    target = entry.get("target") or {}
                    targets.add(target.get("id"))
                cursor, pages = data.get("next_cursor"), pages + 1
                if not cursor or pages > 20:
                    break
            # The audit trail is a view: it may trail the writes by a moment.
            if wanted <= targets or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if not wanted <= targets:
            raise StepFailed(f"the audit trail does not show the sites {sorted(wanted - targets)}")

    def stale_if_match(self):
        (owner, sites) = self.need("owner", "sites")
        site = sites[2]
        current = f'"{site["version"]}"'
        first = self.call(
            "update_site", owner, body={"label": "Contract"}, params={"id": site["id"], "If-Match": current}
        )
        changed = self.expect(first, 202)
        newer = changed.get("version")
        if not isinstance(newer, int) or newer <= site["version"]:
            raise StepFailed(f"a PATCH with the current If-Match answered {first.describe()}")
        stale = self.call(
            "update_site", owner, body={"label": "Stale"}, params={"id": site["id"], "If-Match": current}
        )
        if stale.status != 412:
            raise StepFailed(
                f"a PATCH with the stale If-Match {current} was not refused with 412; {stale.describe()}"
            )
        if not stale.content_type.startswith("application/problem+json"):
            self.note(f"the 412 answer is {stale.content_type}, not application/problem+json")
        problem = self.expect(stale, 412)
        if problem.get("type") != PRECONDITION_FAILED:
            self.note(f"the 412 problem type is {problem.get('type')!r}, not {PRECONDITION_FAILED}")
        after = self.expect(
            self.call("get_site", owner, params={"id": site["id"], "min_version": newer}), 200
        )
        label = after.get("site", after).get("label")
        if label != "Contract":
            raise StepFailed(f"after the refused PATCH the label is {label!r}, not 'Contract'")

    def not_found(self):
        (owner,) = self.need("owner")
        answer = self.call("get_site", owner, params={"id": str(uuid.uuid4())})
        if answer.status != 404:
            raise StepFailed(f"an unknown site did not answer 404; {answer.describe()}")
        if not answer.content_type.startswith("application/problem+json"):
            self.note(f"the 404 answer is {answer.content_type}, not application/problem+json")
        problem = self.expect(answer, 404)
        if problem.get("status") != 404 or not problem.get("type"):
            self.note(f"the 404 problem is {problem}")

    def names(self):
        if self.gaps["names"]:
            raise StepFailed(
                "the clients call these by other names (the documents' operationIds): "
                + ", ".join(self.gaps["names"])
            )

    def idempotency(self):
        if self.gaps["idempotency"]:
            raise StepFailed(
                "no Idempotency-Key parameter in the client for " + ", ".join(self.gaps["idempotency"])
            )

    def request_ids(self):
        missing = sorted({f"{a.op_id} {a.status}" for a in self.answers if not a.headers.get("x-request-id")})
        if missing:
            raise StepFailed("no X-Request-Id on " + ", ".join(missing))

    def rate_limits(self):
        bare = sorted(
            {
                f"{a.op_id} {a.status}"
                for a in self.answers
                if a.authenticated
                and a.status != 401
                and not (a.headers.get("ratelimit-policy") and a.headers.get("ratelimit"))
            }
        )
        if bare:
            raise StepFailed("no RateLimit-Policy and RateLimit on " + ", ".join(bare))

    def run(self) -> int:
        self.step(
            "journey: register a tenant (register_tenant: 201 {tenant_id, user_id, token}, Location)",
            self.register,
        )
        self.step(
            "journey: create three sites (create_site: 202 {id, version}, Location to the query API)",
            self.create_sites,
        )
        self.step(
            "journey: a create_site repeated with its Idempotency-Key answers the first answer",
            self.idempotent_retry,
        )
        self.step(
            "journey: read each site with min_version from its create answer (get_site)", self.read_your_write
        )
        self.step("journey: get_site answers the version as ETag, and If-None-Match with it 304", self.etag)
        self.step(
            "journey: page through the sites with limit=2 and type=wordpress, following next_cursor",
            self.paging,
        )
        self.step("journey: issue an API token (issue_token) and read with it", self.api_token)
        self.step(
            "journey: invite a member (invite_member), accept (accept_invitation), list_members shows them",
            self.invitation,
        )
        self.step("journey: the audit trail shows the sites (list_audit_entries)", self.audit)
        self.step(
            "journey: a PATCH /v1/sites/{id} with a stale If-Match is refused with 412 precondition-failed",
            self.stale_if_match,
        )
        self.step("journey: an unknown site answers 404 application/problem+json", self.not_found)
        self.step("journey: the clients have each operation under its promised operationId", self.names)
        self.step("journey: the clients send an Idempotency-Key with each command", self.idempotency)
        self.step("journey: every answer carries X-Request-Id", self.request_ids)
        self.step(
            "journey: every authenticated answer carries RateLimit-Policy and RateLimit", self.rate_limits
        )
        return 1 if self.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", required=True, help="the command API's base URL")
    parser.add_argument("--query", required=True, help="the query API's base URL")
    parser.add_argument("--command-doc", required=True, help="the command API's OpenAPI document")
    parser.add_argument("--query-doc", required=True, help="the query API's OpenAPI document")
    args = parser.parse_args()
    command = Api("command", args.command, args.command_doc)
    query = Api("query", args.query, args.query_doc)
    return Journey(command, query).run()


if __name__ == "__main__":
    sys.exit(main())
