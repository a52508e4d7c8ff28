"""Calls through the Python clients that openapi-python-client generated from Berth's two
documents (the installed packages `berth_command_client` and `berth_query_client`), for
journey.py: operations found by operationId, bodies built by the clients' own models from wire
JSON, parameters passed by their wire names, and every answer kept with its headers.

Where a client lacks what the contract promises (an operationId, a header parameter, a model
that reads the answer), the gap is recorded rather than papered over with a hand-written
request.
"""

import enum
import importlib
import inspect
import json
import pkgutil
import re
import typing


class StepFailed(Exception):
    """The step cannot go on."""


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def excerpt(content: bytes, limit: int = 300) -> str:
    text = content.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


class Answer:
    """What one call got: the status, the headers, and the body as the generated model read
    it (`parsed`, None when the status is not in the document) and as wire JSON (`data`)."""

    def __init__(self, op_id: str, http, parsed, authenticated: bool):
        self.op_id = op_id
        self.status = http.status_code
        self.headers = http.headers
        self.content = http.content
        self.content_type = http.headers.get("content-type", "")
        self.parsed = parsed
        self.unreadable = False
        self.authenticated = authenticated
        try:
            self.data = json.loads(http.content) if http.content else None
        except ValueError:
            self.data = None

    def describe(self) -> str:
        return f"{self.op_id} answered {self.status} {self.content_type}: {excerpt(self.content)}"


class Api:
    """One generated client package and the document it was generated from."""

    def __init__(self, name: str, base_url: str, document: str):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.package = f"berth_{name}_client"
        self.root = importlib.import_module(self.package)
        with open(document, encoding="utf-8") as f:
            self.doc = json.load(f)
        api = importlib.import_module(f"{self.package}.api")
        # Generated modules by name; a name that is a Python keyword gets a trailing `_`.
        self.modules: dict[str, list[str]] = {}
        for info in pkgutil.walk_packages(api.__path__, prefix=f"{api.__name__}."):
            if not info.ispkg:
                self.modules.setdefault(info.name.rsplit(".", 1)[1].rstrip("_"), []).append(info.name)

    def client(self, token: typing.Optional[str] = None):
        if token is None:
            return self.root.Client(base_url=self.base_url, raise_on_unexpected_status=False)
        return self.root.AuthenticatedClient(
            base_url=self.base_url, token=token, raise_on_unexpected_status=False
        )

    def module(self, op_id: str, method: str, path: str, gap):
        """The generated module of `op_id`; when the document names the operation at `method`
        `path` otherwise, that one, and the other name is reported to `gap`."""
        found = self.modules.get(op_id, [])
        if len(found) == 1:
            return importlib.import_module(found[0])
        op = ((self.doc.get("paths") or {}).get(path) or {}).get(method)
        if op is None:
            raise StepFailed(f"the {self.name} document has no {method.upper()} {path}")
        actual = op.get("operationId", "")
        tag = snake((op.get("tags") or ["default"])[0])
        prefix = f"{self.package}.api.{tag}."
        candidates = [m for m in self.modules.get(snake(actual), []) if m.startswith(prefix)]
        if len(candidates) != 1:
            raise StepFailed(
                f"the {self.name} client has no `{op_id}`, nor {method.upper()} {path} (`{actual}`)"
            )
        gap("names", f"{op_id} (`{actual}`)")
        return importlib.import_module(candidates[0])


class Session:
    """The two clients, the answers they got, and the gaps met on the way: `notes` for the
    current step, `gaps` for those every step would repeat (reported once)."""

    def __init__(self, apis: dict, operations: dict):
        self.apis = apis
        # op_id -> (api, method, path), where the contract puts it.
        self.operations = operations
        self.answers: list[Answer] = []
        self.notes: list[str] = []
        self.gaps: dict[str, list[str]] = {"names": [], "idempotency": []}

    def note(self, message: str):
        """A gap in the contract that the step could work around: the step fails, the journey
        goes on."""
        if message not in self.notes:
            self.notes.append(message)

    def gap(self, kind: str, what: str):
        if what not in self.gaps[kind]:
            self.gaps[kind].append(what)

    def body_model(self, op_id: str, function, body: dict):
        hints = typing.get_type_hints(function)
        kind = hints.get("body")
        if kind is None:
            raise StepFailed(f"{op_id} takes no body in the client")
        candidates = [kind, *typing.get_args(kind)]
        model = next((c for c in candidates if hasattr(c, "from_dict")), None)
        if model is None:
            raise StepFailed(f"{op_id}'s body type {kind} is not a model")
        try:
            value = model.from_dict(body)
        except KeyError as missing:
            raise StepFailed(
                f"{op_id}'s body model {model.__name__} requires {missing}, which the contract does not send"
            ) from None
        unknown = sorted(getattr(value, "additional_properties", {}) or {})
        if unknown:
            raise StepFailed(f"{op_id}'s body model {model.__name__} has no {', '.join(unknown)}")
        return value

    @staticmethod
    def coerce(hint, value):
        """A parameter the document gives an enum is an Enum in the client: pass its member."""
        for kind in (hint, *typing.get_args(hint)):
            if isinstance(kind, type) and issubclass(kind, enum.Enum):
                return kind(value)
        return value

    def call(
        self,
        op_id: str,
        token: typing.Optional[str] = None,
        body=None,
        params=None,
        key: typing.Optional[str] = None,
    ) -> Answer:
        """Calls op_id with `params` by their wire names (path, query and header parameters
        alike); a parameter the client does not know fails the step. `key` is sent as the
        Idempotency-Key where the client takes one (a client that does not is a gap)."""
        side, method, path = self.operations[op_id]
        api = self.apis[side]
        module = api.module(op_id, method, path, self.gap)
        signature = inspect.signature(module.sync_detailed)
        kwargs: dict[str, typing.Any] = {}
        params = dict(params or {})
        if key is not None:
            if any(p.rstrip("_") == "idempotency_key" for p in signature.parameters):
                params["Idempotency-Key"] = key
            else:
                self.gap("idempotency", op_id)
        if body is not None:
            kwargs["body"] = self.body_model(op_id, module.sync_detailed, body)
        hints = typing.get_type_hints(module.sync_detailed)
        for wire, value in params.items():
            name = next((p for p in signature.parameters if p.rstrip("_") == snake(wire)), None)
            if name is None:
                raise StepFailed(f"{op_id} takes no {wire} parameter, so its client cannot send one")
            kwargs[name] = self.coerce(hints.get(name), value)
        client = api.client(token)
        # The generated module's own request builder and parser, with the client's own httpx
        # client between them (this is what sync_detailed does), so that an answer the model
        # cannot read is reported without sending the command a second time.
        http = client.get_httpx_client().request(**module._get_kwargs(**kwargs))
        unreadable = False
        try:
            parsed = module._build_response(client=client, response=http).parsed
        except Exception as error:
            self.note(
                f"the client cannot read {op_id}'s {http.status_code} answer "
                f"({type(error).__name__}: {error}; the answer was {excerpt(http.content, 120)})"
            )
            parsed, unreadable = None, True
        answer = Answer(op_id, http, parsed, authenticated=token is not None)
        answer.unreadable = unreadable
        self.answers.append(answer)
        return answer

    def expect(self, answer: Answer, status: int) -> dict:
        """The answer's body as wire JSON, once its status is `status` and the client read it."""
        if answer.status != status:
            raise StepFailed(f"expected {status}; {answer.describe()}")
        if answer.parsed is None and not answer.unreadable:
            self.note(
                f"{answer.op_id}'s {status} answer is not in its document, so the client returns nothing"
            )
        if answer.status < 400 and type(answer.parsed).__name__ == "Problem":
            self.note(f"the client reads {answer.op_id}'s {status} answer as a Problem")
        if hasattr(answer.parsed, "to_dict"):
            return answer.parsed.to_dict()
        return answer.data if isinstance(answer.data, dict) else {}
