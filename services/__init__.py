"""The action service: every state change (chat, button, CRUD route) goes through here.

`router.py` runs a turn of Action DSL verbs in one transaction (propose vs execute, snapshots,
idempotency, workflow starts after commit); `execution.py` holds the executor registry; each family
module (`project`, `shots`, `generation`, `tracks`, `tasks`, `versions`, `exports`) holds its verbs'
executors and the id-based edits its CRUD routes call, under the shared rules of `rules.py`.
"""
