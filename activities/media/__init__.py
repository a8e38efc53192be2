"""Offline media: FFmpeg runner, probing, Ken Burns clips and compose (plain synchronous functions).

Rule: every FFmpeg process is started through `activities.media.ffmpeg.run_ffmpeg`.
"""
