"""Providers behind stable interfaces: storyboard, grid images (cards), narration voice.

Rule: providers are plain synchronous classes; the activity layer wraps them (threads, heartbeats,
cancellation) and never the other way round.
"""
