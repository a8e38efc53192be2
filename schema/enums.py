"""Ledger enumerations, mirrored 1:1 by PostgreSQL enum types of the same snake_case name.

Rule: values are lower-case strings and are stored as-is; adding a value needs a migration
(`ALTER TYPE ... ADD VALUE`), renaming or removing one needs a data migration.
"""

from __future__ import annotations

from enum import StrEnum


class WorkspaceType(StrEnum):
    narrative_project = "narrative_project"
    draft_space = "draft_space"


class WorkItemType(StrEnum):
    shot = "shot"
    draft = "draft"


class NodeType(StrEnum):
    grid_group = "grid_group"
    image = "image"
    video = "video"
    audio_voice = "audio_voice"
    audio_music = "audio_music"
    audio_sfx = "audio_sfx"
    edit_step = "edit_step"
    prompt_plan = "prompt_plan"
    note = "note"
    compose = "compose"


class NodeStatus(StrEnum):
    pending = "pending"
    ok = "ok"
    failed = "failed"


class RefRole(StrEnum):
    image = "image"
    style = "style"
    character = "character"
    scene = "scene"
    audio = "audio"


class AssetKind(StrEnum):
    image = "image"
    video = "video"
    audio = "audio"
    subtitle = "subtitle"
    archive = "archive"
    other = "other"


class TaskType(StrEnum):
    storyboard = "storyboard"
    grid = "grid"
    video = "video"
    voice = "voice"
    music = "music"
    compose = "compose"
    export = "export"
    pipeline = "pipeline"
    agent_turn = "agent_turn"


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATUSES


TERMINAL_TASK_STATUSES = frozenset({TaskStatus.succeeded, TaskStatus.failed, TaskStatus.canceled})
ACTIVE_TASK_STATUSES = frozenset({TaskStatus.queued, TaskStatus.running})
# the task types a user sees (lists, counts, usage); agent_turn rows only keep idempotent outcomes
USER_TASK_TYPES = tuple(t for t in TaskType if t != TaskType.agent_turn)


class ConversationMode(StrEnum):
    agent = "agent"
    pro = "pro"


class MessageRole(StrEnum):
    user = "user"
    assistant = "assistant"
    system = "system"
    tool = "tool"
