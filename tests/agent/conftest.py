"""Agent tests share the agent rig (real Temporal, real PostgreSQL, a conversation worker)."""

from tests.support.agent_rig import make_agent_rig  # noqa: F401 - the fixture
