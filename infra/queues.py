"""Task queue names: one per worker pool, optionally prefixed (isolated deployments and tests).

Rule: every queue name a worker listens on or a workflow schedules onto comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Task queues, one per worker pool.
QUEUE_CPU = "cpu"
QUEUE_GPU_IMAGE = "gpu-image"
QUEUE_GPU_VIDEO = "gpu-video"
QUEUE_TTS = "tts"
POOLS = (QUEUE_CPU, QUEUE_GPU_IMAGE, QUEUE_GPU_VIDEO, QUEUE_TTS)


@dataclass
class Queues:
    """Task queue names a workflow schedules onto (a prefix lets tests isolate themselves)."""

    cpu: str = QUEUE_CPU
    gpu_image: str = QUEUE_GPU_IMAGE
    gpu_video: str = QUEUE_GPU_VIDEO
    tts: str = QUEUE_TTS

    @classmethod
    def prefixed(cls, prefix: str) -> Queues:
        return cls(*(f"{prefix}{name}" for name in POOLS))
