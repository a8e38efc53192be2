"""Shared test helpers (moved out of test modules so tests never import each other)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


async def frames(response: httpx.Response):
    frame = Frame()
    async for line in response.aiter_lines():
        if line == "":
            if frame.data or frame.comments or frame.id:
                yield frame
            frame = Frame()
        elif line.startswith(":"):
            frame.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                frame.data.append(value)
            elif name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        kind, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if kind:
            events.append((kind, json.loads("\n".join(data)) if data else None))
    return events


def of(events: list[tuple[str, Any]], kind: str) -> list[Any]:
    return [d for k, d in events if k == kind]


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
