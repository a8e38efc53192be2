"""Node lineage and reference routes, paged: `limit` + `cursor` in, the bare list out with the
next page in `X-Next-Cursor` / `Link`; bad cursors are 422 `invalid_cursor`; another user's
workspace or node is the same 404 as everywhere else."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from infra.ledger import unit_of_work
from schema.enums import NodeType, RefRole
from schema.repositories import nodes as node_repo
from tests.api.conftest import Seeded, Stack, uid


async def _walk(
    c: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], list[httpx.Response]]:
    """Follow `X-Next-Cursor` to the end; every page's response is returned too."""
    items: list[dict[str, Any]] = []
    pages: list[httpx.Response] = []
    cursor: str | None = None
    while True:
        r = await c.get(url, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r)
        items.extend(r.json())
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in r.headers
            return items, pages
        assert r.headers["Link"].endswith('>; rel="next"') and f"cursor={cursor}" in r.headers["Link"]
        assert len(pages) < 100


def _referenced(stack: Stack, s: Seeded, users: int) -> list[str]:
    """`users` new nodes on shot 2 that each use cell 4 of the seeded grid as a style reference."""
    made = []
    with unit_of_work(stack.db_url) as session:
        for _ in range(users):
            node = node_repo.create_node(session, type=NodeType.image, work_item_id=uuid.UUID(s.shots[1]))
            node_repo.add_reference(session, node.id, uuid.UUID(s.cells[3]), RefRole.style)
            made.append(str(node.id))
    return made


async def test_references_in_are_paged(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    url = f"/workspaces/{s.workspace}/nodes/{s.cells[3]}/references"
    users = _referenced(stack, s, 12)

    whole = await c.get(url, params={"direction": "in"}, headers=h)  # default limit 100: one page
    assert whole.status_code == 200 and "X-Next-Cursor" not in whole.headers
    assert [e["node"]["id"] for e in whole.json()] == users  # oldest reference first
    assert {e["role"] for e in whole.json()} == {"style"}

    for limit in (1, 5, 12):
        items, pages = await _walk(c, url, h, direction="in", limit=limit)
        assert [e["node"]["id"] for e in items] == users, limit
        assert len(pages) == -(-12 // limit)  # no empty last page
        assert all(len(p.json()) <= limit for p in pages)

    first = await c.get(url, params={"direction": "in", "limit": 5}, headers=h)
    link = first.headers["Link"]
    followed = await c.get(link[1 : link.index(">")].replace("http://api.test", ""), headers=h)
    assert [e["node"]["id"] for e in followed.json()] == users[5:10]

    out = await c.get(f"/workspaces/{s.workspace}/nodes/{users[0]}/references", headers=h)
    assert [(e["role"], e["node"]["id"]) for e in out.json()] == [("style", s.cells[3])]
    assert "X-Next-Cursor" not in out.headers


async def test_lineage_is_paged(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    with unit_of_work(stack.db_url) as session:
        chain = [uuid.UUID(s.cells[0])]
        for _ in range(9):
            node = node_repo.create_node(
                session, type=NodeType.image, work_item_id=uuid.UUID(s.shots[0]), parent_id=chain[-1]
            )
            chain.append(node.id)
    base = f"/workspaces/{s.workspace}/nodes"

    items, pages = await _walk(c, f"{base}/{chain[-1]}/lineage", h, limit=3)
    expected_up = [str(n) for n in reversed(chain[:-1])] + [s.group]
    assert [(e["depth"], e["node"]["id"]) for e in items] == list(enumerate(expected_up, start=1))
    assert [len(p.json()) for p in pages] == [3, 3, 3, 1]

    whole = (await c.get(f"{base}/{s.group}/lineage", params={"direction": "descendants"}, headers=h)).json()
    assert len(whole) == 4 + 9  # the four cells, then the chain under cell 1
    items, pages = await _walk(c, f"{base}/{s.group}/lineage", h, direction="descendants", limit=4)
    assert items == whole and len(pages) == 4
    assert [e["node"]["cell"] for e in items[:4]] == [1, 2, 3, 4]


async def test_bad_cursor_and_limit(stack: Stack, seeded) -> None:
    s = seeded(uid())
    c, h = stack.client, stack.auth(s.owner)
    _referenced(stack, s, 3)
    base = f"/workspaces/{s.workspace}/nodes/{s.cells[3]}"
    refs_cursor = (
        await c.get(f"{base}/references", params={"direction": "in", "limit": 1}, headers=h)
    ).headers["X-Next-Cursor"]
    for path, params in [
        ("references", {"direction": "in", "cursor": "garbage!"}),
        ("references", {"direction": "in", "cursor": "x" * 2000}),
        ("references", {"direction": "out", "cursor": refs_cursor}),  # an `in` cursor
        ("lineage", {"cursor": refs_cursor}),
        ("lineage", {"direction": "descendants", "cursor": "eyJ9"}),
    ]:
        r = await c.get(f"{base}/{path}", params=params, headers=h)
        assert r.status_code == 422, (path, params, r.text)
        body = r.json()
        assert body["code"] == "invalid_cursor" and body["request_id"] and body["message"]
    for limit in (0, 501, "many"):
        r = await c.get(f"{base}/references", params={"direction": "in", "limit": limit}, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", limit
    r = await c.get(f"{base}/references", params={"direction": "in", "limit": 500}, headers=h)
    assert r.status_code == 200 and len(r.json()) == 3


async def test_another_users_nodes_are_404(stack: Stack, seeded) -> None:
    mine, theirs = seeded(uid()), seeded(uid())
    c, h = stack.client, stack.auth(mine.owner)
    cursor = (
        await c.get(
            f"/workspaces/{theirs.workspace}/nodes/{theirs.group}/lineage",
            params={"direction": "descendants", "limit": 1},
            headers=stack.auth(theirs.owner),
        )
    ).headers["X-Next-Cursor"]
    for path in ("lineage", "references"):
        for params in ({}, {"direction": "descendants" if path == "lineage" else "in", "cursor": cursor}):
            # their workspace: the workspace 404, exactly as on GET /workspaces/{id}
            r = await c.get(
                f"/workspaces/{theirs.workspace}/nodes/{theirs.group}/{path}", params=params, headers=h
            )
            ref = await c.get(f"/workspaces/{theirs.workspace}", headers=h)
            assert (
                (r.status_code, r.json()["code"])
                == (ref.status_code, ref.json()["code"])
                == (
                    404,
                    "workspace_not_found",
                )
            )
            # my workspace, their node: the node 404, exactly as on GET /nodes/{id}
            r = await c.get(
                f"/workspaces/{mine.workspace}/nodes/{theirs.group}/{path}", params=params, headers=h
            )
            ref = await c.get(f"/workspaces/{mine.workspace}/nodes/{theirs.group}", headers=h)
            assert (
                (r.status_code, r.json()["code"])
                == (ref.status_code, ref.json()["code"])
                == (
                    404,
                    "node_not_found",
                )
            )
    # a malformed cursor on someone else's node still answers 404 (ownership is checked first)
    r = await c.get(
        f"/workspaces/{mine.workspace}/nodes/{theirs.group}/references",
        params={"direction": "in", "cursor": "garbage!"},
        headers=h,
    )
    assert r.status_code == 404


async def test_paged_routes_document_the_cursor(stack: Stack) -> None:
    spec = (await stack.client.get("/openapi.json")).json()
    for path in ("lineage", "references"):
        op = spec["paths"][f"/workspaces/{{workspace_id}}/nodes/{{node_id}}/{path}"]["get"]
        params = {p["name"]: p for p in op["parameters"]}
        assert params["limit"]["schema"]["maximum"] == 500 and params["limit"]["schema"]["default"] == 100
        assert "cursor" in params
        assert {"X-Next-Cursor", "Link"} <= set(op["responses"]["200"]["headers"])
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
