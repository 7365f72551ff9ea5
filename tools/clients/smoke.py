"""The generated Python client at work (scripts/clients.sh runs it against the throw-away
server): the demo admin logs in, reads its profile and the catalog, all through the typed
models that openapi-python-client made from openapi/openapi.json."""

import os
import sys

from kabinet_client import AuthenticatedClient, Client
from kabinet_client.api.accounts import get_me
from kabinet_client.api.auth import login
from kabinet_client.api.catalog import list_services
from kabinet_client.models import LoggedIn, LoginRequest, PageServiceBody, ProfileView


def main() -> None:
    base = os.environ["KABINET_URL"]
    answer = login.sync(client=Client(base_url=base), body=LoginRequest(login="admin", password="Demo-Admin-2026!"))
    if not isinstance(answer, LoggedIn):
        sys.exit(f"clients: Python: the admin's login answered {answer!r}")
    client = AuthenticatedClient(base_url=base, token=answer.access_token)
    me = get_me.sync(client=client)
    if not isinstance(me, ProfileView) or "admin" not in me.roles:
        sys.exit(f"clients: Python: GET /api/v1/me answered {me!r}")
    services = list_services.sync(client=client, limit=100)
    if not isinstance(services, PageServiceBody) or not services.items:
        sys.exit(f"clients: Python: GET /api/v1/services answered {services!r}")
    print(f"clients: Python client logged in as {me.display_name!r} and read {len(services.items)} services")


if __name__ == "__main__":
    main()
