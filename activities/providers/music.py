"""Background music, offline: a mood → a musical recipe → a procedurally synthesised stereo WAV.

Rules:
- nothing is downloaded and no model runs: numpy synthesises everything (wavetable pads, a bass
  line, an arpeggio or a gentle melody, soft percussion for the faster moods, a multi-tap room);
- a mood is free text (English or Chinese); it resolves to one of the recipes below, and an
  unknown mood falls back to ``calm`` *and says so* (``fallback``); ``auto`` derives the mood from
  hints (the workspace's style, title and scene/shot moods) and else uses ``calm``;
- the output is deterministic for (mood, duration, seed): the same inputs give the same bytes;
- the length is exact to the sample (48 kHz stereo); the last bars resolve to the tonic and fade
  out, the first ones fade in; it is mixed as a *background* bed (RMS about -20 dBFS) and never
  clips (peak at most -3 dBFS);
- a 60 s track renders in a fraction of a second on one core; progress is reported and
  cancellation is honoured between stages.
"""

from __future__ import annotations

import math
import os
import re
import uuid
import wave
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schema.errors import BadInputError, CancelledByUser

__all__ = [
    "DEFAULT_MOOD",
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "RECIPES",
    "SAMPLE_RATE",
    "MoodChoice",
    "MusicPlan",
    "ProceduralMusic",
    "Recipe",
    "plan_music",
    "render_music",
    "resolve_mood",
    "write_wav",
]

SAMPLE_RATE = 48_000
MIN_DURATION_S = 1.0
MAX_DURATION_S = 600.0
DEFAULT_MOOD = "calm"
AUTO_WORDS = frozenset({"", "auto", "automatic", "any", "default", "自动", "随便"})
TARGET_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -3.0
TABLE_BITS = 12
TABLE_SIZE = 1 << TABLE_BITS

Progress = Callable[[float], None]
Cancelled = Callable[[], bool]


# ------------------------------------------------------------------------------------------------
# recipes
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How one mood sounds. Progressions are roman numerals relative to the tonic (``b`` = flat,
    upper case = major, lower case = minor, ``maj7``/``7`` add a seventh)."""

    name: str
    key: str  # tonic, e.g. "D"
    mode: str  # major | minor
    tempo_bpm: int
    progressions: tuple[tuple[str, ...], ...]  # the seed picks one
    pad: str  # soft | warm | strings | dark | glass
    pad_cutoff_hz: float
    bass: str  # whole | half | pulse | bounce | octaves
    arp: str | None = None  # up | updown | broken | ostinato
    arp_step: float = 0.5  # beats per arpeggio note
    arp_timbre: str = "glass"
    arp_cutoff_hz: float = 2400.0
    melody: str | None = None  # bell | pluck | flute
    percussion: str | None = None  # light | pulse | drive | toms
    register: int = 60  # centre of the pad voicing (MIDI)
    description: str = ""


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "calm",
            "D",
            "major",
            72,
            (("I", "V", "vi", "IV"), ("I", "IV", "vi", "V"), ("I", "vi", "IV", "V")),
            pad="soft",
            pad_cutoff_hz=1400,
            bass="whole",
            arp="up",
            arp_step=1.0,
            arp_timbre="soft",
            description="soft sine pads, slow arpeggio, no drums",
        ),
        Recipe(
            "warm",
            "F",
            "major",
            80,
            (("I", "vi", "IV", "V"), ("I", "iii", "IV", "V"), ("IV", "I", "V", "vi")),
            pad="warm",
            pad_cutoff_hz=1600,
            bass="half",
            melody="flute",
            description="warm detuned pads, gentle flute-like melody",
        ),
        Recipe(
            "tense",
            "D",
            "minor",
            112,
            (("i", "bVI", "bVII", "i"), ("i", "i", "bVI", "V"), ("i", "bII", "i", "bVII")),
            pad="dark",
            pad_cutoff_hz=900,
            bass="pulse",
            arp="ostinato",
            arp_step=0.25,
            arp_timbre="pluck",
            arp_cutoff_hz=1500,
            percussion="pulse",
            register=57,
            description="dark pads over a pulsing eighth-note bass and a ticking ostinato",
        ),
        Recipe(
            "dark",
            "C",
            "minor",
            60,
            (("i", "bVI", "iv", "V"), ("i", "iv", "i", "bVI"), ("i", "bII", "iv", "i")),
            pad="dark",
            pad_cutoff_hz=650,
            bass="whole",
            register=53,
            description="low filtered drones, sub bass, no melody",
        ),
        Recipe(
            "playful",
            "G",
            "major",
            120,
            (("I", "vi", "ii", "V"), ("I", "IV", "V", "I"), ("I", "V", "vi", "IV")),
            pad="soft",
            pad_cutoff_hz=2000,
            bass="bounce",
            arp="updown",
            arp_step=0.5,
            arp_timbre="pluck",
            arp_cutoff_hz=3000,
            melody="pluck",
            percussion="light",
            register=64,
            description="bouncy bass, plucked arpeggio and melody, light drums",
        ),
        Recipe(
            "epic",
            "D",
            "minor",
            92,
            (("i", "bVI", "bIII", "bVII"), ("i", "bVII", "bVI", "bVII"), ("bVI", "bVII", "i", "i")),
            pad="strings",
            pad_cutoff_hz=2600,
            bass="octaves",
            arp="ostinato",
            arp_step=0.5,
            arp_timbre="strings",
            arp_cutoff_hz=2000,
            percussion="toms",
            description="wide string pads, octave bass, driving toms",
        ),
        Recipe(
            "melancholy",
            "A",
            "minor",
            66,
            (("i", "iv", "bVII", "bIII"), ("i", "bVI", "iv", "V"), ("i", "v", "bVI", "iv")),
            pad="strings",
            pad_cutoff_hz=1300,
            bass="whole",
            melody="pluck",
            description="soft strings with a slow piano-like melody",
        ),
        Recipe(
            "mysterious",
            "E",
            "minor",
            70,
            (("i", "bVI", "bII", "i"), ("i", "IV", "i", "bVI"), ("i", "bIII", "IV", "i")),
            pad="glass",
            pad_cutoff_hz=2200,
            bass="whole",
            arp="broken",
            arp_step=0.5,
            description="glassy pads, sparse bell arpeggio",
        ),
        Recipe(
            "dreamy",
            "Eb",
            "major",
            76,
            (("Imaj7", "IVmaj7", "vi7", "IVmaj7"), ("Imaj7", "iii7", "IVmaj7", "IVmaj7")),
            pad="glass",
            pad_cutoff_hz=1800,
            bass="whole",
            arp="updown",
            arp_step=0.5,
            register=62,
            description="airy seventh chords and a shimmering arpeggio",
        ),
        Recipe(
            "uplifting",
            "C",
            "major",
            104,
            (("IV", "I", "V", "vi"), ("I", "V", "vi", "IV"), ("vi", "IV", "I", "V")),
            pad="warm",
            pad_cutoff_hz=2400,
            bass="pulse",
            arp="up",
            arp_step=0.5,
            arp_timbre="pluck",
            arp_cutoff_hz=3200,
            percussion="drive",
            register=62,
            description="bright pads, pulsing bass, steady drums",
        ),
    )
}

# (pattern, recipe): English words at word boundaries, Chinese anywhere. Order only breaks ties of
# position; the earliest match in the text wins.
_MOOD_WORDS: list[tuple[str, str]] = [
    (
        r"\b(?:tense|tension|suspense\w*|thrill\w*|chase|urgent|anxious|nervous|action)\b|紧张|悬疑|紧迫|刺激",
        "tense",
    ),
    (
        r"\b(?:dark\w*|grim|ominous|menacing|sinister|horror|eerie|creepy|spooky|moody|brooding|scary)\b"
        r"|黑暗|暗黑|阴森|恐怖|诡异|压抑|阴郁",
        "dark",
    ),
    (
        r"\b(?:epic|heroic|grand|triumph\w*|majestic|cinematic|battle|adventur\w*|powerful)\b"
        r"|史诗|宏大|激昂|壮丽|英雄|磅礴",
        "epic",
    ),
    (
        r"\b(?:melanchol\w*|sad|sadness|sorrow\w*|wistful|nostalgic|lonely|tragic|bleak|somber|sombre|grief)\b"
        r"|悲伤|伤感|忧伤|忧郁|怀旧|孤独|低落",
        "melancholy",
    ),
    (r"\b(?:myster\w*|curious|magic\w*|enigmatic|secret|fantasy)\b|神秘|好奇|奇幻|魔幻", "mysterious"),
    (r"\b(?:dream\w*|ethereal|ambient|floating|airy)\b|梦幻|空灵", "dreamy"),
    (
        r"\b(?:playful|whimsical|cheerful|happy|joyful|joy|fun|funny|upbeat|bouncy|quirky|comic\w*|silly)\b"
        r"|欢快|开心|快乐|愉快|俏皮|童趣|活泼|轻快",
        "playful",
    ),
    (
        r"\b(?:uplifting|hopeful|hope|inspir\w*|bright|optimistic|triumphant)\b|希望|励志|明亮|振奋",
        "uplifting",
    ),
    (r"\b(?:warm|cozy|cosy|romantic|tender|gentle|love|loving|sweet)\b|温暖|温馨|浪漫|温柔|甜蜜", "warm"),
    (
        r"\b(?:calm|peaceful|serene|tranquil|soothing|relax\w*|chill|quiet|soft|lofi|lo-fi|meditative)\b"
        r"|轻松|舒缓|宁静|平静|安静|放松|悠闲|安宁",
        "calm",
    ),
]
_MOOD_RES = [(re.compile(p, re.IGNORECASE), name) for p, name in _MOOD_WORDS]


@dataclass(frozen=True)
class MoodChoice:
    """How a requested mood was understood."""

    requested: str
    mood: str  # a RECIPES key
    matched: str | None  # the word that decided it
    source: str  # request | workspace | default | fallback
    fallback: bool  # the request named no mood we know, so the calm default was used


def _match(text: str) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for rx, name in _MOOD_RES:
        m = rx.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), name, m.group(0))
    return None if best is None else (best[1], best[2])


def resolve_mood(mood: str | None, hints: Sequence[str] = ()) -> MoodChoice:
    """A free-text mood (EN/ZH) → a recipe name; ``auto`` votes over `hints` (workspace texts)."""
    requested = " ".join((mood or "").split())
    text = requested.lower()
    if text in AUTO_WORDS:
        votes: dict[str, int] = {}
        first: dict[str, str] = {}
        for hint in hints:
            found = _match(str(hint or "").lower())
            if found:
                votes[found[0]] = votes.get(found[0], 0) + 1
                first.setdefault(found[0], found[1])
        if votes:
            name = max(votes, key=lambda k: votes[k])  # ties: the first mood seen
            return MoodChoice(requested or "auto", name, first[name], "workspace", False)
        return MoodChoice(requested or "auto", DEFAULT_MOOD, None, "default", False)
    found = _match(text)
    if found:
        return MoodChoice(requested, found[0], found[1], "request", False)
    return MoodChoice(requested, DEFAULT_MOOD, None, "fallback", True)


# ------------------------------------------------------------------------------------------------
# harmony
# ------------------------------------------------------------------------------------------------

_PC = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6, "G": 7}
_PC.update({"G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11})
_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_DEGREE = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_NUMERAL = re.compile(r"^(b|#)?(vii|iii|ii|iv|vi|v|i)(maj7|7|dim)?$", re.IGNORECASE)
_SCALE = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass(frozen=True)
class Chord:
    numeral: str
    root: int  # pitch class
    intervals: tuple[int, ...]

    @property
    def name(self) -> str:
        ivs = self.intervals
        quality = {
            (0, 4, 7): "",
            (0, 3, 7): "m",
            (0, 4, 7, 11): "maj7",
            (0, 3, 7, 10): "m7",
            (0, 4, 7, 10): "7",
            (0, 3, 6): "dim",
        }.get(ivs, "")
        return _NAMES[self.root] + quality


def parse_chord(numeral: str, tonic: int) -> Chord:
    m = _NUMERAL.match(numeral)
    if m is None:
        raise ValueError(f"not a roman numeral: {numeral!r}")
    accidental, roman, suffix = m.groups()
    offset = _DEGREE[roman.lower()] + (-1 if accidental == "b" else 1 if accidental == "#" else 0)
    major = roman.isupper()
    if suffix == "dim":
        intervals: tuple[int, ...] = (0, 3, 6)
    else:
        intervals = (0, 4, 7) if major else (0, 3, 7)
        if suffix == "maj7":
            intervals += (11,)
        elif suffix == "7":
            intervals += (10,)  # a dominant or minor seventh
    return Chord(numeral, (tonic + offset) % 12, intervals)


def _voice(chord: Chord, low: int, high: int) -> list[int]:
    """Chord tones placed in [low, high): a closed voicing that moves smoothly between chords."""
    notes = []
    for iv in chord.intervals:
        pc = (chord.root + iv) % 12
        note = low + ((pc - low) % 12)
        notes.append(note if note < high else note - 12)
    return sorted(notes)


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


# ------------------------------------------------------------------------------------------------
# the plan (what a user sees in the node payload)
# ------------------------------------------------------------------------------------------------


@dataclass
class MusicPlan:
    mood_requested: str
    mood: str
    mood_matched: str | None
    mood_source: str
    fallback: bool
    key: str  # e.g. "D major"
    mode: str
    tempo_bpm: int
    progression: list[str]  # roman numerals, one per bar, cycled
    chords: list[str]  # the same as chord names, e.g. ["D", "A", "Bm", "G"]
    bars: int
    seed: int
    duration_s: float
    sample_rate: int = SAMPLE_RATE
    channels: int = 2
    timbres: dict[str, str | None] = field(default_factory=dict)
    description: str = ""

    @property
    def samples(self) -> int:
        return round(self.duration_s * self.sample_rate)

    @property
    def bar_s(self) -> float:
        return 240.0 / self.tempo_bpm

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


def plan_music(mood: str | None, duration_s: float, seed: int, hints: Sequence[str] = ()) -> MusicPlan:
    """Resolve the mood and fix every musical decision that the seed makes (cheap, no audio)."""
    try:
        duration = float(duration_s)
    except (TypeError, ValueError) as exc:
        raise BadInputError(
            f"music duration {duration_s!r} is not a number", code="music_duration_invalid"
        ) from exc
    if not math.isfinite(duration) or not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        raise BadInputError(
            f"music duration must be {MIN_DURATION_S:g}..{MAX_DURATION_S:g} s, got {duration_s}",
            code="music_duration_invalid",
        )
    seed = int(seed) % (2**32)
    choice = resolve_mood(mood, hints)
    recipe = RECIPES[choice.mood]
    rng = _rng(seed, recipe.name, "plan")
    progression = list(recipe.progressions[int(rng.integers(len(recipe.progressions)))])
    tonic = _PC[recipe.key]
    bar_s = 240.0 / recipe.tempo_bpm
    return MusicPlan(
        mood_requested=choice.requested,
        mood=recipe.name,
        mood_matched=choice.matched,
        mood_source=choice.source,
        fallback=choice.fallback,
        key=f"{recipe.key} {recipe.mode}",
        mode=recipe.mode,
        tempo_bpm=recipe.tempo_bpm,
        progression=progression,
        chords=[parse_chord(n, tonic).name for n in progression],
        bars=max(1, math.ceil(round(duration / bar_s, 6))),
        seed=seed,
        duration_s=round(duration, 6),
        timbres={
            "pad": recipe.pad,
            "bass": recipe.bass,
            "arpeggio": recipe.arp,
            "melody": recipe.melody,
            "percussion": recipe.percussion,
        },
        description=recipe.description,
    )


def _rng(seed: int, mood: str, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(mood.encode()), zlib.crc32(stream.encode())])


# ------------------------------------------------------------------------------------------------
# the score: every note as an event (cheap, all seeded decisions happen here, in a fixed order)
# ------------------------------------------------------------------------------------------------

ADSR = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Note:
    timbre: str
    note: int
    cutoff_hz: float
    gate_s: float
    adsr: ADSR
    phase: float = 0.0
    cents: float = 0.0


@dataclass(frozen=True)
class _Event:
    at_s: float
    sound: _Note | str  # a note, or the name of a drum
    gain: float
    pan: float = 0.0
    send: float = 0.0  # how much goes to the room


_PERCUSSION: dict[str, list[tuple[str, float, float]]] = {
    # (drum, beat within the bar, gain)
    "light": [("kick", 0, 0.5), ("kick", 2, 0.4), ("snare", 1, 0.18), ("snare", 3, 0.18)]
    + [("shaker", b / 2, 0.12 if b % 2 else 0.2) for b in range(8)],
    "pulse": [("kick", b, 0.42) for b in range(4)] + [("shaker", b / 2 + 0.25, 0.1) for b in range(8)],
    "drive": [("kick", 0, 0.5), ("kick", 1.5, 0.3), ("kick", 2, 0.45), ("snare", 1, 0.22), ("snare", 3, 0.22)]
    + [("shaker", b / 2, 0.14) for b in range(8)],
    "toms": [("kick", 0, 0.55), ("tom", 1.5, 0.45), ("tom", 2, 0.4), ("tom", 3, 0.35), ("tom", 3.5, 0.45)],
}
_PAD_ADSR: dict[str, ADSR] = {
    "soft": (1.2, 0.8, 0.85, 1.6),
    "warm": (0.9, 0.6, 0.8, 1.4),
    "strings": (0.7, 0.5, 0.85, 1.2),
    "dark": (1.6, 1.0, 0.9, 2.0),
    "glass": (0.6, 1.2, 0.6, 1.8),
}
_MELODY_RHYTHMS = (
    ((0, 1.5), (1.5, 0.5), (2, 2)),
    ((0, 2), (2, 1), (3, 1)),
    ((0, 1), (1, 1), (2, 2)),
    ((0, 3), (3, 1)),
    ((0.5, 1.5), (2, 1.5), (3.5, 0.5)),
)


def _fades(plan: MusicPlan) -> tuple[float, float]:
    """(fade-in, fade-out) seconds: short for short tracks, about a bar at the end otherwise."""
    bar = plan.bar_s
    return min(1.5, 0.15 * plan.duration_s), min(max(2.0, min(bar, 4.0)), 0.35 * plan.duration_s)


def _score(plan: MusicPlan) -> list[_Event]:
    recipe = RECIPES[plan.mood]
    beat = 60.0 / plan.tempo_bpm
    bar = 4 * beat
    end = plan.duration_s
    tonic = _PC[recipe.key]
    home = "I" if recipe.mode == "major" else "i"
    _, fade_out = _fades(plan)
    # the bars that overlap the fade-out resolve to the tonic; only pad, bass and one held melody
    # note sound there, so the track ends on a cadence instead of being cut mid-phrase
    last = plan.bars - 1
    coda = min(last, max(0, int((end - fade_out) // bar))) if plan.bars > 2 else last
    chords = [
        parse_chord(
            home if b >= coda and (b > 0 or last == 0) else plan.progression[b % len(plan.progression)], tonic
        )
        for b in range(plan.bars)
    ]
    body = range(coda if coda > 0 else 0)  # bars before the coda
    rng_pad, rng_arp = _rng(plan.seed, plan.mood, "pad"), _rng(plan.seed, plan.mood, "arp")
    rng_mel, rng_drum = _rng(plan.seed, plan.mood, "melody"), _rng(plan.seed, plan.mood, "drums")
    events: list[_Event] = []

    # pad: each chord tone twice, detuned and spread left/right; the last chord is held to the end
    adsr = _PAD_ADSR[recipe.pad]
    low = recipe.register - 6
    for b, chord in enumerate(chords):
        start = b * bar
        gate = end - start + 0.05 if b == last else bar
        voicing = _voice(chord, low, low + 12)
        if recipe.pad in ("strings", "dark"):
            voicing = [voicing[0] - 12, *voicing]  # an octave under the chord: wider, darker
        for i, note in enumerate(voicing):
            for side, cents in ((-0.55, -7.0), (0.55, 6.0)):
                sound = _Note(
                    recipe.pad,
                    note,
                    recipe.pad_cutoff_hz,
                    gate,
                    adsr,
                    phase=float(rng_pad.random()),
                    cents=cents + float(rng_pad.normal(0, 1.5)),
                )
                pan = side * (0.6 + 0.4 * (i % 2))
                events.append(_Event(start, sound, 0.11 / math.sqrt(len(voicing)), pan, send=0.5))

    # bass
    for b, chord in enumerate(chords):
        root = 36 + ((chord.root - 36) % 12)  # C2..B2
        fifth = root + 7
        start = b * bar
        held = recipe.bass == "whole" or (b >= coda and b > 0)
        if held:
            pattern = [(0.0, 4.0, root)]
        elif recipe.bass == "half":
            pattern = [(0.0, 2.0, root), (2.0, 2.0, root if b % 2 else fifth)]
        elif recipe.bass == "pulse":
            pattern = [(k * 0.5, 0.42, root) for k in range(8)]
        elif recipe.bass == "bounce":
            pattern = [(0.0, 0.8, root), (1.0, 0.8, fifth), (2.0, 0.8, root + 12), (3.0, 0.8, fifth)]
        else:  # octaves
            pattern = [(0.0, 1.8, root), (2.0, 0.9, root + 12), (3.0, 0.9, root)]
        for at, length, note in pattern:
            gate = end - start + 0.05 if (b == last and held) else length * beat
            short = length < 1.0
            env: ADSR = (0.01, 0.12, 0.55, 0.08) if short else (0.05, 0.4, 0.8, 0.6)
            events.append(
                _Event(start + at * beat, _Note("sub", note, 400.0, gate, env), 0.26 if short else 0.3)
            )

    # arpeggio
    if recipe.arp:
        shift = int(rng_arp.integers(0, 4))
        steps = round(4 / recipe.arp_step)
        for b in body:
            tones = _voice(chords[b], recipe.register + 7, recipe.register + 19)
            tones = [*tones, tones[0] + 12]
            if recipe.arp == "updown":
                seq = tones + tones[-2:0:-1]
            elif recipe.arp == "ostinato":
                seq = [tones[0], tones[0], tones[-1], tones[0], tones[1], tones[0], tones[-1], tones[1]]
            else:  # up | broken (broken: the same line with seeded rests)
                seq = tones
            for s in range(steps):
                if recipe.arp == "broken" and rng_arp.random() < 0.45:
                    continue
                gate = recipe.arp_step * beat * (0.5 if recipe.arp == "ostinato" else 0.9)
                sound = _Note(
                    recipe.arp_timbre,
                    seq[(s + shift) % len(seq)],
                    recipe.arp_cutoff_hz,
                    gate,
                    (0.005, 0.18, 0.25, 0.35),
                    phase=float(rng_arp.random()),
                )
                accent = 1.0 if s % max(1, steps // 4) == 0 else 0.75
                pan = -0.35 + 0.7 * ((s * 3) % steps) / max(1, steps - 1)
                events.append(_Event(b * bar + s * recipe.arp_step * beat, sound, 0.075 * accent, pan, 0.7))

    # melody: a seeded, mostly stepwise line; chord tones on strong beats; it ends on the tonic
    if recipe.melody:
        scale = _SCALE[recipe.mode]
        notes = sorted(
            x for x in (60 + (tonic + d) % 12 + 12 * o for o in (0, 1, 2) for d in scale) if 65 <= x <= 86
        )
        current = min(notes, key=lambda x: abs(x - (72 + tonic % 12)))
        timbre = {"bell": "glass", "pluck": "pluck", "flute": "flute"}[recipe.melody]
        env_m: ADSR = (0.005, 0.5, 0.3, 0.6) if recipe.melody == "pluck" else (0.08, 0.3, 0.75, 0.5)
        for b in body:
            if b % 4 == 3 and rng_mel.random() < 0.5:
                continue  # breathe
            chord_pcs = {(chords[b].root + iv) % 12 for iv in chords[b].intervals}
            for at, length in _MELODY_RHYTHMS[int(rng_mel.integers(len(_MELODY_RHYTHMS)))]:
                if at in (0, 2):
                    near = [x for x in notes if x % 12 in chord_pcs and abs(x - current) <= 5]
                    if near:
                        current = near[int(rng_mel.integers(len(near)))]
                else:
                    i = notes.index(current) + int(rng_mel.choice([-2, -1, -1, 1, 1, 2]))
                    current = notes[min(len(notes) - 1, max(0, i))]
                sound = _Note(timbre, current, 2600.0, length * beat * 0.95, env_m)
                events.append(_Event(b * bar + at * beat, sound, 0.09, 0.15, 0.8))
        if coda > 0:
            final = min((x for x in notes if x % 12 == tonic % 12), key=lambda x: abs(x - current))
            sound = _Note(timbre, final, 2600.0, max(0.5, end - coda * bar), env_m)
            events.append(_Event(coda * bar, sound, 0.08, 0.15, 0.8))

    # percussion
    if recipe.percussion:
        for b in body:
            for drum, at, gain in _PERCUSSION[recipe.percussion]:
                jitter = float(rng_drum.normal(0, 0.04))
                events.append(
                    _Event(b * bar + at * beat, drum, gain * (1 + jitter), 0.1 if drum == "shaker" else 0.0)
                )
    events.sort(key=lambda e: e.at_s)  # stable: same-time events keep their (seeded) order
    return events


# ------------------------------------------------------------------------------------------------
# synthesis: wavetable voices, ADSR envelopes, drums; rendered in bounded chunks
# ------------------------------------------------------------------------------------------------

_table_cache: dict[tuple[str, float, int], np.ndarray] = {}


def _table(timbre: str, note: int, cutoff_hz: float) -> np.ndarray:
    """One period of a band-limited waveform for `note`, through a static 2nd-order low-pass."""
    key = (timbre, round(cutoff_hz), note)
    hit = _table_cache.get(key)
    if hit is not None:
        return hit
    f0 = _midi_hz(note)
    x = np.arange(TABLE_SIZE) / TABLE_SIZE
    shape = np.zeros(TABLE_SIZE)
    for k in range(1, max(1, min(24, int((SAMPLE_RATE * 0.45) // f0))) + 1):
        if timbre == "soft":
            amp = (1.0, 0.3, 0.1, 0.04)[k - 1] if k <= 4 else 0.0
        elif timbre == "glass":
            amp = 1.0 / k if k % 2 == 1 else 0.15 / k  # mostly odd harmonics: hollow, glassy
        elif timbre == "sub":
            amp = (1.0, 0.35, 0.12)[k - 1] if k <= 3 else 0.0
        elif timbre == "flute":
            amp = (1.0, 0.2, 0.12, 0.05)[k - 1] if k <= 4 else 0.0
        else:  # warm | strings | dark | pluck: a sawtooth
            amp = 1.0 / k
        amp /= math.sqrt(1.0 + (k * f0 / cutoff_hz) ** 4)
        if amp > 1e-4:
            shape += amp * np.sin(2 * math.pi * k * x)
    table = (shape / max(1e-9, float(np.abs(shape).max()))).astype(np.float32)
    if len(_table_cache) > 2048:
        _table_cache.clear()
    _table_cache[key] = table
    return table


class _Synth:
    """Turns events into samples; caches envelopes, and ramps sized to the longest event."""

    def __init__(self, sr: int, longest_s: float, rng: np.random.Generator) -> None:
        self.sr = sr
        size = round((longest_s + 0.1) * sr)
        self.ramp = np.arange(size, dtype=np.float64)
        self.steps = np.arange(size, dtype=np.uint32)
        self.envs: dict[tuple[int, ADSR], np.ndarray] = {}
        self.kit = self._kit(rng)

    def sound(self, s: _Note | str) -> np.ndarray:
        if isinstance(s, str):
            return self.kit[s]
        env = self.env(s.gate_s, s.adsr)
        hz = _midi_hz(s.note) * 2.0 ** (s.cents / 1200.0)
        return self.osc(_table(s.timbre, s.note, s.cutoff_hz), hz, env.size, s.phase) * env

    def osc(self, table: np.ndarray, hz: float, length: int, phase: float) -> np.ndarray:
        """Wavetable oscillator on a 32-bit phase accumulator (its wrap-around is the modulo)."""
        acc = self.steps[:length] * np.uint32(round(hz / self.sr * 2.0**32) % 2**32)
        acc += np.uint32(int(phase * 2.0**32) % 2**32)
        acc >>= np.uint32(32 - TABLE_BITS)
        return table[acc]

    def env(self, gate_s: float, adsr: ADSR) -> np.ndarray:
        """ADSR: attack, decay to the sustain level, hold while the gate is open, then release."""
        key = (round(gate_s * self.sr), adsr)
        hit = self.envs.get(key)
        if hit is not None:
            return hit
        attack, decay, sustain, release = adsr
        attack = min(attack, gate_s * 0.9)
        decay = min(decay, max(1e-3, gate_s - attack))
        knee = sustain if gate_s >= attack + decay else 1 - (1 - sustain) * (gate_s - attack) / decay
        length = min(self.ramp.size, max(1, round((gate_s + release) * self.sr)))
        t = self.ramp[:length] / self.sr
        env = np.interp(
            t, [0.0, attack, attack + decay, gate_s, gate_s + release], [0.0, 1.0, sustain, knee, 0.0]
        ).astype(np.float32)
        if len(self.envs) > 256:
            self.envs.clear()
        self.envs[key] = env
        return env

    def _kit(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        sr = self.sr

        def sweep(f_end: float, f_add: float, tau: float, decay: float, length: float) -> np.ndarray:
            t = np.arange(round(length * sr)) / sr
            phase = 2 * math.pi * (f_end * t + f_add * tau * (1 - np.exp(-t / tau)))
            return np.sin(phase) * np.minimum(1.0, t / 0.002) * np.exp(-t / decay)

        def noise(length: float, decay: float, smooth: int) -> np.ndarray:
            n = round(length * sr)
            bright = np.diff(rng.standard_normal(n), prepend=0.0)  # first difference: a high-pass
            if smooth > 1:
                bright = np.convolve(bright, np.ones(smooth) / smooth, mode="same")
            t = np.arange(n) / sr
            return bright / max(1e-9, float(np.abs(bright).max())) * np.exp(-t / decay)

        kit = {
            "kick": sweep(46.0, 70.0, 0.035, 0.16, 0.45),
            "tom": sweep(78.0, 60.0, 0.05, 0.28, 0.7),
            "shaker": noise(0.09, 0.022, 1),
            "snare": 0.6 * noise(0.25, 0.07, 3) + 0.4 * sweep(180.0, 40.0, 0.02, 0.06, 0.25),
        }
        return {name: sig.astype(np.float32) for name, sig in kit.items()}


ROOM_TAPS = (
    (0.031, 0.053, 0.079, 0.109, 0.149, 0.197, 0.263, 0.347),
    (0.037, 0.061, 0.089, 0.127, 0.167, 0.223, 0.293, 0.389),
)
ROOM_SMOOTH = 12  # samples of moving average on the reflections (a gentle low-pass)
ROOM_WET = 0.28
CHUNK_S = 8.0


def _room(send: np.ndarray, sr: int, keep: int) -> np.ndarray:
    """Early reflections of `send` (2, history + chunk) for its last `keep` samples, cross-fed."""
    n = send.shape[1]
    wet = np.zeros((2, keep + ROOM_SMOOTH))
    base = n - keep - ROOM_SMOOTH  # index in `send` of wet[:, 0]
    for ch in (0, 1):
        for i, delay in enumerate(ROOM_TAPS[ch]):
            d = round(delay * sr)
            src = send[(i + ch) % 2]
            lo = base - d  # >= 0: the caller keeps enough history
            wet[ch] += 0.75**i * src[lo : lo + keep + ROOM_SMOOTH]
    c = np.cumsum(wet, axis=1)
    return (c[:, ROOM_SMOOTH:] - c[:, :-ROOM_SMOOTH]) / ROOM_SMOOTH


def render_music(
    plan: MusicPlan, on_progress: Progress | None = None, cancelled: Cancelled | None = None
) -> np.ndarray:
    """Synthesise `plan` into float32 samples shaped (samples, 2): RMS about -20 dBFS, peak at most
    -3 dBFS. Events are rendered chunk by chunk, so working memory stays small for long tracks."""
    sr, n = plan.sample_rate, plan.samples
    events = _score(plan)
    longest = max([1.0, *(e.sound.gate_s + e.sound.adsr[3] for e in events if isinstance(e.sound, _Note))])
    synth = _Synth(sr, longest, _rng(plan.seed, plan.mood, "kit"))  # drums are all shorter than 1 s
    chunk = round(CHUNK_S * sr)
    tail = synth.ramp.size + 1
    history = round(max(ROOM_TAPS[1]) * sr) + ROOM_SMOOTH + 1
    dry = np.zeros((2, chunk + tail), dtype=np.float32)
    send = np.zeros((2, history + chunk + tail), dtype=np.float32)  # [history | this chunk | tails]
    out = np.empty((n, 2), dtype=np.float32)
    energy, peak = 0.0, 0.0
    fade_in, fade_out = _fades(plan)
    bar = plan.bar_s
    k = 0
    for c0 in range(0, n, chunk):
        if cancelled is not None and cancelled():
            raise CancelledByUser("music generation cancelled")
        c1 = min(n, c0 + chunk)
        while k < len(events) and round(events[k].at_s * sr) < c1:
            e = events[k]
            k += 1
            start = round(e.at_s * sr) - c0
            sig = synth.sound(e.sound)[: n - c0 - start]
            angle = (e.pan + 1.0) * math.pi / 4.0
            end = start + sig.size
            for ch, g in ((0, math.cos(angle)), (1, math.sin(angle))):
                g *= math.sqrt(2) * e.gain
                dry[ch, start:end] += np.float32(g) * sig
                if e.send:
                    send[ch, history + start : history + end] += np.float32(g * e.send) * sig
        width = c1 - c0
        block = dry[:, :width] + ROOM_WET * _room(send[:, : history + width], sr, width)
        t = np.arange(c0, c1) / sr
        gain = 1.0 + 0.05 * np.sin(2 * math.pi * t / (2 * bar) + plan.seed % 7)  # slow breathing
        if c0 < fade_in * sr:
            gain *= np.sin(np.minimum(1.0, t / max(fade_in, 1e-3)) * math.pi / 2) ** 2
        if c1 > n - fade_out * sr - 1:
            left = (n - 1) / sr - t  # seconds to the last sample, which is silent
            gain *= np.sin(np.clip(left / max(fade_out, 1e-3), 0.0, 1.0) * math.pi / 2) ** 2
        block *= gain
        out[c0:c1] = block.T
        energy += float(np.dot(block[0], block[0]) + np.dot(block[1], block[1]))
        peak = max(peak, float(np.abs(block).max()))
        # slide the buffers by one chunk: tails become the start of the next chunk
        dry[:, : dry.shape[1] - width] = dry[:, width:]
        dry[:, dry.shape[1] - width :] = 0.0
        send[:, : send.shape[1] - width] = send[:, width:]
        send[:, send.shape[1] - width :] = 0.0
        if on_progress is not None:
            on_progress(0.95 * c1 / n)
    # a background level: RMS about -20 dBFS, and never above a -3 dBFS peak
    rms = math.sqrt(energy / (2 * n))
    if rms > 1e-12 and peak > 1e-12:
        out *= np.float32(min(10 ** (TARGET_RMS_DBFS / 20) / rms, 10 ** (PEAK_CEILING_DBFS / 20) / peak))
    if on_progress is not None:
        on_progress(1.0)
    return out


def levels_dbfs(samples: np.ndarray) -> tuple[float, float]:
    """(RMS, peak) of float samples, in dBFS."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    peak = float(np.abs(samples).max())
    return (20 * math.log10(max(rms, 1e-12)), 20 * math.log10(max(peak, 1e-12)))


def write_wav(samples: np.ndarray, path: Path, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV, written to a temp name and renamed (never a half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(samples.shape[1] if samples.ndim == 2 else 1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            for i in range(0, len(samples), 1 << 20):  # in blocks: no full-length int16 copy
                block = np.clip(np.round(samples[i : i + (1 << 20)] * 32767.0), -32768, 32767)
                w.writeframes(block.astype("<i2").tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class MusicInfo:
    plan: MusicPlan
    rms_dbfs: float
    peak_dbfs: float


class ProceduralMusic:
    """The offline background-music provider: `generate(mood, duration_s, out_wav, seed=...)`."""

    name = "procedural"

    def generate(
        self,
        mood: str | None,
        duration_s: float,
        out_wav: Path,
        *,
        seed: int,
        hints: Sequence[str] = (),
        on_progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> MusicInfo:
        plan = plan_music(mood, duration_s, seed, hints)
        samples = render_music(plan, on_progress, cancelled)
        write_wav(samples, out_wav, plan.sample_rate)
        rms, peak = levels_dbfs(samples)
        return MusicInfo(plan=plan, rms_dbfs=round(rms, 2), peak_dbfs=round(peak, 2))
