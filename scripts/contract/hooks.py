"""Schemathesis hooks for FitSync's contract fuzzing (fitsync/tests/e2e/contract.rs).

Three rules of the API depend on the time or on data, which JSON Schema cannot say: a
set's `performed_at` lies between five years ago and five minutes ahead, a client's
`birthdate` makes them 13 to 120 years old, and a set's `exercise` names an exercise of
the library. All are documented in the OpenAPI descriptions. Where schemathesis drew a
*valid* value for them, these hooks move it into that window or onto a library slug; a
value that is not a date or a slug at all (a negative test case) is left as drawn, so
that the server's rejection of it is still checked.
"""

import datetime
import random
import re

import schemathesis


def _recent_datetime(value):
    try:
        datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        minutes=random.randint(1, 60 * 24 * 365 * 4)
    )
    return when.isoformat().replace("+00:00", "Z")


def _adult_birthdate(value):
    try:
        datetime.date.fromisoformat(str(value))
    except ValueError:
        return value
    today = datetime.date.today()
    return today.replace(year=today.year - random.randint(14, 110), day=1).isoformat()


_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LIBRARY = ["barbell-squat", "barbell-deadlift", "romanian-deadlift", "pullups", "back-squat"]


def _library_exercise(value):
    if isinstance(value, str) and _SLUG.match(value) and len(value) <= 64:
        return random.choice(_LIBRARY)
    return value


@schemathesis.hook
def map_body(ctx, body):
    if isinstance(body, dict):
        if isinstance(body.get("performed_at"), str):
            body["performed_at"] = _recent_datetime(body["performed_at"])
        if "exercise" in body:
            body["exercise"] = _library_exercise(body["exercise"])
        if isinstance(body.get("birthdate"), str):
            body["birthdate"] = _adult_birthdate(body["birthdate"])
    return body
