"""Storyboard providers: turn a story sentence into a validated `Storyboard`.

Rule: the offline storyboarder is a pure function of (story, shot_count, style) — no clock, no
global randomness, only an RNG seeded from a hash of the input — so retries and replays give the
same storyboard. Every provider returns a `Storyboard` that already passed schema validation.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any, Protocol

from schema.errors import BadInputError, ProviderUnavailableError
from schema.storyboard import Camera, SceneSpec, ShotSpec, Storyboard, validate_story_request
from schema.text import cjk_count, language_of

__all__ = [
    "OfflineStoryboarder",
    "StoryboardProvider",
    "get_storyboard_provider",
    "parse_story",
]


class StoryboardProvider(Protocol):
    name: str

    def generate(self, story: str, shot_count: int, style: str | None = None) -> Storyboard: ...


# --------------------------------------------------------------------------------------------
# story parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedStory:
    """What the offline storyboarder understood from the story text."""

    language: str
    subject: str  # "fox", "Mia", "狐狸"
    subject_ref: str  # how narration refers to it: "the fox", "Mia", "狐狸"
    action: str  # "steals the moon", "偷走了月亮" (may be empty)
    action_base: str  # "steal the moon" when derivable, else ""
    places: list[tuple[str, str]]  # (preposition, place)
    time_of_day: str
    style: str | None
    sentences: list[str]  # the story's own sentences (command prefix and style removed)


_EN_COMMAND = re.compile(
    r"^\s*(?:please\s+)?(?:(?:make|create|generate|write|build|draw|produce|give\s+me|i\s+want)\s+)"
    r"(?:me\s+)?(?:an?\s+|the\s+)?(?:\d+\s*[- ]?\s*shots?\s+)?"
    r"(?:(?:storyboard|story|video|film|short|animation|comic|clip)s?\s*)?"
    r"(?:(?:about|of|on|where|in\s+which|that\s+shows)\s+)?",
    re.IGNORECASE,
)
_EN_SHOTS = re.compile(r"\b\d+\s*[- ]?\s*shots?\b", re.IGNORECASE)
_EN_STYLE = re.compile(
    r"(?:[,;]\s*|\s+in\s+(?:an?\s+)?|^)([a-z][a-z0-9\- ]{1,40}?)\s+style\b\.?", re.IGNORECASE
)
_ZH_COMMAND = re.compile(
    r"^\s*(?:请)?(?:帮我|给我)?(?:做|制作|生成|写|创作|画)(?:一个|一部|一段|个|一组)?"
    r"(?:\d+\s*个?(?:镜头|分镜)的?)?(?:分镜|故事板|故事|视频|短片|动画)?[，,:：\s]*"
    r"(?:讲述|讲|关于|描述)?(?:的是|了)?[，,:：\s]*"
)
_ZH_STYLE = re.compile(r"[，,；;]?\s*([^\s，,。；;]{1,8}?)(?:风格|画风)")
_DETERMINERS = {"a", "an", "the", "one", "some", "this", "that", "my", "our", "his", "her", "their"}
_EN_OPENERS = re.compile(
    r"^(?:once\s+upon\s+a\s+time,?\s*|one\s+(?:day|night|morning|evening),?\s*|"
    r"there\s+(?:was|is|lived|lives)\s+|in\s+a\s+world\s+where\s+)",
    re.IGNORECASE,
)
_RELATIVE = {"who", "that", "which", "whose"}
_OBJECT_DETERMINERS = {"a", "an", "the", "his", "her", "its", "their", "my", "our", "this", "that"}
_NOT_PROPER = {
    "two", "three", "four", "five", "six", "many", "several", "all", "young", "old", "little", "tiny",
    "brave", "lonely", "small", "big", "once", "every",
}  # fmt: skip
_FOLLOWERS = _DETERMINERS | {
    "to", "into", "in", "on", "at", "from", "with", "for", "across", "through", "up", "down", "out",
    "away", "over", "under", "after", "off", "back", "his", "her", "its", "their", "him", "them",
    "it", "all", "every", "no", "home", "alone", "together", "again",
}  # fmt: skip
_COMMON_VERBS = {
    "is", "was", "are", "were", "has", "had", "can", "could", "will", "would", "must", "goes", "went",
    "finds", "found", "meets", "met", "loses", "lost", "steals", "stole", "wants", "wanted", "learns",
    "learned", "tries", "tried", "becomes", "became", "saves", "saved", "discovers", "discovered",
    "runs", "ran", "flies", "flew", "falls", "fell", "builds", "built", "makes", "made", "takes",
    "took", "gets", "got", "sees", "saw", "fights", "fought", "escapes", "escaped", "searches",
    "dreams", "dreamed", "travels", "travelled", "traveled", "chases", "chased", "helps", "helped",
}  # fmt: skip
_EN_STOP_PLACE = {
    "who", "that", "which", "and", "to", "with", "while", "when", "but", "because", "as", "so", "where",
    "before", "after", "until", "then",
}  # fmt: skip
_EN_PLACE = re.compile(
    r"\b(in|on|at|across|through|into|inside|near|beyond|above|under)\s+((?:the|a|an)\s+)?"
    r"([a-z][a-z\-']*(?:\s+[a-z][a-z\-']*){0,3})",
    re.IGNORECASE,
)
_EN_NOT_PLACES = {
    "order", "time", "love", "vain", "fact", "secret", "silence", "return", "search", "style", "midnight",
    "noon", "dawn", "dusk", "night", "once", "first", "last", "all", "least", "sunset", "sunrise", "the",
    "morning", "evening", "day", "front", "turn", "spite", "which", "whom",
}  # fmt: skip
_EN_PREP = {
    "in": "in", "inside": "in", "into": "in", "through": "in", "on": "on", "across": "on", "over": "on",
    "above": "above", "at": "at", "near": "near", "beyond": "beyond", "under": "under",
}  # fmt: skip
_ZH_PLACE = re.compile(r"在([^，,。！？!?；;\s]{1,6}?)(?:里|中|上|下|边|旁|外)")
_ZH_VERB_HINTS = (
    "偷", "找", "去", "在", "想", "要", "把", "被", "发现", "遇", "爱", "是", "和", "救", "学", "变", "打",
    "走", "跑", "飞", "吃", "看", "做", "带", "寻", "追", "逃", "回", "来", "拯救", "保护", "守", "决定",
    "踏上", "离开", "爬", "游", "唱", "画", "等", "梦", "偷偷", "捡", "拿", "抓", "送", "帮",
)  # fmt: skip
_ZH_MEASURE = re.compile(
    r"^(?:从前|很久以前|有一天|某天)?[，,]?(?:有)?(?:一|两|三|几)?(?:只|个|位|条|头|名|群|匹|棵|颗|座|把|台)?"
)


def _split_sentences(text: str, language: str) -> list[str]:
    parts = re.split(r"(?<=[。！？!?；;])", text) if language == "zh" else re.split(r"(?<=[.!?;])\s+", text)
    return [p.strip() for p in parts if p and p.strip(" .。,，")]


def _en_base_form(verb: str) -> str:
    v = verb.lower()
    irregular = {"is": "be", "has": "have", "does": "do", "goes": "go", "can": "", "will": ""}
    if v in irregular:
        return irregular[v]
    if v.endswith("ies") and len(v) > 4:
        return v[:-3] + "y"
    if re.search(r"(ches|shes|sses|xes|zes|oes)$", v):
        return v[:-2]
    if v.endswith("s") and not v.endswith("ss") and len(v) > 3:
        return v[:-1]
    return ""


def _parse_en(text: str) -> tuple[str, str, str, str]:
    """Return (subject, subject_ref, action, action_base) from the first English clause."""
    first = re.split(r"[.!?;]", text, maxsplit=1)[0]
    first = _EN_OPENERS.sub("", first.strip())
    words = re.findall(r"[A-Za-z][A-Za-z'\-]*|\d+", first)
    if not words:
        return "hero", "the hero", "", ""
    had_det = False
    i = 0
    while i < len(words) - 1 and words[i].lower() in _DETERMINERS:
        had_det = True
        i += 1
    start = i
    verb_at: int | None = None
    relative = False
    for j in range(start, min(len(words), start + 6)):
        w = words[j].lower()
        nxt = words[j + 1].lower() if j + 1 < len(words) else None
        if j > start and w in _RELATIVE:
            verb_at, relative = j, True
            break
        if j == start:
            continue
        if w in _COMMON_VERBS:
            verb_at = j
            break
        looks_verb = (w.endswith("s") and not w.endswith(("ss", "us", "is"))) or w.endswith("ed")
        if (looks_verb and (nxt is None or nxt in _FOLLOWERS)) or nxt in _OBJECT_DETERMINERS:
            verb_at = j
            break
    if verb_at is None:
        subject_words = words[start : start + min(3, len(words) - start)]
        action_words: list[str] = []
    else:
        subject_words = words[start:verb_at][-4:]
        action_words = words[verb_at + (1 if relative else 0) :]
    subject = " ".join(subject_words) or "hero"
    proper = (
        not had_det
        and bool(subject_words)
        and all(w[:1].isupper() for w in subject_words)
        and subject_words[0].lower() not in _NOT_PROPER
    )
    subject_ref = subject if proper else f"the {subject.lower()}"
    if not proper:
        subject = subject.lower()
    # keep the action readable: stop at a comma, cap at 12 words
    clause = re.split(r"[,—–:]", first)
    action = ""
    if action_words:
        joined = " ".join(action_words)
        for part in clause:
            if action_words[0] in part:
                tail = part[part.index(action_words[0]) :]
                joined = " ".join(re.findall(r"[A-Za-z][A-Za-z'\-]*|\d+", tail))
                break
        action = " ".join(joined.split()[:12])
    base = ""
    if action:
        verb, _, rest = action.partition(" ")
        b = _en_base_form(verb)
        if b:
            base = f"{b} {rest}".strip()
    return subject, subject_ref, action, base


def _parse_zh(text: str) -> tuple[str, str, str, str]:
    first = re.split(r"[。！？!?；;，,]", text, maxsplit=1)[0].strip()
    first = _ZH_MEASURE.sub("", first, count=1) or first
    cut = None
    for k in range(1, min(len(first), 7)):
        if any(first.startswith(h, k) for h in _ZH_VERB_HINTS):
            cut = k
            break
    if cut is None:
        cut = min(len(first), 2) if len(first) > 4 else len(first)
    subject = first[:cut].strip() or "主角"
    action = first[cut:].strip()
    return subject, subject, action, ""


def _extract_places(text: str, language: str) -> list[tuple[str, str]]:
    """(preposition, place) pairs in story order: ("on", "the lake"); zh preposition is ""."""
    places: list[tuple[str, str]] = []
    if language == "zh":
        for m in _ZH_PLACE.finditer(text):
            places.append(("", m.group(1)))
    else:
        for m in _EN_PLACE.finditer(text):
            words = []
            for w in m.group(3).split():
                if w.lower() in _EN_STOP_PLACE:
                    break
                words.append(w.lower())
            if not words or words[0] in _EN_NOT_PLACES:
                continue
            det = (m.group(2) or "the ").strip().lower()
            places.append((_EN_PREP[m.group(1).lower()], f"{det} {' '.join(words)}"))
    seen: list[tuple[str, str]] = []
    for p in places:
        if p[1] not in [q[1] for q in seen]:
            seen.append(p)
    return seen[:5]


_TIME_WORDS_EN = (
    ("night", ("night", "moon", "star", "midnight", "dark", "neon")),
    ("dawn", ("dawn", "sunrise", "daybreak")),
    ("dusk", ("dusk", "sunset", "twilight", "evening")),
    ("morning", ("morning",)),
    ("day", ("day", "noon", "sun", "summer")),
)
_TIME_WORDS_ZH = (
    ("夜晚", ("夜", "月", "星", "晚上", "霓虹")),
    ("黎明", ("黎明", "日出", "清晨")),
    ("黄昏", ("黄昏", "日落", "傍晚")),
    ("白天", ("白天", "中午", "太阳", "夏天")),
)
_AT_TIME = {
    "night": "at night",
    "dawn": "at dawn",
    "dusk": "at dusk",
    "morning": "in the morning",
    "day": "by day",
    "golden hour": "in the golden hour",
}
_ONE_TIME = {"night": "night", "dusk": "evening", "dawn": "morning", "morning": "morning", "day": "day"}
_NEXT_TIME = {
    "night": "dawn",
    "dawn": "morning",
    "morning": "day",
    "day": "dusk",
    "dusk": "night",
    "golden hour": "dusk",
    "夜晚": "黎明",
    "黎明": "白天",
    "白天": "黄昏",
    "黄昏": "夜晚",
}


def _time_of_day(text: str, language: str, rng: random.Random) -> str:
    table = _TIME_WORDS_ZH if language == "zh" else _TIME_WORDS_EN
    low = text.lower()
    for name, words in table:
        if any(w in low for w in words):
            return name
    return rng.choice(["白天", "黄昏"] if language == "zh" else ["day", "golden hour", "dusk"])


def parse_story(story: str, style: str | None = None) -> ParsedStory:
    """Understand a story sentence: language, subject, action, places, time of day and style."""
    text = story.strip()
    language = language_of(text)
    found_style = style
    if language == "zh":
        text = _ZH_COMMAND.sub("", text, count=1) or text
        m = _ZH_STYLE.search(text)
        if m:
            found_style = found_style or m.group(1)
            text = (text[: m.start()] + text[m.end() :]).strip(" ，,。") or text
    else:
        text = _EN_COMMAND.sub("", text, count=1) or text
        text = _EN_SHOTS.sub("", text)
        m = _EN_STYLE.search(text)
        if m:
            found_style = found_style or m.group(1).strip()
            text = (text[: m.start()] + text[m.end() :]).strip(" ,;.") or text
        text = re.sub(r"\s{2,}", " ", text).strip()
    text = text or story.strip()
    if language == "zh":
        subject, ref, action, base = _parse_zh(text)
    else:
        subject, ref, action, base = _parse_en(text)
    seed_rng = random.Random(_seed(story, 0, style))
    return ParsedStory(
        language=language,
        subject=subject,
        subject_ref=ref,
        action=action,
        action_base=base,
        places=_extract_places(text, language),
        time_of_day=_time_of_day(text, language, seed_rng),
        style=(found_style or None),
        sentences=_split_sentences(text, language),
    )


def _seed(story: str, shot_count: int, style: str | None) -> int:
    digest = hashlib.sha256(f"{story}\x00{shot_count}\x00{style or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


# --------------------------------------------------------------------------------------------
# beats, cameras, text templates
# --------------------------------------------------------------------------------------------

BEATS: tuple[str, ...] = (
    "establishing",
    "introduce",
    "inciting",
    "rising",
    "setback",
    "climax",
    "resolution",
)
_BEAT_WEIGHTS = {
    "establishing": 0.4,
    "introduce": 0.8,
    "inciting": 0.8,
    "rising": 3.0,
    "setback": 1.0,
    "climax": 1.2,
    "resolution": 0.4,
}
# prefixed to a template line when a long storyboard has used every line of a beat once already
_CONNECTIVES = {
    "en": ("", "Again, ", "Still, ", "Once more, ", "Even now, ", "And then, ", "Meanwhile, ", "Slowly, "),
    "zh": ("", "再一次，", "依然，", "接着，", "此刻，", "然后，", "与此同时，", "慢慢地，"),
}
_BEAT_PRIORITY = ("establishing", "resolution", "climax", "inciting", "introduce", "rising", "setback")

_BEAT_CAMERA: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "establishing": (
        ("extreme_wide", "wide"),
        ("high", "birds_eye", "eye_level"),
        ("pan_right", "pull_out", "pan_left", "tilt_down", "static"),
    ),
    "introduce": (
        ("full", "medium", "medium_close"),
        ("eye_level", "over_shoulder", "low"),
        ("push_in", "static", "tracking"),
    ),
    "inciting": (
        ("medium_close", "close_up", "medium"),
        ("low", "dutch", "eye_level"),
        ("push_in", "static", "pan_left"),
    ),
    "rising": (
        ("wide", "full", "medium", "medium_close", "close_up"),
        ("eye_level", "low", "high", "over_shoulder", "dutch"),
        ("tracking", "pan_right", "pan_left", "tilt_up", "push_in"),
    ),
    "setback": (
        ("wide", "medium", "close_up"),
        ("dutch", "high", "birds_eye"),
        ("pull_out", "tilt_down", "static"),
    ),
    "climax": (
        ("close_up", "extreme_close_up", "medium_close", "wide"),
        ("low", "dutch", "eye_level"),
        ("push_in", "tracking", "tilt_up"),
    ),
    "resolution": (
        ("wide", "extreme_wide", "full"),
        ("eye_level", "high", "birds_eye"),
        ("pull_out", "static", "tilt_up"),
    ),
}

_MOOD = {
    "en": {
        "establishing": "calm",
        "introduce": "curious",
        "inciting": "expectant",
        "rising": "tense",
        "setback": "bleak",
        "climax": "triumphant",
        "resolution": "serene",
    },
    "zh": {
        "establishing": "宁静",
        "introduce": "好奇",
        "inciting": "期待",
        "rising": "紧张",
        "setback": "低落",
        "climax": "激昂",
        "resolution": "温暖",
    },
}

_SCENE_TITLES = {
    "en": {
        "establishing": "The World Before",
        "introduce": "Meet {T}",
        "inciting": "A Bold Idea",
        "rising": "The Journey",
        "setback": "Everything Goes Wrong",
        "climax": "The Moment of Truth",
        "resolution": "Afterwards",
    },
    "zh": {
        "establishing": "故事开始的地方",
        "introduce": "认识{s}",
        "inciting": "大胆的念头",
        "rising": "踏上旅程",
        "setback": "意外",
        "climax": "关键时刻",
        "resolution": "尾声",
    },
}

_SCENE_GOALS = {
    "en": {
        "establishing": "Establish {place} and its mood",
        "introduce": "Introduce {s} and what they want",
        "inciting": "{S} commits to the plan",
        "rising": "Raise the stakes as {s} pushes on",
        "setback": "Put {s} in real danger",
        "climax": "{S} faces the decisive moment",
        "resolution": "Show what has changed",
    },
    "zh": {
        "establishing": "交代{place}和整体氛围",
        "introduce": "介绍{s}和它的愿望",
        "inciting": "{s}下定决心",
        "rising": "{s}不断前进，冲突升级",
        "setback": "让{s}陷入真正的危险",
        "climax": "{s}迎来决定性的时刻",
        "resolution": "展示一切的改变",
    },
}

_NARRATION = {
    "en": {
        "establishing": (
            "Our story begins {in_place}, {at_time}.",
            "{Place} lies quiet under the {time} sky.",
            "{Place}. Everything is still.",
        ),
        "introduce": (
            "Here lives {s}, restless and curious.",
            "{S} watches the world with bright, hungry eyes.",
            "No one pays much attention to {s}. Not yet.",
        ),
        "inciting": (
            "One {one_time}, {s} sets out to {base}.",
            "Then {s} has a daring idea.",
            "Something changes, and {s} cannot look away.",
        ),
        "rising": (
            "Step by step, {s} draws closer.",
            "The path grows harder, but {s} keeps going.",
            "{S} moves quickly, careful not to be seen.",
            "Every moment, the stakes rise.",
            "Nothing is as easy as it looked.",
            "{S} does not stop to look back.",
        ),
        "setback": (
            "Suddenly, everything goes wrong.",
            "{S} stumbles, and for a moment all seems lost.",
            "The world pushes back, hard.",
        ),
        "climax": (
            "At last, {s} {action}!",
            "With one final effort, {s} holds on.",
            "This is the moment everything was leading to.",
        ),
        "resolution": (
            "And {s} knows that nothing will ever be the same.",
            "{Place} is changed forever.",
            "The {time} fades, and the story is told.",
        ),
    },
    "zh": {
        "establishing": (
            "故事从{time}的{place}开始。",
            "{time}的{place}，一片寂静。",
            "{place}静悄悄的，一切都还没有发生。",
        ),
        "introduce": (
            "{s}就住在这里，好奇又不安分。",
            "{s}静静地望着这个世界。",
            "谁也没有注意到{s}，至少现在还没有。",
        ),
        "inciting": (
            "有一天，{s}心里有了一个大胆的计划。",
            "{s}决定不再等待。",
            "一切都变了，{s}再也移不开目光。",
        ),
        "rising": (
            "{s}一步步靠近目标。",
            "路越来越难走，但{s}没有停下。",
            "{s}小心翼翼，不让任何人发现。",
            "每一刻都更加紧张。",
            "事情远没有想象中简单。",
            "{s}没有回头。",
        ),
        "setback": (
            "突然，一切都出了差错。",
            "{s}跌倒了，似乎一切都完了。",
            "整个世界都在和{s}作对。",
        ),
        "climax": (
            "终于，{s}{action}！",
            "{s}用尽了最后的力气。",
            "这就是决定一切的时刻。",
        ),
        "resolution": (
            "{s}知道，一切都已经改变。",
            "{place}从此不再一样。",
            "{time}渐渐过去，故事讲完了。",
        ),
    },
}

_VISUAL = {
    "en": {
        "establishing": (
            "{place} {at_time}, {s} tiny in the distance",
            "the world of the story: {place} in {time} light",
        ),
        "introduce": ("{s} {in_place}, looking around", "{s} in a quiet moment, face and posture in detail"),
        "inciting": ("{s} noticing something that changes everything", "{s} gathering courage"),
        "rising": (
            "{s} on the move, {in_place}",
            "{s} pushing past an obstacle",
            "{s} glancing over a shoulder, hurrying on",
            "{s} closing in on the goal",
        ),
        "setback": ("{s} off balance, in trouble", "{s} alone and thrown back"),
        "climax": ("{s} at full stretch, everything at stake", "{s} {action}, the decisive moment"),
        "resolution": ("{place} after it all, {s} at rest", "{s} small against {place}, a new calm"),
    },
    "zh": {
        "establishing": ("{time}的{place}，远处是{s}小小的身影", "故事的世界：{time}光线下的{place}"),
        "introduce": ("{place}中的{s}，正四处张望", "安静时刻的{s}，表情与姿态的细节"),
        "inciting": ("{s}发现了改变一切的东西", "{s}鼓起勇气"),
        "rising": ("{s}穿过{place}", "{s}越过障碍", "{s}回头张望，继续赶路", "{s}离目标越来越近"),
        "setback": ("{s}失去平衡，陷入困境", "{s}孤零零地被击退"),
        "climax": ("{s}拼尽全力，一切在此一举", "{s}{action}，决定性的瞬间"),
        "resolution": ("尘埃落定后的{place}，{s}终于休息", "{place}中渺小的{s}，重归平静"),
    },
}

_SIZE_WORDS = {
    "en": {
        "extreme_wide": "Extreme wide shot",
        "wide": "Wide shot",
        "full": "Full shot",
        "medium": "Medium shot",
        "medium_close": "Medium close-up",
        "close_up": "Close-up",
        "extreme_close_up": "Extreme close-up",
    },
    "zh": {
        "extreme_wide": "大远景",
        "wide": "远景",
        "full": "全景",
        "medium": "中景",
        "medium_close": "中近景",
        "close_up": "近景特写",
        "extreme_close_up": "大特写",
    },
}
_ANGLE_WORDS = {
    "en": {
        "eye_level": "eye level",
        "low": "low angle",
        "high": "high angle",
        "birds_eye": "bird's-eye view",
        "dutch": "dutch tilt",
        "over_shoulder": "over the shoulder",
    },
    "zh": {
        "eye_level": "平视",
        "low": "仰拍",
        "high": "俯拍",
        "birds_eye": "鸟瞰",
        "dutch": "倾斜构图",
        "over_shoulder": "过肩",
    },
}
_DEFAULT_PLACES = {
    "en": ("a quiet village", "an old harbour town", "a misty forest", "a sleeping city"),
    "zh": ("小镇", "森林", "古城", "海边"),
}


def _allocate_beats(n: int) -> list[str]:
    """Beat per shot: first shot establishes, last resolves, middle follows a weighted arc."""
    if n < len(BEATS):
        chosen = set(_BEAT_PRIORITY[:n])
        return [b for b in BEATS if b in chosen]
    extra = n - len(BEATS)
    total_w = sum(_BEAT_WEIGHTS.values())
    quotas = {b: extra * _BEAT_WEIGHTS[b] / total_w for b in BEATS}
    counts = {b: 1 + int(quotas[b]) for b in BEATS}
    left = n - sum(counts.values())
    for b in sorted(BEATS, key=lambda b: (-(quotas[b] - int(quotas[b])), BEATS.index(b)))[:left]:
        counts[b] += 1
    return [b for b in BEATS for _ in range(counts[b])]


def _scene_count(n: int) -> int:
    if n <= 4:
        return 1
    if n <= 8:
        return 2
    if n <= 14:
        return 3
    if n <= 24:
        return 4
    return 5


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    base, rem = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        size = base + (1 if i < rem else 0)
        out.append((start, start + size))
        start += size
    return out


def _pick_cameras(beats: list[str], rng: random.Random) -> list[Camera]:
    cameras: list[Camera] = []
    offsets = {b: (rng.randrange(7), rng.randrange(7), rng.randrange(7)) for b in BEATS}
    seen_in_beat: dict[str, int] = {}
    for beat in beats:
        k = seen_in_beat.get(beat, 0)
        seen_in_beat[beat] = k + 1
        sizes, angles, moves = _BEAT_CAMERA[beat]
        o_s, o_a, o_m = offsets[beat]
        size = sizes[(k + o_s) % len(sizes)]
        angle_i = (k * 2 + o_a) % len(angles)
        angle = angles[angle_i]
        move_i = (k + o_m) % len(moves)
        if cameras:
            prev = cameras[-1]
            for step in range(len(angles) * len(sizes)):
                if (size, angle) != (prev.size, prev.angle):
                    break
                angle_i = (angle_i + 1) % len(angles)
                angle = angles[angle_i]
                if step % len(angles) == len(angles) - 1:
                    size = sizes[(sizes.index(size) + 1) % len(sizes)]
            if moves[move_i] == prev.movement and len(cameras) >= 2 and cameras[-2].movement == prev.movement:
                move_i = (move_i + 1) % len(moves)
        cameras.append(Camera(size=size, angle=angle, movement=moves[move_i]))  # type: ignore[arg-type]
    return cameras


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _duration_for(narration: str, language: str) -> float:
    units = cjk_count(narration) / 4.2 if language == "zh" else len(narration.split()) / 2.6
    seconds = units + 1.2
    return max(3.0, min(6.0, round(seconds * 2) / 2))


def _title_case(text: str) -> str:
    small = {"a", "an", "the", "and", "of", "to", "in", "on", "at", "for", "with", "from"}
    words = text.split()
    return " ".join(w if (i and w.lower() in small) else _cap(w) for i, w in enumerate(words))


# --------------------------------------------------------------------------------------------
# the provider
# --------------------------------------------------------------------------------------------


class OfflineStoryboarder:
    """Deterministic rule-based storyboarder: no model, no network, same input → same output."""

    name = "offline"

    def generate(self, story: str, shot_count: int, style: str | None = None) -> Storyboard:
        text = validate_story_request(story, shot_count)
        parsed = parse_story(text, style)
        lang = parsed.language
        rng = random.Random(_seed(text, shot_count, style))
        n = shot_count
        beats = _allocate_beats(n)
        cameras = _pick_cameras(beats, rng)

        place_main = parsed.places[0] if parsed.places else ("in", rng.choice(_DEFAULT_PLACES[lang]))
        s_ref = parsed.subject_ref
        fmt_base = {
            "s": s_ref,
            "S": _cap(s_ref),
            "action": parsed.action or ("迎来了转机" if lang == "zh" else "faces the moment of truth"),
            "base": parsed.action_base,
        }

        scene_ranges = _chunks(n, _scene_count(n))
        scene_places = [
            parsed.places[i] if i < len(parsed.places) else place_main for i in range(len(scene_ranges))
        ]
        scene_times = [parsed.time_of_day] * len(scene_ranges)
        if len(scene_ranges) >= 3:
            scene_times[-1] = _NEXT_TIME.get(parsed.time_of_day, parsed.time_of_day)

        story_lines = self._story_lines(parsed, n)
        template_offset = rng.randrange(1000)
        beat_counter: dict[str, int] = {}
        scenes: list[SceneSpec] = []
        used_titles: set[str] = set()
        for si, (a, b) in enumerate(scene_ranges):
            (prep, place), time = scene_places[si], scene_times[si]
            fmt = {
                **fmt_base,
                "place": place,
                "Place": _cap(place),
                "in_place": f"{prep} {place}".strip(),
                "time": time,
                "at_time": _AT_TIME.get(time, f"at {time}"),
                "one_time": _ONE_TIME.get(time, "day"),
            }
            shots: list[ShotSpec] = []
            for i in range(a, b):
                beat = beats[i]
                k = beat_counter.get(beat, 0)
                beat_counter[beat] = k + 1
                narration = story_lines[i] or self._template_line(parsed, beat, k, template_offset, fmt)
                visual = self._visual(parsed, beat, k, cameras[i], fmt, story_lines[i])
                chars = [] if (beat == "establishing" and k == 0) else [parsed.subject]
                shots.append(
                    ShotSpec(
                        visual=visual,
                        camera=cameras[i],
                        duration_s=_duration_for(narration, lang),
                        narration=narration,
                        characters=chars,
                        mood=_MOOD[lang][beat],
                        beat=beat,
                    )
                )
            dominant = max(beats[a:b], key=lambda x: (beats[a:b].count(x), -BEATS.index(x)))
            title = _SCENE_TITLES[lang][dominant].format(T=_title_case(s_ref), s=parsed.subject)
            if title in used_titles:
                title = f"{title} ({'续' if lang == 'zh' else 'cont.'})"
            used_titles.add(title)
            scenes.append(
                SceneSpec(
                    title=title,
                    goal=_SCENE_GOALS[lang][dominant].format(**fmt),
                    place=place,
                    time_of_day=time,
                    mood=_MOOD[lang][dominant],
                    shots=shots,
                )
            )

        return Storyboard(
            title=self._title(parsed),
            logline=self._logline(parsed, text),
            style=parsed.style,
            language=lang,  # type: ignore[arg-type]
            scenes=scenes,
        )

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _story_lines(parsed: ParsedStory, n: int) -> list[str]:
        """The story's own sentences placed on shots in order (empty string = use a template)."""
        lines = [""] * n
        sentences = parsed.sentences
        if len(sentences) < 2:
            return lines
        if len(sentences) > n:
            groups = _chunks(len(sentences), n)
            joiner = "" if parsed.language == "zh" else " "
            return [joiner.join(sentences[a:b])[:600] for a, b in groups]
        # spread sentences over the shots, leaving the first (establishing) shot to the template
        # when there is room for it.
        first = 1 if n - 1 >= len(sentences) else 0
        span = n - first
        for j, sentence in enumerate(sentences):
            pos = first + (round(j * (span - 1) / (len(sentences) - 1)) if len(sentences) > 1 else 0)
            lines[pos] = sentence[:600]
        return lines

    @staticmethod
    def _template_line(parsed: ParsedStory, beat: str, k: int, offset: int, fmt: dict[str, str]) -> str:
        options = list(_NARRATION[parsed.language][beat])
        multi = len(parsed.sentences) >= 2
        if parsed.language == "en" and beat == "inciting" and (multi or not parsed.action_base):
            options = options[1:]
        if beat == "climax" and (multi or not parsed.action):
            options = options[1:]
        if beat in ("climax", "inciting", "establishing") and k == 0:
            return options[0].format(**fmt)
        line = options[(k + offset) % len(options)].format(**fmt)
        cycle = k // len(options)
        if cycle:
            connectives = _CONNECTIVES[parsed.language]
            prefix = connectives[1 + (cycle - 1 + offset) % (len(connectives) - 1)]
            keep_case = parsed.language == "zh" or line.startswith(parsed.subject_ref)
            line = prefix + (line if keep_case else line[:1].lower() + line[1:])
        return line

    @staticmethod
    def _visual(
        parsed: ParsedStory, beat: str, k: int, camera: Camera, fmt: dict[str, str], story_line: str
    ) -> str:
        lang = parsed.language
        size = _SIZE_WORDS[lang][camera.size]
        angle = _ANGLE_WORDS[lang][camera.angle]
        if story_line:
            body = story_line.rstrip("。.!！?？")
        else:
            options = _VISUAL[lang][beat]
            if beat == "climax":
                # the first climax shot shows the action itself when the story is one sentence
                use_action = parsed.action and len(parsed.sentences) < 2 and k == 0
                body = (options[1] if use_action else options[0]).format(**fmt)
            else:
                body = options[k % len(options)].format(**fmt)
        if lang == "zh":
            text = f"{size}，{angle}：{body}，{fmt['time']}"
            if parsed.style:
                text += f"，{parsed.style}风格"
            return text + "。"
        text = f"{size}, {angle}: {body}, {fmt['time']}"
        if parsed.style:
            text += f", {parsed.style} style"
        return text + "."

    @staticmethod
    def _title(parsed: ParsedStory) -> str:
        if parsed.language == "zh":
            title = f"{parsed.subject}{parsed.action}" if parsed.action else parsed.sentences[0]
            return title.strip("。！？!?，,")[:40] or "无题"
        if parsed.action and len(parsed.sentences) < 2:
            if parsed.subject_ref == parsed.subject:  # a name: "Mia Finds a Dragon Egg"
                return _title_case(f"{parsed.subject} {parsed.action}")[:120]
            return _title_case(f"the {parsed.subject} who {parsed.action}")[:120]
        first = parsed.sentences[0] if parsed.sentences else parsed.subject
        return _title_case(first.rstrip(".!?"))[:120] or "Untitled"

    @staticmethod
    def _logline(parsed: ParsedStory, text: str) -> str:
        if parsed.language == "zh":
            return (parsed.sentences[0] if parsed.sentences else text)[:300]
        if parsed.action and len(parsed.sentences) < 2:
            return _cap(f"{parsed.subject_ref} {parsed.action}.")
        return (parsed.sentences[0] if parsed.sentences else text)[:300]


def get_storyboard_provider(name: str, settings: Any = None) -> StoryboardProvider:
    """Provider by name: 'offline', 'auto' (offline unless a cloud provider is usable), 'gemini'."""
    key = (name or "auto").strip().lower()
    if key == "offline":
        return OfflineStoryboarder()
    if key == "auto":
        return OfflineStoryboarder()
    if key == "gemini":
        api_key = getattr(settings, "google_api_key", None) if settings is not None else None
        raise ProviderUnavailableError(
            "The gemini storyboard provider needs GOOGLE_API_KEY and the 'gemini' extra "
            "(pip install 'directordeck[gemini]')"
            + ("" if api_key else "; GOOGLE_API_KEY is not set")
            + ". Use provider 'offline' meanwhile.",
            code="provider_unavailable",
        )
    raise BadInputError(
        f"Unknown storyboard provider {name!r}; choose 'offline', 'auto' or 'gemini'.",
        code="unknown_provider",
    )
