"""Schemathesis hooks for scripts/schemathesis (loaded via SCHEMATHESIS_HOOKS).

Every operation is sent with the credential its `security` in openapi.json
names, so the checks reach the handlers and not only the 401 answers:

* /v1/conversations/{id}/...  (shopper): the conversation token; `{id}` is
  the real conversation about half of the time, a generated one otherwise.
* /v1/agent/...: the supervisor agent's session token, except the sign-out
  (DELETE /v1/agent/session), which is sent without one so the session
  survives the run.
* /v1/admin/... and the resolution endpoints: the admin token, or the scoped
  API key (`wsk_...`) for about a third of the requests.

The tokens come from the environment (SCHEMA_CHECK_*), set by the script.
"""

import os

import schemathesis
from hypothesis import strategies as st

CONVERSATION_ID = os.environ["SCHEMA_CHECK_CONVERSATION_ID"]
CONVERSATION_TOKEN = os.environ["SCHEMA_CHECK_CONVERSATION_TOKEN"]
AGENT_TOKEN = os.environ["SCHEMA_CHECK_AGENT_TOKEN"]
ADMIN_TOKEN = os.environ["SCHEMA_CHECK_ADMIN_TOKEN"]
API_KEY = os.environ["SCHEMA_CHECK_API_KEY"]


def credential(method: str, path: str, pick: int):
    """The bearer token for one operation (None: send none)."""
    if path.startswith("/v1/admin/") or path.endswith("/resolution"):
        return API_KEY if pick % 3 == 0 else ADMIN_TOKEN
    if path == "/v1/agent/session":
        return None
    if path.startswith("/v1/agent/"):
        return AGENT_TOKEN
    if path.startswith("/v1/conversations/"):
        return CONVERSATION_TOKEN
    return None


@schemathesis.auth()
class WismoAuth:
    def __init__(self):
        self.count = 0

    def get(self, case, ctx):
        return "unused"

    def set(self, case, data, ctx):
        self.count += 1
        token = credential(case.method.upper(), case.path, self.count)
        if token is None:
            return
        # Schemathesis fills in a random bearer token from the security
        # scheme; replace it with the real one.
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {token}"
        case.headers = headers
        if os.environ.get("SCHEMA_CHECK_DEBUG"):
            print("AUTH", case.method, case.path, case.path_parameters, {k: v[:12] for k, v in case.headers.items() if isinstance(v, str)}, flush=True)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Uses the real conversation for `{id}` about half of the time."""
    op = context.operation
    if op is None or "id" not in (path_parameters or {}):
        return st.just(path_parameters)
    path = op.path
    if path.startswith("/v1/conversations/") or path.startswith("/v1/agent/conversations/"):
        real = dict(path_parameters, id=CONVERSATION_ID)
        return st.sampled_from([real, path_parameters])
    return st.just(path_parameters)
