"""The action service: every state change (chat, button, CRUD route) goes through here."""
