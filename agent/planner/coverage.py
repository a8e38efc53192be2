"""Evidence coverage: which parts of a sentence nothing in the plan explains.

Rules:
- a content word is *explained* when the grammar knows it (a word of the planner's own phrase
  tables and patterns, or an inflection of one), when it is a function word or chat filler, when
  the plan carries it (any free text of an action: a prompt, a patch, a story, a note …), or when
  the planning context holds it (shot lines, scene titles, characters, the story, snapshot notes);
- a setting the sentence names (night, rain, low angle, faster …) that no action carries was
  *dropped*, and so was a request family ("animate", "删除", "配乐" …) that no planned action type
  answers: the reading is partial;
- Chinese has no spaces, so its unit is the character: a CJK character that no grammar string,
  action or context contains is unexplained;
- nothing here decides: the planner lowers its confidence by what this module reports, and a turn
  under the execution bar is proposed or asked, never executed (:mod:`agent.planner.offline`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.planner import lexicon as lx
from agent.planner import rx as re
from agent.planner.numbers import NUM, parse_int
from agent.planner.understand import string_constants

_SOURCES = ("offline.py", "lexicon.py", "understand.py", "numbers.py")

# English function words, chat filler and politeness: never content
_STOP_TEXT = """
    a an the and or but nor so yet if then than that this these those there here it its it's
    i me my mine we us our you your yours he him his she her they them their what which who whom
    whose when where why how all any both each every few more most other some such no not only own
    same too very can could would should will shall may might must do does did done doing be is am
    are was were been being have has had having get gets got getting go goes going gone let lets
    let's to of in on at by for with about against between into through during before after above
    below from up down out off over under again further once just also still even ever now ok okay
    okey hey hi hello please pls plz kindly thanks thank thx ty cheers yes yeah yep sure right
    alright well oh uh um hmm lol tbh btw idk like really actually basically maybe perhaps bit
    little lot lots one ones thing things stuff something anything everything nothing guy guys
    folks mate dude bro man want wanna need needs gonna gotta try trying tried think guess mean
    know see look looks looking feel feels make makes made making give gives gave put puts take
    takes took keep keeps kept way same instead quite rather pretty much many lot whole entire
    again already yet soon quick quickly fast asap now today tonight moment real kinda sorta
    cool nice great awesome good fine perfect okay wait hold can't cannot won't don't doesn't
    didn't isn't aren't wasn't i'm i'd i'll you're we're they're that's what's it'll let's
    there's here's would've should've could've into onto upon within without while until
    because since though although whether either neither per via versus vs etc etc.
    possibly probably definitely totally super extra slightly somewhat abit tad kind sort
    better best worse nicer happen happens swap swapped tweak tweaked turn bump bring
    go went gonna wanna lemme gimme thing version bits part parts around back forward
    aim aiming target roughly approximately approx exactly ugh hmm meh yo oops please
    whatever whichever whoever anyway anyways currently right now
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
# Chinese function characters and chat particles
ZH_STOP = frozenset(
    "的了吧呢啊吗呀嘛哦哈个一这那些把给我你他她它们请帮下再就也都很太还是有在和与及或被让使得地着过吗么嗯好呗啦哟喔"
    "氛围感觉画面比例带稍微点整体弄搞成变换试摄效果左右大概约差不多控制劳驾"
)

_ESCAPES = r"\\[A-Za-z]"
_OPTIONAL_GROUP = r"\(\?:([A-Za-z]+)\)\?"
_OPTIONAL_CHAR = r"([A-Za-z])\?"


@lru_cache(maxsize=1)
def grammar_words() -> tuple[frozenset[str], frozenset[str]]:
    """(English words, CJK characters) the planner's own strings contain; optional letters and
    groups (``favou?rite``, ``dialog(?:ue)?``) count with and without."""
    words: set[str] = set()
    chars: set[str] = set()
    here = Path(__file__).parent
    for name in _SOURCES:
        for value in string_constants((here / name).read_text(encoding="utf-8")):
            plain = re.sub(_ESCAPES, " ", value)
            for variant in (
                re.sub(_OPTIONAL_CHAR, r"\1", re.sub(_OPTIONAL_GROUP, r"\1", plain)),
                re.sub(_OPTIONAL_CHAR, "", re.sub(_OPTIONAL_GROUP, "", plain)),
            ):
                words.update(w.lower() for w in re.findall(r"[A-Za-z]{2,}", variant))
            chars.update(re.findall(r"[\u4e00-\u9fff]", value))
    return frozenset(words), frozenset(chars)


def _stems(word: str) -> list[str]:
    out = [word]
    for suffix, repl in (
        ("ies", "y"),
        ("ier", "y"),
        ("iest", "y"),
        ("ily", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("d", ""),
        ("ing", ""),
        ("ing", "e"),
        ("ly", ""),
        ("er", ""),
        ("er", "e"),
        ("est", ""),
        ("'s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: len(word) - len(suffix)] + repl)
    if len(out) > 1 and len(word) > 4 and word[-1] == word[-2]:
        out.append(word[:-1])
    return out


@lru_cache(maxsize=4096)
def _in_tables(word: str) -> bool:
    """A word one of the planner's phrase tables reads on its own ("nighttime", "favourite")."""
    return any(re.search(pattern, word) for table in _TABLES for pattern, _ in table)


def _base(word: str, known: frozenset[str]) -> str:
    """ "moodier" → "moody": the first stem the grammar knows (the word itself when none)."""
    return next((s for s in _stems(word)[1:] if s in known), word)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _context_text(ctx: Any) -> str:
    """The free text the planning context holds (shot lines, scenes, characters, story …)."""
    parts: list[str] = []
    parts += [s.visual for s in getattr(ctx, "shots", [])]
    parts += [s.title for s in getattr(ctx, "scenes", [])]
    parts += [s.note for s in getattr(ctx, "snapshots", [])]
    parts += list(getattr(ctx, "characters", []))
    parts.append(getattr(ctx, "story", None) or "")
    ws = getattr(ctx, "workspace", None)
    if ws is not None:
        parts += [ws.title or "", ws.style or ""]
    return " ".join(parts).lower()


# (what the sentence asks for, action types that answer it)
FAMILY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\banimat(?:e|ed|ing)\b|\bimage[- ]to[- ]video\b|动起来|动态化", ("gen.video", "task.", "version.")),
    (
        r"\b(?:delete|remove|erase|drop|get rid of|take out)\b|删除|删掉|删了|去掉",
        ("shot.", "scene.", "task.", "version.", "project.set_rules", "node.", "character."),
    ),
    (
        r"\bcompose\b|\bassemble\b|\bstitch\b|合成(?!一个?(?:分镜|镜头))",
        ("gen.compose", "shot.merge", "task.", "version."),
    ),
    (r"\bexport\b|\bdownload\b|导出|下载", ("export.package", "gen.compose", "task.", "version.")),
    (
        r"\bmusic\b|\bsoundtrack\b|\bbgm\b|配乐|背景音乐",
        ("gen.music", "gen.compose", "task.", "version.", "project.set_rules"),
    ),
    (r"\bsplit\b|拆成|拆分", ("shot.split", "task.", "version.")),
    (r"\bmerge\b|合并", ("shot.merge", "task.", "version.")),
    (r"\b(?:retry|re-?run)\b|重试|重跑", ("task.retry", "gen.", "version.")),
    (r"\b(?:undo|revert|roll ?back)\b|撤销|回滚", ("version.rollback", "task.")),
    (  # "make shot 2 night and narrate it" read as one request would drop the narration
        r"\bnarrat(?:e|ion)\b|\bvoice-?over\b|旁白|配音(?!乐)",
        ("gen.voice", "shot.update", "gen.compose", "task.", "version.", "project."),
    ),
    (
        r"\b(?:4|9|four|nine)[- ]?grid\b|\bgrid\b|宫格|出图",
        ("gen.grid", "node.", "track.", "task.", "version.", "export."),
    ),
    (
        r"(?:生成|做成|转成|出)(?:个|一个)?视频",
        ("gen.video", "gen.compose", "task.", "version.", "export.", "project."),
    ),
    (  # "make the style watercolor and the format vertical": the style is a request of its own
        r"\bstyle\b|画风|风格",
        (
            "project.set_style",
            "project.create",
            "shot.update",
            "gen.",
            "node.",
            "task.",
            "version.",
            "character.",
        ),
    ),
)

_TABLES: tuple[lx.Table, ...] = (
    lx.TIME_OF_DAY,
    lx.LIGHTING,
    lx.WEATHER,
    lx.MOODS,
    lx.PACING,
    lx.CAMERA_SIZE,
    lx.CAMERA_ANGLE,
    lx.CAMERA_MOVEMENT,
    lx.TASK_KIND,
    lx.TASK_STATUS,
    lx.LOCKS,
    lx.REFERENCE_ROLE,
    lx.ASPECT,
    lx.VOICE,
    lx.PLATFORMS,
    lx.EXPORT_FORMAT_WORDS,
)
_SETTING_TABLES: tuple[tuple[str, lx.Table], ...] = (
    ("time of day", lx.TIME_OF_DAY),
    ("lighting", lx.LIGHTING),
    ("weather", lx.WEATHER),
    ("mood", lx.MOODS),
    ("pacing", lx.PACING),
    ("camera", lx.CAMERA_SIZE),
    ("camera angle", lx.CAMERA_ANGLE),
    ("camera movement", lx.CAMERA_MOVEMENT),
    ("aspect ratio", lx.ASPECT),
)


@dataclass
class Coverage:
    """What the plan leaves unexplained: unknown words, named settings it dropped, request
    families it does not answer."""

    unknown: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)

    @property
    def gaps(self) -> int:
        return len(self.unknown) + len(self.dropped) + len(self.unanswered)

    def evidence(self) -> list[str]:
        out = []
        if self.unknown:
            out.append("not explained by the plan: " + ", ".join(f"“{w}”" for w in self.unknown[:8]))
        out += [f"named but not planned: {d}" for d in self.dropped[:4]]
        out += [f"asked for but not planned: “{u}”" for u in self.unanswered[:4]]
        return out


# counts that name a span, not a value ("the last two" → shots 11–12), and relative edits
_DERIVED_NUMBERS = (
    rf"\b(?:first|last|final|next|previous|other|top|bottom)\s+(?:{NUM})\b(?!\.\d|\s*(?:s|secs?|seconds?)\b)",
    rf"(?:前|后|最后|倒数第?)\s*(?:{NUM})",
    rf"\b(?:{NUM})\s*(?:s|secs?|seconds?)\s+(?:shorter|longer|less|more)\b",
    rf"\b(?:add|give it|give|trim|cut|take|shave|remove|by)\s+(?:{NUM})\s*(?:extra\s+|more\s+)?"
    r"(?:s|secs?|seconds?)\b",
    rf"(?:缩短|减少|减去|减|短|砍掉|剪掉|延长|加长|增加|拉长|长|加)\s*(?:{NUM})\s*秒",
    r"\b\d+\s*[x×*]\s*\d+\b|\d{1,2}\s*:\s*\d{1,2}|\b\d{3,4}p\b",
    rf"(?:{NUM})\s*分钟?\s*(?:{NUM})\s*秒|\b(?:{NUM})\s*(?:min|mins|minutes?)\s+(?:and\s+)?(?:{NUM})\s*(?:s|secs?|seconds?)\b",
    rf"(?:{NUM})\s*(?:min|mins|minutes?|分钟)",
    rf"[那这]\s*(?:{NUM})\s*个(?!\s*(?:镜头|分镜))",
    rf"(?:{NUM})\s*(?:宫格|格)(?:的)?任务|\b(?:{NUM})[- ]?(?:grid|panel)s?\s+(?:tasks?|jobs?|renders?)\b",
    rf"\b(?:after|before)\s+(?:shot\s*|the\s+)?#?\s*(?:{NUM})|第\s*(?:{NUM})\s*个\s*(?:镜头|分镜)?\s*(?:后|前)",
)
# options a sentence names that only an action argument can carry: (what, pattern, argument keys)
OPTION_WORDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "resolution",
        r"\b(?:full[- ]?hd|fhd|uhd|4k|8k|hd|sd|\d{3,4}p|resolution)\b|高清|标清|超清|分辨率",
        ("resolution",),
    ),
    ("frame rate", r"\bfps\b|\bframe[- ]?rate\b|帧率|\d+\s*帧", ("fps",)),
    ("tag", r"\btag(?:s|ged)?\b|标签", ("tags",)),
    (
        "platform",
        r"\b(?:tiktok|douyin|youtube|instagram|reels|bilibili|xiaohongshu)\b|抖音|b站|哔哩哔哩|小红书|油管",
        ("platform",),
    ),
    ("voice", r"\b(?:the\s+)?[a-z]+\s+voice\b(?!\s*-?\s*over)|音色|的声音", ("voice", "kind")),
    (
        "total length",
        r"(?:成片|全片|总时长|整部|整个(?:片子|视频))[^，,。]{0,6}(?:控制在|压到|超过|以内|左右)"
        r"|\b(?:total|overall|whole (?:thing|film|video))\b.{0,12}\b(?:under|about|around|max)\b",
        ("target_duration_s",),
    ),
)
_NEXT_TO = (  # a place beside a shot ("after shot 9", "在第六个后面"), not the shot
    rf"(?<!the shot )(?<!the one )\b(?:right\s+|just\s+)?(?:after|before)\s+(?:shot\s*)?#?({NUM})\b"
    rf"|在\s*第\s*({NUM})\s*个\s*(?:镜头|分镜)?\s*(?:后面|之后|后|前面|之前|前)(?!的|那)"
)
_NUMBER_WORD = rf"\d+(?:\.\d+)?|(?<![a-z]){NUM}(?![a-z])"
_REQUEST_IN_TEXT = (
    r"\b(?:then|after that|also)\b|\b(?:give me|animate|generate|render|compose|export|delete|narrate)\b"
    r"|然后|接着|之后|生成|合成|导出|删除|配音|改成|换成"
)
_FREE_TEXT_KEYS = ("prompt",)


def _numbers(value: Any, total: int | None) -> set[float]:
    out: set[float] = set()
    if isinstance(value, bool):
        return out
    if isinstance(value, (int, float)):
        out.add(float(value))
    elif value == "all" and total:
        out.update(float(n) for n in range(1, total + 1))
    elif isinstance(value, str):
        for raw in re.findall(_NUMBER_WORD, value.lower()):
            n = parse_int(raw) if not re.fullmatch(r"\d+(?:\.\d+)?", raw) else float(raw)
            if n is not None:
                out.add(float(n))
    elif isinstance(value, dict):
        for v in value.values():
            out |= _numbers(v, total)
    elif isinstance(value, list):
        for v in value:
            out |= _numbers(v, total)
    return out


def _fragment(value: str, text: str) -> bool:
    """A Chinese prompt is the user's own words in one piece: one cut out of the middle of a
    phrase ("要 的角度") or ending on a dangling 第 is what is left of a phrase the planner read."""
    if not re.search(r"[\u4e00-\u9fff]", value):
        return False
    joined = re.sub(r"\s+", "", value)
    return joined.endswith("第") or joined.lower() not in re.sub(r"\s+", "", text)


def _has_key(value: Any, keys: tuple[str, ...]) -> bool:
    if isinstance(value, dict):
        return any((k in keys and v not in (None, [], "")) or _has_key(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_key(v, keys) for v in value)
    return False


def _action_text(actions: list[dict[str, Any]]) -> str:
    texts = [s for a in actions for s in _strings(a.get("args") or {})]
    dumped = json.dumps([a.get("args") for a in actions], ensure_ascii=False)
    return (" ".join(texts) + " " + dumped).lower()


def _masked(text: str, patterns: Iterable[str]) -> str:
    for pattern in patterns:
        text = re.sub(pattern, " ", text)
    return text


def measure(
    text: str,
    actions: list[dict[str, Any]],
    ctx: Any,
    *,
    derived: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Coverage:
    """How well ``actions`` explain ``text`` (the clauses that were planned); ``derived`` are the
    planner's own evidence lines (a relative edit's arithmetic); ``ignore`` are patterns of spans
    already accounted for."""
    out = Coverage()
    text = _masked(text.lower(), ignore)
    text = re.sub(r"\"[^\"]*\"|「[^」]*」|『[^』]*』", " ", text)  # quoted text is data
    derived = list(derived)
    planned = _action_text(actions) + " " + " ".join(derived).lower()
    context = _context_text(ctx)
    types = [a.get("type", "") for a in actions]
    words, chars = grammar_words()
    wordy = re.sub(r"[a-z0-9_-]*\d[a-z0-9_-]*", " ", text)  # ids and numbers are not words ("grid-3-a1b2")
    for word in dict.fromkeys(re.findall(r"[a-z][a-z']*[a-z]|[a-z]", wordy)):
        word = re.sub(r"'s$|'$", "", word)
        if len(word) < 3 or word in STOPWORDS:
            continue
        if any(s in words for s in _stems(word)) or _in_tables(word):
            continue
        if re.search(rf"\b{re.escape(word)}", planned) or re.search(rf"\b{re.escape(word)}", context):
            continue
        out.unknown.append(word)
    for ch in dict.fromkeys(re.findall(r"[\u4e00-\u9fff]", text)):
        if ch in ZH_STOP or ch in chars or ch in planned or ch in context:
            continue
        out.unknown.append(ch)
    stemmed = re.sub(r"[a-z]+", lambda m: _base(m.group(0), words), text)
    for name, table in _SETTING_TABLES:
        for pattern, value in table:
            m = re.search(pattern, text) or re.search(pattern, stemmed)
            if m is None:
                continue
            said = m.group(0).strip()
            if value.lower() in planned or said in planned or said in context:
                continue
            out.dropped.append(f"{name} {value} ← “{said}”")
            break
    for what, pattern, keys in OPTION_WORDS:
        m = re.search(pattern, text)
        if m and not any(_has_key(a.get("args") or {}, keys) for a in actions):
            out.dropped.append(f"{what} ← “{m.group(0).strip()}”")
    for pattern, answers in FAMILY_WORDS:
        m = re.search(pattern, text)
        if m is None:
            continue
        if any(t.startswith(answers) for t in types) or m.group(0).strip() in planned:
            continue
        out.unanswered.append(m.group(0).strip())
    total = getattr(getattr(ctx, "workspace", None), "shots", None)
    known = _numbers([a.get("args") for a in actions], total) | _numbers(derived, None)
    if total:
        known.add(float(total))
    counted = _masked(text, _DERIVED_NUMBERS)
    for raw in dict.fromkeys(re.findall(_NUMBER_WORD, counted)):
        n = float(raw) if re.fullmatch(r"\d+(?:\.\d+)?", raw) else parse_int(raw)
        if n is None or n in (0, 1) or float(n) in known:
            continue
        out.unknown.append(raw)
    for m in re.finditer(_NEXT_TO, text):  # "… after shot 9" planned as an edit of shot 9 itself
        n = parse_int(m.group(1) or m.group(2) or "")
        edits = [a for a in actions if a.get("type") == "shot.update"]
        if n is not None and any(n in ((a.get("args") or {}).get("shots") or []) for a in edits):
            out.unanswered.append(f"a position next to shot {n}: “{m.group(0).strip()}”")
    for a in actions:
        for key in _FREE_TEXT_KEYS:
            value = (a.get("args") or {}).get(key)
            if isinstance(value, str) and re.search(_REQUEST_IN_TEXT, value.lower()):
                out.unanswered.append(f"{key}: {value[:40]}")
            elif isinstance(value, str) and _fragment(value, text):
                out.unanswered.append(f"{key} is a fragment: {value[:40]}")
    return out


__all__ = ["FAMILY_WORDS", "OPTION_WORDS", "STOPWORDS", "ZH_STOP", "Coverage", "grammar_words", "measure"]
