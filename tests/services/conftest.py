"""Action service tests share the agent rig (real Temporal, real PostgreSQL, real workers)."""

from tests.support.agent_rig import make_agent_rig  # noqa: F401 - the fixture
