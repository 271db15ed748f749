# starlette's TestClient is typed against httpx2 and falls back to httpx at run time when
# httpx2 is not installed (it is not: the project uses httpx). Without this stub mypy sees
# TestClient as Any, and every request in the tests goes unchecked; with it, TestClient is
# the httpx.Client subclass it is at run time. Delete it if the project moves to httpx2.
from httpx import *  # noqa: F403 - the whole of httpx, under its new name
from httpx import _client as _client
from httpx import _types as _types
