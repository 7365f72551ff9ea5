"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Two values in a request are tokens only the server hands out, so a generator cannot make
them up, however well the document describes their shape: that is why they are set here and
not silenced with a check's exception. Only cases meant to be valid are touched; negative
cases keep their malformed keys and cursors, which must be refused.

  Idempotency-Key  names one attempt of one request: a key the run already sent with other
                   content is refused with 422 `idempotency_key_reused`, as the contract
                   says. Generated keys repeat (the documented example, hypothesis'
                   favourite short strings), so every valid case gets a fresh one.
  cursor           is an opaque position the previous page gave out; anything else is 422
                   "Not a cursor this API gave out". A valid case asks for the first page.

And one rule between two fields, which JSON Schema cannot state: the audit list's `from`
must not be after its `to` (422 `out_of_range`, tests/http/audit/reading.rs). A valid case
with both in the wrong order has them swapped.
"""

import datetime
import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if case.headers:
        for name in list(case.headers):
            if name.lower() == "idempotency-key":
                case.headers[name] = str(uuid.uuid4())
    if case.query:
        case.query.pop("cursor", None)
        start, end = instant(case.query.get("from")), instant(case.query.get("to"))
        if start and end and start > end:
            case.query["from"], case.query["to"] = case.query["to"], case.query["from"]


def instant(text):
    """A `from`/`to` value as the server reads it (a date is its midnight UTC), or None."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
