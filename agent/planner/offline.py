"""Deterministic offline planner: one sentence (English or Chinese) → one validated :class:`Turn`.

Rules:
- pure text → Action DSL: no I/O, no SQL, no shell, no LLM; same input, same output;
- text that tries to leave the DSL (instruction overrides, SQL, shell, other users' data) gets no
  actions;
- a needed target that is neither in the sentence nor in the context (focus, latest grid) is never
  guessed: the turn has no actions and asks; shot numbers outside the workspace are refused;
- a sentence that maps to no family gets ``intent="unsupported"`` and the 2–3 closest families;
- ``mode`` is ``propose`` exactly when :func:`schema.actions.requires_confirmation` says so;
- the reply is in the sentence's language (any CJK character → Chinese).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.planner import coverage, understand
from agent.planner import lexicon as lx
from agent.planner import rx as re
from agent.planner.numbers import (
    EN_NUM,
    NUM,
    ORD,
    RANGE_SEP,
    format_numbers,
    parse_int,
    parse_number_list,
    parse_ordinal,
    spoken_seconds,
)
from schema.actions import (
    AnyAction,
    PendingQuestion,
    Turn,
    parse_action,
)
from schema.text import cjk_count, has_cjk, language_of

Lang = Literal["en", "zh"]
Targets = list[int] | Literal["all"]

# --------------------------------------------------------------------------------------------------
# Context
# --------------------------------------------------------------------------------------------------


class _Ctx(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WorkspaceInfo(_Ctx):
    type: Literal["narrative_project", "draft_space"] | None = None
    title: str | None = None
    shots: int | None = Field(default=None, ge=0, description="Number of shots; None = unknown.")
    scenes: int | None = Field(default=None, ge=0)
    style: str | None = None


class FocusInfo(_Ctx):
    shot: int | None = None
    track: str | None = None
    cell: int | None = None
    node: str | None = None


class GridInfo(_Ctx):
    shot: int | None = None
    track: str | None = None
    cells: int = 4
    node: str | None = None


class TaskCounts(_Ctx):
    running: int = 0
    queued: int = 0
    failed: int = 0


class SnapshotInfo(_Ctx):
    id: str
    note: str = ""


class ShotInfo(_Ctx):
    """One shot line: its number, scene, duration and (clipped) visual description."""

    number: int
    scene: int | None = None
    duration_s: float | None = None
    visual: str = ""
    selected: bool = False


class SceneInfo(_Ctx):
    number: int
    title: str = ""


class RunningTask(_Ctx):
    id: str = ""
    type: str = ""
    status: str = ""
    shot: int | None = None


class PlanningContext(_Ctx):
    """What the context builder tells the planner about the workspace. Every part is optional.

    ``tracks`` maps a shot number (as a string) to its track names; ``snapshots`` are oldest first;
    ``shots`` are bounded shot lines (number, duration, visual) for references such as "the shots
    in the forest" and relative edits; ``question`` is the clarifying question the previous turn
    asked (the new sentence may be its answer).
    """

    workspace: WorkspaceInfo = Field(default_factory=WorkspaceInfo)
    focus: FocusInfo = Field(default_factory=FocusInfo)
    tracks: dict[str, list[str]] = Field(default_factory=dict)
    latest_grid: GridInfo | None = None
    tasks: TaskCounts = Field(default_factory=TaskCounts)
    snapshots: list[SnapshotInfo] = Field(default_factory=list)
    characters: list[str] = Field(default_factory=list)
    story: str | None = None
    scenes: list[SceneInfo] = Field(default_factory=list)
    shots: list[ShotInfo] = Field(default_factory=list)
    running: list[RunningTask] = Field(default_factory=list)
    question: PendingQuestion | None = None
    # set by the planner itself while it plans one sentence (never by the context builder)
    carried: list[int] | Literal["all"] | None = Field(default=None, exclude=True)
    carried_cell: int | None = Field(default=None, exclude=True)
    named_before: list[int] = Field(default_factory=list, exclude=True)  # every shot earlier clauses named
    answer_shots: list[int] | Literal["all"] | None = Field(default=None, exclude=True)
    excluded: list[int] = Field(default_factory=list, exclude=True)
    excluded_in_scope: list[str] = Field(default_factory=list, exclude=True)

    def shot_info(self, number: int) -> ShotInfo | None:
        return next((s for s in self.shots if s.number == number), None)

    @field_validator("characters", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [c.get("name", "") if isinstance(c, dict) else c for c in v]
        return v


# --------------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------------


class _Stop(Exception):
    """A family was recognised but cannot be planned: ask, refuse or report out of range."""

    def __init__(self, intent: str, message: str, *, ask_shots: bool = False) -> None:
        super().__init__(message)
        self.intent = intent
        self.message = message
        self.ask_shots = ask_shots  # the next message may name the shots (a PendingQuestion)


def _t(lang: Lang, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


# --------------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------------

_UNIT_AFTER = r"(?!\s*(?:(?:s|secs?|seconds?|fps|p|x|min|minutes?|%)(?![a-z])|秒|张|幅|宫格|格|分钟))"
_NUMX = rf"{NUM}{_UNIT_AFTER}"
_EN_ITEM = rf"{_NUMX}(?:{RANGE_SEP}(?:shots?\s*)?#?\s*{_NUMX})?"
_EN_SEP = r"\s*(?:,\s*(?:and\s+)?|\band\b|&|\+)\s*(?:shots?\s*)?#?\s*"
_EN_LIST = rf"#?\s*{_EN_ITEM}(?:{_EN_SEP}{_EN_ITEM})*"
_ZH_RANGE = r"\s*(?:个(?=\s*(?:到|至)))?\s*(?:到|至|-|–|—|~)\s*第?\s*"
_ZH_SEP = r"\s*(?:个|号)?\s*(?:、|,|和|与|及|跟|以及|(?=第))\s*第?\s*"
_ZH_ITEM = rf"{_NUMX}(?:{_ZH_RANGE}{_NUMX})?"
_ZH_LIST = rf"{_ZH_ITEM}(?:{_ZH_SEP}{_ZH_ITEM})*"
_ZH_NOT_SHOT = r"(?!\s*(?:场景|场|方案|版本|任务|角色|宫格|张|幅|图|格|选项|候选))"

_SHOT_ALL = [
    r"\b(?:all|every|each)\s+(?:single\s+)?(?:of\s+)?(?:the\s+|my\s+|our\s+)?(?:\d+\s+)?shots?\b",
    r"^everything\b(?!\s+(?:together|else))",
    r"\b(?:make|turn|set|change|switch|put)\s+everything\b(?!\s+(?:together|else|in|from|of|on|at)\b)",
    r"^(?:那就|那|就|好|行)?(?:全部|所有|全都)(?=改|都|换|加|生成|配|设)",
    r"\b(?:them|those|these) all\b|\ball of (?:them|those|these)\b",  # "now make them all night"
    r"^画面(?:整体|全部|都|统一)",  # "画面整体暖一点"
    r"^(?:整体|全片|整个片子)(?=的?节奏)",  # "整体节奏快一点"
    r"\bthe (?:whole|entire) (?:storyboard|project|video|film|movie|sequence)\b",
    r"(?:所有|全部|每个|每一个|每一|全体|整个)(?:的)?\s*(?:分镜|镜头)",
    r"(?<![个号0-9一二三四五六七八九十])(?:分镜|镜头)(?:全部|都)",  # not "第1到3个镜头都…" (those shots)
]
_SHOT_LIST = [
    rf"\bshots?\s*(?:from\s+)?(?:#|no\.?\s*|number\s*)?({_EN_LIST})",
    rf"第\s*({_ZH_LIST})\s*(?:个|号)?\s*(?:分镜|镜头)",
    rf"第\s*({_ZH_LIST})\s*个{_ZH_NOT_SHOT}",
    rf"(?:分镜|镜头)\s*#?\s*({_ZH_LIST})(?!\s*(?:个|号图))",
    rf"({_ZH_LIST})\s*号\s*(?:分镜|镜头)",
    # a bare range names shots: "make vids for 1 thru 4", "五到八做成视频", "一到三 每个来四张图"
    rf"\bfor\s+#?({_NUMX}{RANGE_SEP}#?{_NUMX})\b(?!\s*(?:images?|pics?|pictures?|cells?|options?))",
    # a bare list after "for" or a shot-only verb: "record the dialogue for 10 and 11", "animate 10 and 11"
    rf"(?:\bfor|^(?:animate|narrate|voice|record|regenerate|redo))\s+#?({_NUMX}(?:{_EN_SEP}{_NUMX})+)\b"
    r"(?!\s*(?:images?|pics?|pictures?|cells?|options?|frames?|%|x\b|of\b))",
    # "wide shot for 8", "a close-up for 3": a framing for one shot named by its number
    rf"^(?:animate|narrate|voice|regenerate|redo)\s+#?({_NUMX})\b(?!\s*(?:more|others?|shots?|of|images?|pics?|clips?|videos?|times?|x\b)\b)",
    # "the dialogue on 6", "add rain to 5 and 6"
    rf"\b(?:dialog(?:ue)?|narration|voice-?over|vo|lines?)\s+(?:on|for|of|in)\s+#?({_NUMX})\b",
    rf"(?<=\bto )#?({_NUMX}(?:{_EN_SEP}{_NUMX})+)\b"
    r"(?!\s*(?:images?|pics?|pictures?|cells?|seconds?|secs?|%))",
    # "can we get a low angle on 6?" (not "iterate on #2", an image)
    rf"(?<!iterate )(?<!iterating )(?<!build )(?<!riff )(?<!based )\b(?:on|for)\s+({_NUMX})"
    r"\s*(?:please|pls|plz)?\s*[?.!]*$",
    rf"(?<=[a-z-])\s+shot\s+for\s+#?({_NUMX})\b(?!\s*(?:images?|pics?|pictures?|cells?|options?|frames?|%|x\b|of\b))"
    r"(?!\s*(?:images?|pics?|pictures?|cells?|options?|frames?|%|x\b|of\b))",
    rf"^(?:把|给|将|让)?({_NUMX}{_ZH_RANGE}{_NUMX})(?=\s|个|都|每|全|做|生成|来|转|配|改|换|加|重|出|再|弄|删)",
]
_SHOT_ORD = rf"\b(?:the\s+)?({ORD})\s+shot\b"
_SHOT_NEXT_TO = (
    rf"\bthe\s+(?:shot|one)\s+(?:right\s+|just\s+|immediately\s+|directly\s+)?(after|before)\s+"
    rf"(?:shot\s*|the\s+)?#?\s*({NUM}|{ORD})(?:\s+(?:shot|one))?\b"
    rf"|第\s*({NUM})\s*个\s*(?:镜头|分镜)?\s*(后面|后边|之后|前面|前边|之前)(?:的)?那?(?:一?个)(?:镜头|分镜)?"
)
_ORD_SEP = rf"\s*(?:,\s*(?:and\s+)?|\band\b|&|\bor\b|{RANGE_SEP})\s*(?:the\s+)?"
_SHOT_ORD_LIST = (
    rf"\b(?:the\s+)?((?:{ORD}|last|final)(?:{_ORD_SEP}(?:{ORD}|last|final))+)\s+(?:shots?|ones)\b"
)
_SHOT_LAST = (
    r"\b(?:the\s+)?(?:last|final)\s+shot\b|最后一个(?:分镜|镜头)|最后一镜"
    r"|^(?:把|给)?最后一个(?=\s*(?:改|换|加|设|调|生成|配|删|用|做|来|弄|也))"
)
_SHOT_OPENING = (
    r"\b(?:the\s+)?(?:opening|very first)\s+(?:shot|one)\b"
    r"|开头(?:那个|的|那一个)?(?:镜头|分镜)|开场(?:的)?(?:镜头|分镜)"
)
_SHOT_FROM_END = (
    r"\b(?:the\s+)?(?:penultimate|second[- ](?:to[- ])?last|next[- ]to[- ]last)\s+(?:shot|one)\b"
    r"|\bthe\s+(?:shot|one)\s+(?:right\s+|just\s+)?before\s+the\s+(?:very\s+)?(?:last|final)(?:\s+(?:one|shot))?\b"
    r"|最后一个(?:镜头|分镜)?(?:前面|之前|前边)(?:的)?那?(?:一)?个(?:镜头|分镜)?"
    rf"|倒数第\s*({NUM})\s*个?\s*(?:分镜|镜头)?"
)
_SHOT_EDGE_BARE = (
    rf"\bthe\s+(first|last|final)\s+({NUM})\b(?!\s*(?:s\b|secs?|seconds?|images?|pictures?|pics|cells?))"
)
_PRONOUN = r"\b(?:it|them|those|these|they|both)\b|它们|它|这些|这几个|那些"

_SHOT_EDGE_N = (
    rf"\b(?:the\s+)?(first|last|final)\s+({NUM})\s+shots\b"
    rf"|(前|最后|后|头)\s*({NUM})\s*(?:个\s*(?:分镜|镜头)?|(?:分镜|镜头))"
)
_SHOT_AS_CAMERA = (
    r"\b(?:wide|long|medium|mid|full|close-?up|establishing|tracking|follow(?:ing)?|"
    r"over[- ]the[- ]shoulder|pov|"
    r"two|single|insert|master|aerial|low[- ]angle|high[- ]angle)\s+shots?\b|\b\d+[- ]shots?\b"
    r"|(?:固定|空|长|推|拉|摇|跟|特写|大特写|远景|近景|中景|全景|运动|手持|俯拍|仰拍|航拍|环绕|升降)镜头|镜头语言|镜头感"
)
_SHOT_THIS = (
    r"\b(?:this|that|the current|current|the selected|the)\s+shot\b(?!\s*#?\s*\d)"
    r"|这个(?:分镜|镜头)|当前(?:的)?(?:分镜|镜头)|这一镜|该(?:分镜|镜头)"
)
_SCENE_LIST = [
    rf"\bscenes?\s*(?:#|no\.?\s*|number\s*)?({_EN_LIST.replace('shots?', 'scenes?')})",
    rf"第\s*({_ZH_LIST})\s*(?:个)?\s*(?:场景|场戏|场|幕)",
    rf"场景\s*#?\s*({_ZH_LIST})",
]
_CELL_PATTERNS = [
    rf"(?<![\w#])#\s*({NUM})",
    rf"\b(?:image|picture|pic|photo|frame|cell|panel|tile|option|candidate|thumbnail|number|no\.)\s*#?\s*({NUM})\b",
    rf"第\s*({NUM})\s*(?:张|幅|格|号图|个图|个格子?|个宫格|个选项|个候选)",
    rf"({NUM})\s*号\s*(?:图|图片|格)",
    r"图\s*#?\s*(\d+)",
]
_CELL_ORD = (
    rf"\b(?:the\s+)?({ORD})\s+(?:image|picture|pic|photo|one|option|cell|panel|tile|candidate|frame)\b"
)
_THIS_ONE = (
    r"\b(?:this|that|the selected|the current|the chosen|the highlighted)\s+"
    r"(?:one|image|picture|pic|photo|frame|cell|panel|candidate|option|node)\b"
    r"|这张|那张|这幅|这一张|这一幅|这个图|当前这张|选中的(?:这张|图|那张)"
)
_LAST_GRID = (
    r"\b(?:last|latest|previous|recent|current|that|this)\s+(?:grid|batch|set|generation|round)\b"
    r"|上一组|上一个宫格|上一轮|最新的宫格|最新一组|刚才的宫格|刚才那组|这组|上一批"
)
_DURATION = (
    rf"(?<![A-Za-z0-9.'])(?![2-9]0s\b)(\d+(?:\.\d+)?|{NUM})(?:\s*|-)(?:s|secs?|seconds?|秒钟?)(?![a-z])"
)
_STOP_MOTION = r"stop[- ]?motion"

_EN_PREFIX = (
    r"^(?:(?:please|pls|kindly|can you|could you|would you|will you|i want to|i'd like to|i would like to|"
    r"can we|could we|shall we|should we|let's|lets|let us|now|ok|okay|hey|so|and|then|also|just"
    r"|go ahead and|ugh|ugh+|hmm+|hm|uh|um+|oh|ah|welp|yo|hey|alright|actually|honestly|okay so|ok so"
    r"|maybe|perhaps"
    r"|would you mind|do you mind|could you possibly|can you please|could you please"
    r"|i was wondering if you could)"
    r"\s*,?\s+)*"
)
_ZH_PREFIX = (
    r"^(?:请|麻烦|劳驾|帮我|帮忙|能不能|能否|可以|可否|我想|我要|想要|想|需要|现在|然后|再|给我|你|就|先)*"
)


def _normalize(sentence: str) -> str:
    text = unicodedata.normalize("NFKC", sentence)
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    return re.sub(r"\s+", " ", text).strip()


def _first(table: lx.Table, text: str) -> str | None:
    for pattern, value in table:
        if re.search(pattern, text):
            return value
    return None


def _all_of(table: lx.Table, text: str) -> list[str]:
    return [value for pattern, value in table if re.search(pattern, text)]


@dataclass
class Parsed:
    """One clause, normalised once, with its targets extracted."""

    cased: str
    lang: Lang
    text: str = ""
    head: str = ""
    shots: Targets | None = None
    last_shot: bool = False
    last_n: int = 0
    vague_shot: bool = False
    this_shot: bool = False
    scenes: list[int] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    this_one: bool = False
    track: str | None = None
    masked: str = ""
    from_end: int = 0
    rest: bool = False
    pronoun: bool = False
    desc: Any = None
    more_desc: list[Any] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.text = self.cased.lower()
        self.head = re.sub(_ZH_PREFIX, "", re.sub(_EN_PREFIX, "", self.text)).strip()
        masked = self.text
        m_end = re.search(_SHOT_FROM_END, masked)
        if m_end:
            self.from_end = (parse_int(m_end.group(1)) or 0) if m_end.group(1) else 2
            masked = re.sub(_SHOT_FROM_END, " § ", masked)
        self.desc = understand.description_ref(masked)
        if self.desc is not None:
            a, b = self.desc.span
            masked = masked[:a] + " § " + masked[b:]
            for _ in range(2):  # "竹林那个镜头和狐狸叼月亮那个镜头": every description named
                extra = understand.description_ref(masked)
                if extra is None:
                    break
                self.more_desc.append(extra)
                a, b = extra.span
                masked = masked[:a] + " § " + masked[b:]
        self.rest = re.search(understand.REST_WORDS, masked) is not None
        self.pronoun = re.search(_PRONOUN, masked) is not None
        scenes: set[int] = set()
        for pattern in _SCENE_LIST:
            for m in re.finditer(pattern, masked):
                scenes.update(parse_number_list(_clean_list(m.group(1))))
            masked = re.sub(pattern, " § ", masked)
        self.scenes = sorted(scenes)
        shots: set[int] = set()
        if any(re.search(p, masked) for p in _SHOT_ALL):
            self.shots = "all"
            for p in _SHOT_ALL:
                masked = re.sub(p, " § ", masked)
        for m in re.finditer(_SHOT_NEXT_TO, masked):  # "the shot after 7", "第五个镜头后面那个"
            word, raw = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            n = parse_int(raw) or parse_ordinal(raw)
            if n:
                shots.add(n + 1 if word in {"after", "后面", "后边", "之后"} else n - 1)
        masked = re.sub(_SHOT_NEXT_TO, " § ", masked)
        for pattern in _SHOT_LIST:
            for m in re.finditer(pattern, masked):
                shots.update(parse_number_list(_clean_list(m.group(1))))
            masked = re.sub(pattern, " § ", masked)
        if re.search(_SHOT_OPENING, masked):
            shots.add(1)
            masked = re.sub(_SHOT_OPENING, " § ", masked)
        for m in re.finditer(_SHOT_EDGE_BARE, masked):
            count = parse_int(m.group(2)) or 0
            if m.group(1) == "first":
                shots.update(range(1, count + 1))
            else:
                self.last_n = count
        masked = re.sub(_SHOT_EDGE_BARE, " § ", masked)
        for m in re.finditer(_SHOT_ORD_LIST, masked):  # "the 2nd and 3rd shots", "first to third shot"
            if re.search(r"\b(?:last|final)\b", m.group(1)):
                self.last_shot = True
            found = [parse_ordinal(x) for x in re.findall(ORD, m.group(1))]
            numbers = [n for n in found if n]
            if re.search(RANGE_SEP, m.group(1)) and len(numbers) == 2:
                numbers = list(range(min(numbers), max(numbers) + 1))
            shots.update(numbers)
        masked = re.sub(_SHOT_ORD_LIST, " § ", masked)
        for m in re.finditer(_SHOT_ORD, masked):
            n = parse_ordinal(m.group(1))
            if n:
                shots.add(n)
        masked = re.sub(_SHOT_ORD, " § ", masked)
        for m in re.finditer(_SHOT_EDGE_N, masked):
            which, raw_n = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            count = parse_int(raw_n) or 0
            if which in {"first", "前", "头"}:
                shots.update(range(1, count + 1))
            else:
                self.last_n = count
        masked = re.sub(_SHOT_EDGE_N, " § ", masked)
        if shots and self.shots is None:
            self.shots = sorted(shots)
        self.last_shot = self.last_shot or bool(re.search(_SHOT_LAST, masked))
        self.this_shot = bool(re.search(_SHOT_THIS, masked))
        masked = re.sub(_SHOT_LAST, " § ", masked)
        masked = re.sub(_SHOT_THIS, " § ", masked)
        rest = re.sub(_SHOT_AS_CAMERA, " ", masked)
        self.vague_shot = (
            self.shots is None
            and not (
                self.this_shot or self.last_shot or self.last_n or self.from_end or self.desc or self.rest
            )
            and re.search(r"\bshots?\b|分镜|镜头", rest) is not None
        )
        cells: list[int] = []
        for pattern in _CELL_PATTERNS:
            for m in re.finditer(pattern, masked):
                n = parse_int(m.group(1))
                if n is not None and n not in cells:
                    cells.append(n)
            masked = re.sub(pattern, " ¤ ", masked)
        for m in re.finditer(_CELL_ORD, masked):
            n = parse_ordinal(m.group(1))
            if n is not None and n not in cells:
                cells.append(n)
        self.cells = cells
        self.this_one = bool(re.search(_THIS_ONE, self.text))
        self.track = _find_track(self.cased)
        self.masked = masked

    def has(self, pattern: str) -> bool:
        return re.search(pattern, self.text) is not None

    def starts(self, pattern: str) -> bool:
        return re.match(pattern, self.head) is not None

    def t(self, en: str, zh: str) -> str:
        return _t(self.lang, en, zh)


_CELL_POSITIONS = (  # (pattern, row, column) in a square grid; -1 = last row/column, 0 = middle
    (r"\btop[- ]?left\b|\bupper[- ]?left\b|左上", 1, 1),
    (r"\btop[- ]?right\b|\bupper[- ]?right\b|右上", 1, -1),
    (r"\bbottom[- ]?left\b|\blower[- ]?left\b|左下", -1, 1),
    (r"\bbottom[- ]?right\b|\blower[- ]?right\b|右下", -1, -1),
    (
        r"\b(?:middle|center|centre)\s+(?:one|image|picture|pic)\b|\bthe (?:middle|center)\b|正中间|中间那张",
        0,
        0,
    ),
    (r"\bthe last (?:one|image|picture|pic)\b|最后一张", -1, -1),
)


def _with_cell_positions(p: Parsed, ctx: PlanningContext) -> Parsed:
    """ "the top left one", "右下角那张", "the last image": a position in the latest grid, as its cell
    number (never guessed without a grid to count)."""
    g = ctx.latest_grid
    if p.cells or g is None or g.cells not in (4, 9):
        return p
    side = 3 if g.cells == 9 else 2
    for pattern, row, col in _CELL_POSITIONS:
        if re.search(pattern, p.text):
            if (row, col) == (0, 0) and side != 3:
                return p  # a 2×2 grid has no middle image
            r = side if row == -1 else (2 if row == 0 else row)
            c = side if col == -1 else (2 if col == 0 else col)
            p.cells = [(r - 1) * side + c]
            return p
    return p


def _clean_list(s: str) -> str:
    s = re.sub(r"(?<=\S)\s*第", ",", re.sub(r"(到|至|-|–|—|~)\s*第", r"\1", s))  # "第三第四": a list
    return re.sub(r"shots?|scenes?|#|no\.|number", " ", s)


_TRACK_PATTERNS = (
    r"\b(?:track|branch|variant)\s+([A-Za-z])\b",
    r"\b([A-Z])[- ]?(?:track|branch)\b",
    r"(?<![A-Za-z])([A-Za-z])\s*(?:方案|轨道|轨|分支)",
    r"(?:方案|轨道|分支)\s*([A-Za-z])(?![A-Za-z])",
    r"\bthe\s+([A-Z])\s+(?:version|take|variant|option)\b",  # "go back to the B version"
)


def _find_track(cased: str) -> str | None:
    """Track letter: "track B", "B track", "B方案", "方案B" (a lower-case "a"/"i" is an English word)."""
    for pattern in _TRACK_PATTERNS:
        for m in re.finditer(pattern, cased, re.I if pattern.startswith(r"\b(?:track") else 0):
            letter = m.group(1)
            if letter in {"a", "i"}:
                continue
            return letter.upper()
    return None


def _duration(text: str) -> float | None:
    half = re.search(rf"({NUM})\s*(?:个)?秒半|\b({NUM}) and a half (?:s|secs?|seconds?)\b", text)
    if half:  # "两秒半", "two and a half seconds"
        n = parse_int(next(g for g in half.groups() if g))
        return None if n is None else n + 0.5
    m = re.search(_DURATION, text)
    if not m:
        return None
    raw = m.group(1)
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return float(raw)
    n = parse_int(raw)
    return float(n) if n is not None else None


_GRID_NOUN = r"(?:grid|panel|image|pic|picture|up|cell|frame|option|variation|version|candidate|still|take)"


def _grid_size(text: str) -> int | None:
    if re.search(
        rf"\b(?:9|nine)[- ]?{_GRID_NOUN}s?\b"
        r"|\b(?:but|make it|as an?|with)\s+(?:9|nine)\b(?!\s*(?:s\b|secs?|seconds?))"
        r"|\b3\s*[x×*]\s*3\b|(?<!第)(?<!第\s)(?:九|9)\s*(?:宫格|张|格)",
        text,
    ):
        return 9
    if re.search(
        rf"\b(?:4|four)[- ]?{_GRID_NOUN}s?\b"
        r"|\b(?:but|make it|as an?|with)\s+(?:4|four)\b(?!\s*(?:s\b|secs?|seconds?))"
        r"|\b2\s*[x×*]\s*2\b|(?<!第)(?<!第\s)(?:四|4)\s*(?:宫格|张|格)",
        text,
    ):
        return 4
    return None


def _camera(text: str) -> dict[str, str]:
    cam: dict[str, str] = {}
    for key, table in (
        ("size", lx.CAMERA_SIZE),
        ("angle", lx.CAMERA_ANGLE),
        ("movement", lx.CAMERA_MOVEMENT),
    ):
        value = _first_kept(table, text)
        if value:
            cam[key] = value
    return cam


_NOT_THIS = (
    r"(?:别用|不用|不要用|别再用|不要|去掉|\binstead of\b|\brather than\b|\bnot\b|\bno more\b)"
    r"\s*(?:the\s+|a\s+)?$"
)


def _first_kept(table: lx.Table, text: str) -> str | None:
    """The first value of a table the sentence asks for: "别用特写了，换成中景" is medium, not close-up."""
    for pattern, value in table:
        m = re.search(pattern, text)
        if m and not re.search(_NOT_THIS, text[max(0, m.start() - 12) : m.start()]):
            return value
    return None


_CAMERA_PHRASES = "|".join(
    p for table in (lx.CAMERA_SIZE, lx.CAMERA_ANGLE, lx.CAMERA_MOVEMENT) for p, _ in table
)


_LINE_FIELDS = {
    "dialogue": (r"dialog(?:ue)?|lines?", r"台词|对白"),
    "narration": (r"narration|voice-?over", r"旁白|解说词"),
}
_LANGUAGE_WORD = r"(?:english|chinese|mandarin|中文|英文|普通话)\W*$"


def _line_text(p: Parsed, field: str) -> str | None:
    """New text for a shot's dialogue or narration, quoted or after "to:"/":"/"改成":
    "shot 4 needs dialogue: 'I can almost reach it'", "第三个镜头的旁白改成：月亮不见了"."""
    en, zh = _LINE_FIELDS[field]
    m = re.search(
        rf"\b(?:{en})\b[^\"':]{{0,30}}?(?:\bto\b\s*:?|:|\bis\b|=|\bsays?\b\s*:?)\s*[\"']?([^\"']+?)[\"']?\s*[.!]?$",
        p.cased,
        re.I,
    ) or re.search(rf"(?:{zh})(?:改成|改为|换成|是|为)?\s*:?\s*\"?([^\"]+?)\"?\s*[。！]?$", p.cased)
    if m is None:
        return None
    text = m.group(1).strip(" .。:：")
    if re.fullmatch(_LANGUAGE_WORD, text, re.I) or len(text) < 2:
        return None  # "narration to English" is a project setting, not new text
    if re.match(
        r"(?:shots?|all|every|each|this|that|it|them|the (?:last|first|final|opening|rest))\b", text, re.I
    ):
        return None  # "add narration to shots 1-3" names targets, not text
    quoted_or_colon = re.search(r'["\':]', p.cased[m.start() :]) is not None
    if not quoted_or_colon and not p.has(r"\b(?:change|set|update|make|rewrite|replace)\b|改成|改为|换成"):
        return None  # "narrate shot 3" has no new text
    return text


def _quoted(cased: str) -> str | None:
    m = re.search(r'"([^"]+)"|「([^」]+)」|『([^』]+)』', cased)
    if not m:
        return None
    return next(g for g in m.groups() if g)


_STYLE_EN = [
    r"\bin the style of\s+([^,.;:]+)",
    r"(?:^|[,;]\s*)(?:in\s+)?(?:an?\s+)?((?:[\w'&-]+\s+){0,2}[\w'&-]+)\s+(?:look|aesthetic|vibe)\s*(?:$|[,;.])",
    r"\bstyle\s*(?:to|as|=|:|of)\s*([^,.;]+)",
    r"((?:[\w'&-]+\s+){0,2}[\w'&-]+)[- ]style\b",
    r"\blook like\s+(?:a\s+|an\s+)?([^,.;]+)",
    r"\b(?:whole|overall|entire|general)\s+(?:look|aesthetic|vibe)\s+(?:to|into|as)\s+(?:an?\s+)?([^,.;?!]+)",
    r"\bmake\s+the\s+(?:whole\s+|overall\s+)?style\s+(?:an?\s+)?([^,.;?!]+)",  # "make the style watercolor"
]
_STYLE_ZH = [
    r"^(?:整体|整个|全部|所有镜头|全片)(?:都)?(?:加|来|换成|改成|弄成)?(?:一点|一些|点)?([^\s,，。；;、]{2,8}?)(?:感|的感觉|质感)$",
    r"(?:风格|画风)(?:改成|改为|换成|设为|设置为|用|是|为|:)\s*([^\s,，。；;、]{1,16}?)(?:风格|画风|风)?(?=$|[\s,，。；;、])",
    r"(?:风格|画风)(?:想要|想|要|来个|搞成|做成|走)\s*([^\s,，。；;、]{1,16}?)(?:那种|那样|一样)?(?:的)?(?:风格|画风|风)?$",
    r"([^\s,，。；;、:：把将用给成为是]{1,12})(?:的)?(?:画风|风格|风(?=$|[\s,，。；;、]))",  # "油画风": 油画
]


def _style(p: Parsed) -> str | None:
    if p.lang == "zh":
        for pattern in _STYLE_ZH:
            for m in re.finditer(pattern, p.cased):
                value = m.group(1).strip()
                value = re.sub(r"^(?:改成|改为|换成|设为|统一|整体|全部|所有|一种|一个)+", "", value)
                if value and value not in lx.STYLE_STOPWORDS:
                    return value
    for i, pattern in enumerate(_STYLE_EN):
        for m in re.finditer(pattern, p.cased, re.I):
            raw = re.split(
                r"\s+(?:for|on|in|across|to)\s+(?:shots?|scenes?|all|every|the whole)\b", m.group(1)
            )[0]
            words = [w for w in raw.strip().split() if w]
            if i == 3:  # "<words> style": keep the trailing run of style words only
                kept: list[str] = []
                for w in reversed(words):
                    if w.lower() == "art" and not kept:  # "pixel art style", "line art style"
                        kept.insert(0, w)
                        continue
                    if w.lower() in lx.STYLE_STOPWORDS or re.search(r"\d|#|^shots?$|^scenes?$", w.lower()):
                        break
                    kept.insert(0, w)
                words = kept
            while words and words[0].lower() in lx.STYLE_STOPWORDS:
                words.pop(0)
            value = " ".join(words).strip(" -'\"")
            if re.search(r"\b(?:ones?|shots?|scenes?|it|them|those|these)$", value, re.I):
                continue  # "look like the forest ones": other shots, not a style
            if value and value.lower() not in lx.STYLE_STOPWORDS:
                return re.sub(r"\s+style$", "", value, flags=re.I)
    return None


# --------------------------------------------------------------------------------------------------
# Target resolution
# --------------------------------------------------------------------------------------------------


def _ask_shot(p: Parsed) -> _Stop:
    return _Stop(
        "clarify",
        p.t(
            'Which shot do you mean? Say e.g. "shot 3", "shots 8-12" or "all of them".',
            "请问是哪个分镜？例如“第3个分镜”“第8到12个分镜”或“全部”。",
        ),
        ask_shots=True,
    )


def _all_numbers(p: Parsed, ctx: PlanningContext) -> list[int]:
    total = ctx.workspace.shots
    if not total:
        raise _Stop(
            "clarify",
            p.t(
                "I don't know how many shots there are; which shot numbers?",
                "我不知道共有几个分镜，请说分镜编号。",
            ),
            ask_shots=True,
        )
    return list(range(1, total + 1))


def _minus_excluded(p: Parsed, ctx: PlanningContext, shots: Targets) -> Targets:
    if not ctx.excluded:
        return shots
    numbers = _all_numbers(p, ctx) if shots == "all" else shots
    kept = [n for n in numbers if n not in ctx.excluded]
    if not kept:
        raise _Stop("clarify", p.t("That leaves no shots to change.", "这样就没有要改的分镜了。"))
    return kept


def _by_description(p: Parsed, ctx: PlanningContext) -> list[int]:
    found: set[int] = set()
    for ref in [p.desc, *p.more_desc]:
        found.update(_one_description(p, ctx, ref))
    return sorted(found)


def _one_description(p: Parsed, ctx: PlanningContext, ref: Any) -> list[int]:
    key = ref.keyword
    visuals = {s.number: s.visual for s in ctx.shots if s.visual}
    found, fuzzy = understand.match_descriptions(key, visuals)
    if not found:
        raise _Stop(
            "clarify",
            p.t(
                f"I can't tell which shots are “{key}”; which shot numbers?",
                f"我分不清哪些分镜是“{key}”，请说分镜编号。",
            ),
            ask_shots=True,
        )
    if ref.single and len(found) > 1:  # "把狐狸那个镜头删了": one shot meant, several match
        raise _Stop(
            "clarify",
            p.t(
                f"Several shots match “{key}” (shots {format_numbers(found)}); which one?",
                f"有好几个分镜符合“{key}”（第{format_numbers(found)}个），是哪一个？",
            ),
            ask_shots=True,
        )
    p.evidence.append(
        f"shots {format_numbers(found)} ← “{key}” ({'similar' if fuzzy else 'found'} in their descriptions)"
    )
    if fuzzy:
        p.evidence.append("guess: fuzzy description match")
    return found


def _check_shots(p: Parsed, ctx: PlanningContext, shots: Targets) -> Targets:
    total = ctx.workspace.shots
    if shots == "all" or total is None:
        return shots
    bad = [n for n in shots if n > total or n < 1]
    if bad:
        if total == 0:
            raise _Stop("out_of_range", p.t("This project has no shots yet.", "这个项目还没有分镜。"))
        raise _Stop(
            "out_of_range",
            p.t(
                f"Shot{'s' if len(bad) > 1 else ''} {format_numbers(bad)} "
                f"{'do' if len(bad) > 1 else 'does'}n't exist: this project has {total} shots (1–{total}).",
                f"第{format_numbers(bad)}个分镜不存在：这个项目共有{total}个分镜（1–{total}）。",
            ),
        )
    return shots


def _targets(
    p: Parsed, ctx: PlanningContext, *, allow_all: bool = True, implicit_focus: bool = True
) -> Targets:
    """Shots the clause is about: explicit > "the rest" (after exceptions) > by description >
    from the end > "last shot" > the answer to a question > "them"/an earlier clause > focus; else ask."""
    shots: Targets | None = p.shots
    total = ctx.workspace.shots
    if isinstance(shots, list) and (p.last_shot or p.last_n) and total:  # "the first and last shots"
        shots = sorted({*shots, *range(max(1, total - max(p.last_n, 1) + 1), total + 1)})
    scenes = p.scenes
    if (shots is None or shots == "all") and not scenes and re.search(r"\bscene\b|场", p.text):
        scenes = _scene_by_name(p, ctx)[1]  # "every shot in the frozen lake scene", "最后一场的镜头"
    if (shots is None or shots == "all") and scenes and any(s.scene for s in ctx.shots):
        in_scenes = [s.number for s in ctx.shots if s.scene in scenes]
        if in_scenes:  # "the shots of scene 2", "turn scene 1 into video", "给第二场配旁白"
            shots = in_scenes
            p.evidence.append(f"shots {format_numbers(in_scenes)} ← scene {format_numbers(scenes)}")
    if shots == "all" and p.rest and not ctx.excluded and ctx.carried is None and not ctx.focus.shot:
        raise _Stop(  # "别的镜头都加点雾" with nothing named before: other than which?
            "clarify",
            p.t("The other shots — other than which one?", "其他的镜头——除了哪个之外？请说分镜编号。"),
            ask_shots=True,
        )
    if (
        shots is None
        and ctx.excluded
        and not p.rest
        and re.search(r"都|全|\b(?:all|everything|every)\b", p.text)
    ):
        p.rest = True  # "除第一场外都改成雪景": all shots but the excepted ones
    if shots is None and p.rest and ctx.excluded:
        shots = "all"
        p.evidence.append("“the rest/others” ← all shots but the excepted ones")
    if shots is None and p.desc is not None:
        shots = _by_description(p, ctx)
    if shots is None and p.from_end:
        total = ctx.workspace.shots
        if not total:
            raise _ask_shot(p)
        shots = [total - p.from_end + 1]
        p.evidence.append(f"shot {shots[0]} ← {p.from_end}. from the end")
    if shots is None and p.last_n:
        total = ctx.workspace.shots
        if not total:
            raise _Stop(
                "clarify",
                p.t(
                    "I don't know how many shots there are; which shot numbers?",
                    "我不知道共有几个分镜，请说分镜编号。",
                ),
            )
        shots = list(range(max(1, total - p.last_n + 1), total + 1))
    if shots is None and p.vague_shot:
        raise _ask_shot(p)
    if shots is None and p.last_shot:
        if ctx.workspace.shots:
            shots = [ctx.workspace.shots]
        else:
            raise _Stop(
                "clarify",
                p.t(
                    "I don't know how many shots there are; which shot number?",
                    "我不知道共有几个分镜，请说分镜编号。",
                ),
            )
    if shots is None and ctx.answer_shots is not None and not p.this_shot:
        shots = ctx.answer_shots
        p.evidence.append("shots ← your answer to my question")
    if (
        (
            shots is None
            or (shots == "all" and p.has(r"\ball of (?:them|those|these)\b|\b(?:them|those|these) all\b"))
        )
        and len(ctx.named_before) >= 2
        and p.has(
            r"\bboth\b|\ball (?:of )?(?:them|those|these)\b|\b(?:them|those|these) all\b"
            r"|这两个|这几个|它们(?:都|俩|全)|两个都|^都(?=做|生成|配|出|转|合)"
        )
    ):  # "shot 2 close, shot 3 wide, then animate both of them": every shot named before
        shots = list(ctx.named_before)
        p.evidence.append(f"“both/all of them” ← shots {format_numbers(shots)} named before")
    if shots is None and ctx.carried is not None and (p.pronoun or implicit_focus) and not p.this_shot:
        shots = ctx.carried
        p.evidence.append(f"“{'them' if p.pronoun else 'it'}” ← {_shots_text('en', shots)} named before")
    if shots is None and p.has(
        _DONE_TO
    ):  # "animate the ones i favorited": several things by what was done to them, never the focus
        raise _ask_shot(p)
    if shots is None and (p.this_shot or implicit_focus) and ctx.focus.shot:
        shots = [ctx.focus.shot]
    if shots is None:
        raise _ask_shot(p)
    if ctx.excluded_in_scope and shots != "all" and len(shots) > 1:
        drop = {shots[0] if which == "first" else shots[-1] for which in ctx.excluded_in_scope}
        shots = [n for n in shots if n not in drop]
    if ctx.excluded:
        shots = _minus_excluded(p, ctx, shots)
    if shots == "all" and not allow_all:
        raise _Stop(
            "clarify",
            p.t(
                "Which single shot? This works on one shot at a time.",
                "请指定一个分镜，这个操作一次只能针对一个分镜。",
            ),
        )
    return _check_shots(p, ctx, shots)


def _one_shot(p: Parsed, ctx: PlanningContext, *, implicit_focus: bool = True) -> int:
    shots = _targets(p, ctx, allow_all=False, implicit_focus=implicit_focus)
    assert shots != "all"
    if len(shots) != 1:
        raise _Stop(
            "clarify",
            p.t(
                f"That names shots {format_numbers(shots)}; which single shot?",
                f"你提到了第{format_numbers(shots)}个分镜，请指定一个分镜。",
            ),
        )
    return shots[0]


def _check_track(p: Parsed, ctx: PlanningContext, shot: int | None, track: str | None) -> None:
    if track is None or shot is None:
        return
    known = ctx.tracks.get(str(shot))
    if known and track not in [k.upper() for k in known]:
        raise _Stop(
            "out_of_range",
            p.t(
                f"Shot {shot} has no track {track} (tracks: {', '.join(known)}).",
                f"第{shot}个分镜没有{track}方案（现有：{'、'.join(known)}）。",
            ),
        )


def _check_cell(p: Parsed, cell: int, limit: int) -> int:
    if not 1 <= cell <= limit:
        raise _Stop(
            "out_of_range",
            p.t(
                f"Image #{cell} doesn't exist: the grid has {limit} images.",
                f"第{cell}张不存在：这组宫格只有{limit}张。",
            ),
        )
    return cell


def _image(p: Parsed, ctx: PlanningContext, *, limit: int = 9) -> tuple[int | None, str | None]:
    """The image the clause points at: ``#N`` in the sentence, else "this one" → focus cell/node."""
    if p.cells:
        return _check_cell(p, p.cells[0], limit), None
    if p.this_one and ctx.focus.cell is not None:
        return _check_cell(p, ctx.focus.cell, limit), None
    if p.this_one and ctx.focus.node:
        return None, ctx.focus.node
    raise _Stop(
        "clarify",
        p.t('Which image? Say e.g. "#7" (its number in the grid).', "请问是哪一张？例如“第7张”。"),
    )


def _grid_limit(ctx: PlanningContext, shot: int | None, track: str | None) -> int:
    g = ctx.latest_grid
    if (
        g
        and g.cells in (4, 9)
        and (shot is None or g.shot in (None, shot))
        and (track is None or g.track in (None, track))
    ):
        return g.cells
    return 9


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


def _shots_text(lang: Lang, shots: Any) -> str:
    if shots == "all":
        return _t(lang, "all shots", "所有分镜")
    if isinstance(shots, int):
        shots = [shots]
    return _t(
        lang,
        f"shot{'s' if len(shots) > 1 else ''} {format_numbers(shots)}",
        f"第{format_numbers(shots)}个分镜",
    )


def _camera_text(lang: Lang, camera: dict[str, Any]) -> list[str]:
    if lang == "zh":
        return [lx.zh_label(v) for v in camera.values() if v]
    return [f"{v} angle" if k == "angle" else str(v) for k, v in camera.items() if v]


_ZH_FIELD = {"visual": "画面", "dialogue": "台词", "narration": "旁白", "place": "地点", "title": "标题"}


def _patch_text(lang: Lang, patch: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in patch.items():
        if value is None:
            continue
        if key == "camera":
            parts.extend(_camera_text(lang, value))
        elif key == "duration_s":
            parts.append(_t(lang, f"{value:g} s", f"{value:g}秒"))
        elif key == "pacing":
            parts.append(_t(lang, f"{value} pacing", "节奏加快" if value == "faster" else "节奏放慢"))
        elif key in ("time_of_day", "mood", "weather"):
            parts.append(_t(lang, str(value), lx.zh_label(str(value))))
        elif key == "style_override":
            parts.append(_t(lang, f"{value} style", f"{value}风格"))
        elif key == "lighting":
            parts.append(_t(lang, f"{value} lighting", f"{lx.zh_label(str(value))}灯光"))
        else:
            label = _ZH_FIELD.get(key, key)
            parts.append(_t(lang, f"new {key.replace('_', ' ')}", f"{label}已更新"))
    return _t(lang, ", ".join(parts), "、".join(parts))


def _img_text(lang: Lang, cell: int | None) -> str:
    if cell is None:
        return _t(lang, "the selected image", "选中的图")
    return _t(lang, f"#{cell}", f"第{cell}张")


def describe(a: AnyAction, lang: Lang) -> str:
    """The EN/ZH summary of one planned action (what the user reads before it runs)."""
    d = a.args.model_dump(exclude_none=True, by_alias=True)
    t = a.type
    zh = lang == "zh"
    if t == "project.create":
        extra = [
            x for x in (d.get("style"), f"{d['shot_count']} shots" if d.get("shot_count") else None) if x
        ]
        if zh:
            extra = [
                x for x in (d.get("style"), f"{d['shot_count']}个分镜" if d.get("shot_count") else None) if x
            ]
            return f"新建项目《{d['title']}》" + (f"（{'，'.join(extra)}）" if extra else "")
        return f'Creating project "{d["title"]}"' + (f" ({', '.join(extra)})" if extra else "")
    if t == "gen.storyboard":
        return "生成故事板" if zh else "drafting the storyboard"
    if t == "shot.update":
        head = _t(lang, "Updating ", "修改") + _shots_text(lang, d["shots"])
        return head + _t(lang, ": ", "：") + _patch_text(lang, d["patch"])
    if t == "shot.delete":
        return _t(lang, "Delete ", "删除") + _shots_text(lang, d["shots"])
    if t == "shot.merge":
        return _t(lang, "Merge ", "合并") + _shots_text(lang, d["shots"])
    if t == "shot.split":
        return _t(
            lang, f"Splitting shot {d['shot']} into {d['parts']}", f"把第{d['shot']}个分镜拆成{d['parts']}个"
        )
    if t == "shot.reorder":
        return _t(
            lang, f"Moving shot {d['shot']} to position {d['to']}", f"把第{d['shot']}个分镜移到第{d['to']}位"
        )
    if t == "shot.add":
        where = d.get("after")
        if where is None:
            return _t(lang, "Adding a shot at the end", "在末尾添加一个分镜")
        if where == 0:
            return _t(lang, "Adding a shot at the start", "在开头添加一个分镜")
        return _t(lang, f"Adding a shot after shot {where}", f"在第{where}个分镜后添加一个分镜")
    if t == "gen.grid":
        base = _t(
            lang,
            f"Generating a {d['size']}-grid for ",
            f"为{_shots_text(lang, d['shots'])}生成{d['size']}宫格",
        )
        if not zh:
            base += _shots_text(lang, d["shots"])
        if d.get("track"):
            base += _t(lang, f" on track {d['track']}", f"（{d['track']}方案）")
        if d.get("from_cell"):
            base += _t(lang, f", iterating from image #{d['from_cell']}", f"，基于第{d['from_cell']}张继续")
        if d.get("from_node"):
            base += _t(lang, ", iterating from the selected image", "，基于选中的图继续")
        if d.get("camera"):
            base += _t(lang, ", ", "，") + _t(lang, ", ", "、").join(_camera_text(lang, d["camera"]))
        return base
    if t == "gen.video":
        return _t(lang, "Animating ", "为") + _shots_text(lang, d["shots"]) + ("生成视频" if zh else "")
    if t == "gen.voice":
        line = "dialogue" if d.get("kind") == "dialogue" else "narration"
        return (
            _t(lang, f"Recording {line} for ", "为")
            + _shots_text(lang, d["shots"])
            + (("录台词" if line == "dialogue" else "配旁白") if zh else "")
        )
    if t == "gen.music":
        return _t(
            lang,
            f"Generating {d['mood']} music",
            "生成背景音乐" + ("" if d["mood"] == "auto" else f"（{lx.zh_label(d['mood'])}）"),
        )
    if t == "gen.compose":
        final = d["mode"] == "final"
        return _t(
            lang,
            f"Composing the {'final video' if final else 'preview'}",
            "合成成片" if final else "合成预览版",
        )
    if t == "track.fork":
        src = _img_text(lang, d.get("from_cell"))
        return _t(
            lang,
            f"Starting a new track for shot {d['shot']} from {src}",
            f"从{src}为第{d['shot']}个分镜另起一个方案",
        )
    if t == "track.switch":
        return _t(
            lang,
            f"Switching shot {d['shot']} to track {d['track']}",
            f"把第{d['shot']}个分镜切换到{d['track']}方案",
        )
    if t in ("node.commit", "node.reference", "node.favorite"):
        img = _img_text(lang, d.get("cell"))
        if d.get("track"):
            img += _t(lang, f" from track {d['track']}", f"（{d['track']}方案）")
        if t == "node.commit" and d.get("shots") is not None:
            return _t(
                lang,
                f"Using {img} of each latest grid for {_shots_text(lang, d['shots'])}",
                f"把{_shots_text(lang, d['shots'])}都设为各自最新宫格的{img}",
            )
        if t == "node.commit":
            return _t(lang, f"Using {img} for shot {d['shot']}", f"把{img}设为第{d['shot']}个分镜的当前版本")
        if t == "node.reference":
            role_zh = {"image": "参考图", "style": "风格参考", "character": "角色参考", "scene": "场景参考"}[
                d["as"]
            ]
            return _t(lang, f"Using {img} as {d['as']} reference", f"把{img}作为{role_zh}")
        return _t(lang, f"Adding {img} to favorites", f"收藏{img}")
    if t == "task.list":
        return _t(lang, "Listing " + (f"{d['status']} " if d.get("status") else "") + "tasks", "查看任务")
    if t == "task.status":
        return _t(lang, "Checking task status", "查看任务状态")
    if t == "task.cancel":
        kind = d.get("kind")
        what = d.get("task_id") or (
            _t(lang, kind, "所有" if kind == "all" else lx.zh_label(kind))
            if kind
            else _shots_text(lang, d.get("shots"))
        )
        return _t(
            lang,
            f"Cancelling {what} tasks",
            f"取消{what}的任务" if d.get("shots") and not kind else f"取消{what}任务",
        )
    if t == "task.retry":
        return (
            _t(lang, "Retrying failed tasks", "重试失败的任务")
            if not d.get("task_id")
            else f"Retry {d['task_id']}"
        )
    if t == "version.rollback":
        if d.get("before"):
            return _t(lang, f"Roll back to before {d['before']}", f"回到“{d['before']}”之前的版本")
        return _t(lang, f"Roll back to snapshot {d['snapshot_id']}", f"回到快照{d['snapshot_id']}")
    if t == "version.snapshot":
        return _t(lang, "Saving a snapshot", "保存快照")
    if t == "export.package" and [f for f in d.get("formats") or [] if f != "media"]:
        named = ", ".join(f for f in d["formats"] if f != "media")
        return _t(lang, f"Exporting {named} of the cut", f"导出{named}")
    if t == "export.package":
        return _t(
            lang,
            f"Packaging {d['selection']} for download",
            "打包导出" + ("收藏" if d["selection"] == "favorites" else "选中版本"),
        )
    if t == "scene.add":
        after = d.get("after")
        return _t(
            lang,
            "Adding a scene"
            + (f" after scene {after}" if after else " at the end" if after is None else " at the start"),
            "添加一个场景" + (f"（第{after}场之后）" if after else ""),
        )
    if t == "scene.update":
        return _t(lang, f"Updating scene {d['scene']}: ", f"修改第{d['scene']}场：") + _patch_text(
            lang, d["patch"]
        )
    if t == "scene.reorder":
        return _t(
            lang, f"Moving scene {d['scene']} to position {d['to']}", f"把第{d['scene']}场移到第{d['to']}位"
        )
    if t == "scene.delete":
        return _t(lang, f"Delete scene {d['scene']}", f"删除第{d['scene']}场")
    if t == "character.create":
        return _t(lang, f"Creating character {d['name']}", f"新建角色{d['name']}")
    if t == "character.lock":
        locks = ", ".join(d["locks"]) if lang == "en" else "、".join(lx.zh_label(x) for x in d["locks"])
        return _t(lang, f"Locking {d['name']}'s {locks}", f"锁定{d['name']}的{locks}")
    if t == "character.update":
        return _t(lang, f"Updating character {d['name']}", f"修改角色{d['name']}")
    if t == "character.attach_reference":
        return _t(lang, f"Attaching a reference image to {d['name']}", f"为{d['name']}添加参考图")
    if t == "project.set_style":
        return _t(lang, f"Setting the project style to {d['style']}", f"项目风格设为{d['style']}")
    if t == "project.set_rules":
        return _t(
            lang, "Adding project rules: " + "; ".join(d["rules"]), "添加项目规则：" + "；".join(d["rules"])
        )
    if t == "project.update_meta":
        return _t(lang, "Updating project settings", "更新项目设置")
    return t


# --------------------------------------------------------------------------------------------------
# Handlers: each returns the clause's actions (as dicts), None when it does not apply, or raises _Stop
# --------------------------------------------------------------------------------------------------

ActionDict = dict[str, Any]
Handler = Callable[[Parsed, PlanningContext], list[ActionDict] | None]


def _act(type_: str, reason: str = "", **args: Any) -> ActionDict:
    return {"type": type_, "args": {k: v for k, v in args.items() if v is not None}, "reason": reason}


# task.list / task.status ---------------------------------------------------------------------------
_TASK_WORDS = r"\b(?:jobs?|tasks?|renders?|generations?|queue|workflows?)\b|任务|作业|队列"
_TASK_ID = (
    r"\b(?:task|job)\s+(?:id\s+)?([a-z0-9][a-z0-9_-]*[0-9-][a-z0-9_-]*)\b|任务\s*([a-z0-9][a-z0-9_-]{3,})"
    r"|\b((?:grid|video|voice|music|compose|storyboard|export)-[a-z0-9_-]*[0-9][a-z0-9_-]*)\b"
)


def _task_id(p: Parsed) -> str | None:
    m = re.search(_TASK_ID, p.text)
    if not m:
        return None
    return next(g for g in m.groups() if g)


def _h_task_list(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = (
        p.starts(
            r"(?:what|whats|what's|which|how many|any|are there|is (?:anything|something)"
            r"|did|have|has|were|are)\b"
        )
        and p.has(
            r"\b(?:running|jobs?|tasks?|queue[d]?|in progress|going on|failed|failing|pending|rendering)\b"
            r"|^(?:did|has|have|is|are|were)\s+(?:anything|something|any(?:\s+of\s+them)?|nothing|one)\s+"
            r"(?:\w+\s+)?(?:fail(?:ed)?|error(?:ed)?|crash(?:ed)?|break|broken|broke|go wrong|gone wrong"
            r"|stuck)\b"
        )
    ) or p.starts(
        r"(?:list|show|show me|check|see)\s+(?:the\s+|all\s+|my\s+)?(?:\w+\s+)?(?:jobs?|tasks?|queue)\b"
    )
    en = en or p.starts(
        r"(?:task|job)\s+(?:list|status)\b|(?:quick\s+|a\s+)?status\b|progress\b"
        r"|how (?:are|is) (?:the |my |our )?(?:jobs?|tasks?|renders?|generations?|videos?|things)\b"
        r"|(?:is )?anything (?:still )?(?:in the queue|queued|running|pending|rendering)"
    )
    en = en or (
        p.starts(r"(?:what|which|how|is|are|has|have|did|does|do|was|were)\b")
        and p.has(r"\b(?:status|done|finish(?:ed)?|ready|progress|complete[d]?)\b")
        and p.has(
            r"\b(?:videos?|clips?|grids?|images?|voices?|narration|music|preview|compose|export|storyboard)\b"
        )
    )
    zh = p.has(
        r"(?:哪些|什么|多少|几个)(?:任务|作业)|任务.{0,3}(?:列表|状态|进度|情况)|在跑|(?:还有|有没有).{0,4}(?:在渲染|在生成|在跑)|还在运行|进度(?:如何|怎么样|怎样)|正在运行"
        r"|任务.{0,3}(?:有哪些|有什么|有几个)|(?:看下|看看|查下|查查|查一下|看一下|瞧瞧|列一下|列出)[^，,。]{0,8}任务"
        r"|(?:预览|视频|成片|宫格|图|配音|旁白|音乐|配乐|任务).{0,4}(?:好了没|好了吗|完成了吗|做完了吗|生成好了吗|出来了吗|好没好)"
    )
    zh = zh or (
        p.has(r"状态|进度|情况|怎么样|咋样|怎样|如何|好了没|好了吗|完成了?[没吗]|跑完了?[没吗]|到哪了")
        and _task_id(p) is not None
    )
    en = en or (p.has(r"\b(?:status|progress)\b") and p.has(r"\b(?:jobs?|tasks?|renders?|queue)\b"))
    en = en or (
        p.starts(r"how'?s|how is|how are")
        and p.has(r"\b(?:coming along|going|doing|getting on)\b")
        and p.has(
            r"\b(?:videos?|clips?|grids?|images?|voices?|narration|music|preview|render|compose|export)\b"
        )
    )
    en = en or (
        p.starts(r"why\b") and p.has(r"\bfail(?:ed|ing|s)?\b")
    )  # "why did the grid fail": the failed tasks
    en = en or (
        _task_id(p) is not None and p.has(r"\b(?:how'?s|how is|status|doing|done|finished|progress|going)\b")
    )
    zh = zh or p.has(
        r"(?:任务|作业).{0,6}(?:失败|出错|报错|挂了|崩了)了?吗|有没有.{0,6}(?:失败|出错|报错|挂了|崩了)"
        r"|有(?:没有)?[^，,。]{0,6}(?:失败|出错|报错|卡住)的(?:任务|作业)"
    )
    if not (en or zh) or p.has(
        r"\b(?:cancel|stop|retry|abort|kill)\b|取消|重试|停止|停掉|停了|停下|中止|终止|别跑"
    ):
        return None
    task_id = _task_id(p)
    if task_id:
        return [_act("task.status", task_id=task_id)]
    if p.has(
        r"\b(?:overall|overview|summary|in general|at a glance)\b|整体|总体|汇总|概况|总的"
    ) and not p.has(
        r"\b(?:fail\w*|running|queued|pending|done|finished)\b|失败|在跑|排队|完成"
    ):  # "status check on my jobs overall": counts by status
        return [_act("task.status")]
    kind = _first(lx.TASK_KIND, re.sub(r"\brendering\b", " ", p.text))
    return [_act("task.list", status=_first(lx.TASK_STATUS, p.text), kind=kind)]


# task.cancel ---------------------------------------------------------------------------------------
def _h_task_cancel(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not (
        p.starts(r"(?:cancel|stop|abort|kill|halt|terminate)\b")
        or p.has(
            r"取消|停止|停掉|停下|中止|终止|别跑了|(?:都|全)停了|停了吧|(?:别|不要|不用)(?:再)?生成了|停止生成"
            r"|(?:任务|作业)(?:都|全)?停(?:了|掉|下)"
        )
    ):
        return None
    if p.has(_STOP_MOTION) or p.has(r"取消收藏"):
        return None
    task_id = _task_id(p)
    kind = _first(lx.TASK_KIND, p.text)
    if p.starts(r"(?:kill|nuke)\b") and not (task_id or kind or p.has(_TASK_WORDS)):
        return None  # "kill shot 7": slang for deleting the shot, not a job
    shots = p.shots if isinstance(p.shots, list) else None
    if shots is not None:
        _check_shots(p, ctx, shots)
    if not (task_id or kind or shots):
        if p.has(r"\b(?:all|everything|every|generating|rendering)\b|所有|全部|一切|生成|渲染") or p.has(
            _TASK_WORDS
        ):
            kind = "all"
        else:
            raise _Stop("clarify", p.t("Which jobs should I cancel?", "请问要取消哪些任务？"))
    return [_act("task.cancel", task_id=task_id, kind=kind, shots=shots)]


# task.retry ----------------------------------------------------------------------------------------
def _h_task_retry(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not (
        p.starts(r"(?:retry|re-?run|try (?:again|once more)|restart|resubmit)\b|try\b.{0,30}\bagain\b")
        or p.has(r"重试|重新运行|重跑|再试|重新跑|重新提交|再跑一[次遍下]|再运行一[次遍下]")
        or (
            p.has(r"\bfail(?:ed|ing|s)?\b|失败|出错|报错")
            and p.has(
                r"\b(?:another (?:go|try|shot)|once more|again|restart|redo|regenerate)\b"
                r"|再来一[次遍]|重新来|重新生成|再生成"
            )
        )
    ):
        return None
    task_id = _task_id(p)
    if task_id:
        return [_act("task.retry", task_id=task_id)]
    if isinstance(p.shots, list) and not p.has(r"fail|失败"):
        raise _Stop(
            "clarify",
            p.t(
                'Retry works on tasks: say "retry the failed ones" '
                '(or "regenerate shot 3" to redo its images).',
                "重试针对的是任务：可以说“重试失败的任务”，或“重新生成第3个分镜”。",
            ),
        )
    return [_act("task.retry", status_filter="failed")]


# version -------------------------------------------------------------------------------------------
def _match_snapshot(ctx: PlanningContext, before: str) -> str | None:
    words = {
        w
        for w in re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", before.lower())
        if w not in {"the", "change", "改"}
    }
    words |= {
        v
        for pat, v in lx.LIGHTING + lx.TIME_OF_DAY + lx.MOODS + lx.WEATHER + lx.TASK_KIND
        if re.search(pat, before.lower())
    }
    if not words:
        return None
    scored = []
    for snap in ctx.snapshots:
        note = snap.note.lower()
        score = sum(1 for w in words if w in note)
        if score:
            scored.append((score, snap.id))
    scored.sort(reverse=True)
    if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


def _h_rollback(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.starts(
        r"(?:go back|roll ?back|revert|undo|restore|return to|get back|back to"
        r"|take (?:me|us|it|everything) back|bring (?:it|everything) back)\b"
    )
    zh = p.has(
        r"^(?:请|帮我|麻烦)?(?:回到|回滚|撤销|恢复到|还原|退回|返回到|恢复成)|回到.{0,24}(?:之前|以前|版本|快照|状态|样子)"
        r"|撤销|回滚|撤回|撤了|(?:恢复|改|变|还原|弄|退|换)回去|恢复原样|(?:那次|这次|上次)(?:的)?(?:改动|修改)不要了"
    )
    remark = re.search(  # "ugh the neon lighting looks bad, revert that"
        r"^(.+?)[,;，；]\s*(?:please\s+)?(?:go back|roll ?back|revert|undo)\b"
        r"(?:\s+(?:that|it|this|the change|this change|those changes))?\s*[.!]*$",
        p.cased,
        re.I,
    )
    en = en or remark is not None
    if not (en or zh) or (p.track and p.has(r"\b(?:track|branch|version|take|variant)\b|方案|分支")):
        return None
    m = re.search(  # an id has a digit ("snapshot 5f1e0c2a…"); "the snapshot before the narration" names none
        r"\bsnapshot\s+([a-z0-9_-]*\d[a-z0-9_-]{2,})|快照\s*([a-z0-9_-]*\d[a-z0-9_-]{2,})", p.text
    )
    if m:
        return [_act("version.rollback", snapshot_id=next(g for g in m.groups() if g))]
    before: str | None = None
    m = re.search(
        r"\bbefore\s+(?:the\s+|my\s+|our\s+|i\s+(?:made|did)\s+(?:the\s+)?|we\s+(?:made|did)\s+(?:the\s+)?)?(.+?)"
        r"(?:\s+(?:was made|happened|version|state))?\s*[.!?]*$",
        p.cased,
        re.I,
    )
    if m:
        before = m.group(1).strip(" .'\"")
    else:
        m = re.search(
            r"(?:回到|恢复到|还原到|退回到|回滚到|返回到)(.+?)(?:之前|以前|前)(?:的)?(?:版本|状态|样子)?",
            p.cased,
        )
        if m:
            before = re.sub(r"^(?:在|我|我们)", "", m.group(1)).strip()
    if not before and remark is not None:
        what = re.sub(
            r"\b(?:ugh|ok|okay|hmm|meh|yeah|the|that|this|looks?|looked|is|are|was|seems?|so|really|too|very|kinda"
            r"|bad|wrong|awful|terrible|off|weird|ugly|horrible|cheap|i|hate|don't like|it|tbh|honestly)\b",
            " ",
            remark.group(1),
            flags=re.I,
        )
        before = re.sub(r"\s+", " ", what).strip(" ,.") or None
    if not before:  # "undo the neon thing", "revert the rain change", "撤销霓虹灯的修改": the object names it
        m = (
            re.search(
                r"^(?:undo|revert|roll ?back|take back)\s+(?:the\s+|my\s+|that\s+|this\s+)?(.+?)"
                r"(?:\s+(?:thing|change|changes|edit|edits|stuff|update|one))?\s*[.!?]*$",
                p.head,
                re.I,
            )
            or re.search(
                r"(?:撤销|撤回|还原)(?:一下)?(?:刚才)?(.+?)(?:的)?(?:修改|改动|更改|操作|那次)", p.cased
            )
            or re.search(  # "霓虹那次改动不要了，恢复回去", "把霓虹灯的修改改回去"
                r"^(?:把|将)?(.+?)(?:的)?(?:那次|那个|这次|上次)?(?:的)?(?:修改|改动|更改)", p.cased
            )
        )
        what = m.group(1).strip(" .'\"") if m else ""
        if what and not re.fullmatch(
            r"(?:it|that|this|everything|all|last|the last|last change|changes?|edits?|刚才|上一步|上次)",
            what,
            re.I,
        ):
            before = what
    if before:
        return [_act("version.rollback", before=before, snapshot_id=_match_snapshot(ctx, before))]
    if ctx.snapshots:
        return [_act("version.rollback", snapshot_id=ctx.snapshots[-1].id)]
    raise _Stop(
        "clarify",
        p.t(
            'Which version? Say e.g. "go back to before the neon change".',
            "要回到哪个版本？例如“回到改霓虹之前的版本”。",
        ),
    )


def _h_snapshot(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(r"\b(?:take|make|save|create)\s+(?:a\s+|the\s+)?(?:snapshot|checkpoint|backup)\b") or p.starts(
        r"snapshot\b|save (?:this|the current|a) (?:version|state)\b|checkpoint\b"
        r"|bookmark (?:a |this |the current )?(?:version|state)\b"
        r"|save (?:where we are|our progress|my progress|progress|this point|the current state)\b"
    )
    zh = p.has(
        r"快照|存档|存(?:个|一下|一个)档|(?:保存|存)(?:一下|一个|个)?(?:当前)?(?:的)?(?:版本|状态|进度)|备份"
        r"|^(?:先)?(?:保存|存)一下$"
    )
    if not (en or zh):
        return None
    note = _quoted(p.cased)
    if note is None:
        m = re.search(
            r"\b(?:called|named|(?:call|name|label) it|as|note)\s*:?\s*(.+)$"
            r"|(?:叫做|叫|命名为|备注|名为)[:：]?\s*(.+)$",
            p.cased,
            re.I,
        )
        if m:
            note = next(g for g in m.groups() if g).strip(" .。")
    return [_act("version.snapshot", note=note)]


# project.create + gen.storyboard -------------------------------------------------------------------
_STORY_KINDS = (
    r"(?:story|video|film|short|movie|ad|advert|commercial|explainer|animation|cartoon|episode|clip|comic)"
)
_ZH_STORY_KINDS = r"(?:故事板|故事|视频|短片|动画|广告|短剧|漫剧|片子|项目|漫画)"


def _looks_like_storyboard(p: Parsed) -> bool:
    if p.has(r"\bstoryboards?\b|故事板|分镜脚本"):
        return not p.starts(r"(?:cancel|stop|retry|export|download)\b")
    if p.shots is None and p.has(  # "分镜重新生成，改成8个镜头": the whole storyboard again
        r"(?:重新生成|重做|重新做|重新出|重建|重新拆|重拆)(?:一下|一版|一遍)?(?:整个)?分镜(?!\s*\d|第)"
        r"|^(?:整个)?分镜(?:全部|整个)?(?:重新生成|重做|重新做|重新出|重建|重新拆|重拆)"
    ):
        return True
    if p.has(rf"\b{NUM}[- ]shots?\s+{_STORY_KINDS}\b"):
        return True
    if (
        p.starts(r"(?:make|create|write|tell|generate|produce|do|build|start|draft|give me)\b")
        and p.has(rf"\b{_STORY_KINDS}\s+(?:about|where|in which)\b")
        and not p.has(rf"\babout\s+(?:an?|{NUM})\s*(?:s|secs?|seconds?|mins?|minutes?)\b")  # a length
    ):
        return True
    if p.has(_NEW_PROJECT):
        return True
    if p.starts(r"(?:storyboard|make|create|do|produce)\b") and p.has(
        r"\b(?:an?\s+)?(?:ad|advert|commercial|promo|teaser|trailer)\s+(?:for|about|of)\b"
    ):
        return True
    return p.has(
        r"^(?:帮我|请|麻烦|给我)?(?:我想|想|要)?(?:做|拍|来)(?:一个|个|一支|支|一部|一条)?.{1,12}?(?:广告|宣传片)(?:[，,。]|$)"
        rf"|关于.+的(?:\s*{NUM}\s*个?\s*(?:分镜|镜头)\s*的?)?\s*{_ZH_STORY_KINDS}|讲(?:一个|个)?.+的故事"
        rf"|^(?:做|拍|来)(?:一个|个|一支|支|一部)?(?:\s*{NUM}\s*个?(?:分镜|镜头)的?)?(?:广告|短片|动画|短剧|漫剧)[，,]\s*讲"
        rf"|(?:做|拍|来|出)(?:一个|个|一版|一套|套)?(?:\s*{NUM}\s*个?(?:分镜|镜头)的?)(?:分镜|故事板)?\s*[，,\s]\s*讲"
        r"|\bstoryboard\s+(?:this|these|the following|it)\s*[:\-]"
        # "一个讲水循环的6个镜头的分镜": the story, then its size
        rf"|讲.{{2,30}}?的\s*{NUM}\s*个?(?:分镜|镜头)的?\s*(?:分镜|故事板|视频|短片|动画)"
        # "帮我做个短片：一个小机器人…", "make me a short film: a robot …": the story after the colon
        rf"|^(?:帮我|请|麻烦|给我)?(?:我想|想|要)?(?:做|拍|来|写)(?:一个|个|一支|支|一部|一条)?{_ZH_STORY_KINDS}\s*[:：]\s*\S"
        rf"|^(?:make|create|do|write|produce)\s+(?:me\s+|us\s+)?(?:an?\s+)?(?:short\s+|quick\s+|little\s+)?"
        rf"{_STORY_KINDS}\s*:\s*\S"
    )


_NEW_PROJECT = (
    r"\bnew (?:project|story|video|film)\b|新项目|(?:新建|新开|新起|开|建)(?:一个|个)?(?:新)?项目"
    r"|^新(?:的)?故事"
)


def _title_case(s: str) -> str:
    small = {
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
    }
    words = s.split()
    out = [w if (i > 0 and w.lower() in small) else (w[:1].upper() + w[1:]) for i, w in enumerate(words)]
    return " ".join(out)


def _clip(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    cut = s[:limit].rsplit(" ", 1)[0] if " " in s[:limit] else s[:limit]
    return cut.rstrip(" ,;:")


_META_SEGMENT = [
    r"^(?:in\s+)?(?:an?\s+|the\s+)?(?:[\w'&-]+\s+){0,2}[\w'&-]+[- ](?:style|look|aesthetic|vibe)$",
    r"^(?:in\s+)?the style of .+$",
    r"^style\s*:.+$",
    rf"^(?:with\s+|in\s+)?{NUM}\s*shots?$",
    r"^(?:in\s+)?\d{1,2}:\d{1,2}(?:\s+aspect(?: ratio)?)?$",
    r"^(?:in\s+)?(?:vertical|horizontal|portrait|landscape|square)(?:\s+format| video)?$",
    r"^.{1,12}(?:风格|画风|风)$",
    rf"^{NUM}\s*个?\s*(?:分镜|镜头)$",
    r"^(?:竖屏|横屏|竖版|横版|方形)$",
]


def _strip_meta(story: str) -> str:
    # "a kite story. 6 shots", "奶茶店开业 ins风": a sentence or a spaced tail of settings is not story
    parts = [
        s.strip()
        for s in re.split(
            rf"[,;，；。]|\.\s+(?=(?:with\s+|in\s+)?{NUM}\s*shots?\s*$)|(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])",
            story,
        )
    ]
    keep = [s for s in parts if s and not any(re.match(m, s, re.I) for m in _META_SEGMENT)]
    joined = ", ".join(keep) if not has_cjk(story) else "，".join(keep)
    joined = re.sub(
        r",?\s+(?:and\s+)?(?:make it\s+|in\s+|with\s+|using\s+)?(?:an?\s+)?"
        r"(?:[\w'&-]+\s+){0,2}[\w'&-]+[- ]style$",
        "",
        joined,
        flags=re.I,
    )
    joined = re.sub(r"\s+in the style of\s+.+$", "", joined, flags=re.I)
    joined = re.sub(rf",?\s*(?:with|in)\s+{NUM}\s+shots$", "", joined, flags=re.I)
    return joined.strip(" .。")


def _story(p: Parsed) -> str | None:
    patterns = [
        rf"关于(.+?)的(?:\s*{NUM}\s*个?\s*(?:分镜|镜头)\s*的?)?\s*{_ZH_STORY_KINDS}",
        r"讲(?:一个|个)?(.+?)的故事",
        rf"讲(?:一个|个|的是)?(.+?)的\s*{NUM}\s*个?(?:分镜|镜头)的?\s*(?:分镜|故事板|视频|短片|动画)",
        r"讲(?:一个|个|的是)?(.+?)(?:[，,。；]|$)",
        r"(?:故事|内容|剧情|主题)(?:是|为)?\s*[:：]\s*(.+)$",
        r"(?:故事板|分镜|项目)\s*[:：,，]\s*(.+)$",
        rf"^(?:帮我|请|麻烦|给我)?(?:我想|想|要)?(?:做|拍|来|写)(?:一个|个|一支|支|一部|一条)?{_ZH_STORY_KINDS}\s*[:：]\s*(.+)$",
        r"\babout\s+(.+)$",
        r"\bstory(?:board)?(?:\s+(?:this|these|the following|it))?\s*[:\-]\s*(.+)$",
        r"\b(?:where|in which)\s+(.+)$",
        r"\b(?:storyboard|story|video|film)\s+(?:of|for)\s+(.+)$",
        r"\b(?:an?\s+)?(?:ad|advert|commercial|promo|spot|teaser|trailer)\s+(?:for|about|of)\s+(.+)$",
        r"^(?:帮我|请|麻烦|给我)?(?:我想|想|要)?(?:做|拍|来)(?:一个|个|一支|支|一部|一条)?(.{1,20}?(?:广告|短片|动画|短剧|漫剧|宣传片))(?:[，,。]|$)",
        r"\b(?:new project|project|storyboard|story|idea|video|film)\s*[:\-]\s*(.+)$",
    ]
    for pattern in patterns:
        m = re.search(pattern, p.cased, re.I)
        if m:
            story = _strip_meta(m.group(1))
            if story:
                return story
    return None


def _aspect(text: str) -> str | None:
    m = re.search(r"\b(\d{1,2})\s*:\s*(\d{1,2})\b", text)
    if m:
        return f"{int(m.group(1))}:{int(m.group(2))}"
    return _first(lx.ASPECT, text)


def _shot_count(p: Parsed) -> int | None:
    for pattern in (
        rf"\b({NUM})[- ]?shots?\b",
        rf"(?<!第)({NUM})\s*个?\s*(?:分镜|镜头)(?!\s*(?:的?故事板)?\s*[:：])",
    ):
        m = re.search(pattern, p.text)
        if m:
            n = parse_int(m.group(1))
            if n is not None:
                if not 3 <= n <= 60:
                    raise _Stop(
                        "out_of_range", p.t("A storyboard has 3–60 shots.", "故事板的分镜数需要在3到60之间。")
                    )
                return n
    return None


def _h_storyboard(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if p.has(
        r"\bdraft (?:space|board)\b|\bscratch\s*(?:space|pad|board|area)\b|\bsandbox\b|\bplayground\b"
        r"|\b(?:blank|empty) (?:canvas|space|board|workspace)\b"
        r"|草稿板|草稿空间|草稿本|空白画布|空白的?(?:空间|画板)"
    ) and p.has(
        r"\b(?:new|create|make|start|want|need|give me|open|set up)\b|新建|创建|来个|开个|要个|建个|想要"
        r"|\b(?:mess|play|tinker|noodle)(?:ing)? around\b|随便试试|随便玩玩"
    ):
        title = _quoted(p.cased) or _fork_name(p) or p.t("Draft board", "草稿板")
        return [
            _act(
                "project.create",
                title=title,
                workspace_type="draft_space",
                language=p.lang,
                aspect_ratio=_aspect(p.text),
            )
        ]
    if not _looks_like_storyboard(p):
        return None
    story = _story(p)
    if not story and ctx.story and ctx.workspace.type == "narrative_project":
        shot_count = _shot_count(p)
        p.evidence.append("story ← this project's story (planning context)")
        return [_act("gen.storyboard", story=ctx.story[:4000], shot_count=shot_count)]
    named = re.search(
        r"\b(?:called|named|titled)\s+[\"']?(.+?)[\"']?\s*[.!]?$|(?:叫做?|名为|命名为)\s*[《\"]?(.+?)[》\"]?$",
        p.cased,
    )
    named = named or re.search(r"《(.+?)》|\"(.+?)\"", p.cased)
    if not story and named and p.has(_NEW_PROJECT):
        title = next(g for g in named.groups() if g).strip()  # "start a new project called Moonlight Heist"
        return [_act("project.create", title=title, language=p.lang, aspect_ratio=_aspect(p.text))]
    if not story:
        raise _Stop(
            "clarify",
            p.t(
                'What is the story about? Say e.g. "a 12-shot storyboard about a fox who steals the moon".',
                "故事讲什么？例如“做一个关于狐狸偷月亮的12个分镜的故事板”。",
            ),
        )
    shot_count = _shot_count(p)
    title = _clip(story, 20) if has_cjk(story) else _title_case(_clip(re.sub(r"[.!?]+$", "", story), 60))
    style = _style(p)
    create = _act(
        "project.create",
        title=title,
        story=story,
        style=style,
        shot_count=shot_count,
        aspect_ratio=_aspect(p.text),
        language=p.lang,
    )
    return [create, _act("gen.storyboard", story=story, shot_count=shot_count)]


# export / compose ----------------------------------------------------------------------------------
def _export_formats(p: Parsed) -> list[str]:
    """Editor/subtitle/draft formats a sentence names (empty: today's media zip)."""
    found = [fmt for pattern, fmt in lx.EXPORT_FORMAT_WORDS if p.has(pattern)]
    if p.has(lx.SUBTITLE_WORDS) and not {"srt", "vtt"} & set(found):
        found += ["srt", "vtt"]
    if p.has(lx.TIMELINE_WORDS) and not found and p.has(r"final cut"):
        found += ["fcpxml"]  # "a timeline for Final Cut"
    if p.has(lx.TIMELINE_WORDS) and not found:
        found += ["otio", "fcpxml", "fcp7xml", "edl"]
    return found


def _h_export(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    asks = p.starts(r"(?:export|download|package|zip)\b") or p.has(r"导出|下载|打包")
    asks = asks or p.has(r"\b(?:a\s+)?zip\b(?:\s+(?:file\s+)?(?:of|with))")
    gives = p.starts(
        r"(?:please )?(?:give|get|send|hand|make) (?:me |us )?(?:the |an? |some )?"
        r"|(?:i\s+)?(?:only\s+|just\s+)?(?:need|want)\b"
    ) or p.has(r"给我|我要|只要|^要(?:一个|个|一份|份|一套)")
    formats = _export_formats(p)
    if not asks and not (gives and formats):
        return None
    burnt_in = p.has(
        r"\b(?:with|and)\s+(?:burn(?:ed|t)?[- ]in\s+)?(?:subtitles?|captions?|subs)\b|带字幕|加字幕|配字幕"
    ) and not p.has(r"\bsrt\b|\bvtt\b|webvtt|字幕文件")
    if (
        burnt_in
        and set(formats) <= {"srt", "vtt"}
        and p.has(r"\b(?:video|mp4|movie|film|final cut|\d{3,4}p)\b|成片|视频|影片|\d{3,4}p")
    ):
        return [_act("gen.compose", mode="final", **_compose_opts(p))]  # the cut, subtitles burnt in
    favorites = p.has(r"\bfavou?rites?\b|\bfavs?\b|\bstarred\b|\bpinned\b|收藏")
    if isinstance(p.shots, list):
        raise _Stop(
            "clarify",
            p.t(
                "Export works on the whole project: export your favorites or the selected images?",
                "导出针对整个项目：要导出收藏的图片，还是选中的图？",
            ),
        )
    if formats:  # timelines of the cut, subtitles, a CapCut draft
        return [_act("export.package", selection="selected", formats=formats)]
    if not favorites and p.has(
        r"\b(?:video|mp4|movie|film|final cut|final version|(?:480|720|1080)p)\b"
        r"|成片|视频|影片|最终版|终版|正片|成品"
    ):
        return [_act("gen.compose", mode="final", **_compose_opts(p))]
    naming = None
    m = re.search(
        r"\bnam(?:ed|ing|es?)\s*(?:the\s+files?\s+|them\s+|each\s+file\s+)?(?:by|as|:|like)?\s*(\S+)$"
        r"|(?:文件名|命名)(?:用|按|格式|规则|方式)?(?:为|是|改成|成|像|:|：)?\s*(\S+)$",
        p.cased,
        re.I,
    )
    if m:
        naming = next(g for g in m.groups() if g)
    return [_act("export.package", selection="favorites" if favorites else "selected", naming=naming)]


def _compose_opts(p: Parsed) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    m = re.search(
        r"\b(480|720|1080)p\b|(?<![\d.])(480|720|1080)(?![\d.]|\s*(?:s\b|secs?|seconds?|秒))", p.text
    )
    if m:
        opts["resolution"] = f"{m.group(1) or m.group(2)}p"
    else:
        opts["resolution"] = _first(lx.RESOLUTION, p.text)
    if p.has(r"\b(?:without|no)\s+subtitles?\b|不要字幕|无字幕|去掉字幕|不加字幕"):
        opts["subtitles"] = False
    elif p.has(lx.SUBTITLE_WORDS):
        opts["subtitles"] = True
    if p.has(r"\b(?:without|no|w/o)\s+(?:background\s+)?music\b|不要音乐|无音乐|不要配乐|不加音乐"):
        opts["music"] = False
    elif p.has(r"\bmusic\b|配乐|背景音乐|音乐"):
        opts["music"] = True
    return opts


def _h_compose(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(
        r"\bcompose\b|\bassemble\b|\bstitch\b"
        r"|\brender (?:the |a )?(?:final |full |whole )?(?:video|movie|film|cut)\b|\bfinal render\b"
        r"|\brender (?:the |a )?(?:final|preview)\b(?!\s+(?:image|grid|frame)s?\b)"
        r"|\brender out\b|\b(?:the\s+)?finished (?:movie|video|film|cut)\b"
        r"|\b(?:see|watch|show me|view|get|make)\b.{0,20}\brough (?:version|draft|edit)\b"
        r"|\b(?:need|want)\b.{0,30}\bon the final (?:video|cut|version)\b"
        r"|\b(?:make|create|generate|build|do|give me|show me|render|cut|see|watch|view|have|get)\s+"
        r"(?:me\s+)?"
        r"(?:a |the )?(?:quick |rough )?(?:(?:\d{3,4}p|hd|full hd|fhd|sd)\s+)?"
        r"(?:preview|rough cut|final cut|final video|final version)\b"
        r"|^(?:a\s+|the\s+)?(?:quick\s+|rough\s+)?(?:(?:full\s+)?hd\s+|fhd\s+|sd\s+|\d{3,4}p\s+)?preview\b"
        r"|^(?:the\s+|a\s+)?(?:final cut|final video|final render)\b"
        r"|\bmix\b.{0,20}\bmusic\b|\bmusic\b.{0,12}\bmixed in\b"
    )
    en = en or p.has(
        r"\b(?:put|cut|stitch|edit|string)\s+(?:it\s+|them\s+|everything\s+|the shots\s+)?"
        r"(?:all\s+)?together\b"
    )
    zh = p.has(
        r"合成(?!一个?(?:分镜|镜头)|一个[哈吧呀啊呢嘛哦]*\s*$)|合个小样|(?:出|做|合|来)(?:个|一个|一版)?(?:小样|样片|demo)|合(?:个|一个|一版)(?:预览|成片)|预览版|出(?:个|一个)?预览|成片|粗剪|最终版|终版"
        r"|拼起来|拼一下|剪出来|剪一版|(?:整|弄|来)(?:个|一个|一版)预览|^预览(?:用|要|版)"
        r"|(?:出|做|来|整|弄|合)(?:个|一个|一版)?[^，,。；]{1,8}?的(?:预览|成片|小样)"
        r"|(?:音乐|配乐).{0,6}(?:混进|混入)"
    )
    if not (en or zh):
        return None
    if p.has(  # "成片有多长", "how long is the final cut?": a question about it, not a request
        r"(?:多长|多久|多大|几秒|几分钟|什么样|好了吗|好了没|在哪)\s*[?？吗呢啊]*$"
        r"|^(?:how (?:long|big)|where|when|what)\b.*\?$"
    ) and not p.has(_GEN_VERB):
        return None
    if p.has(r"\b(?:videos?|clips?)\s+(?:for|of)\s+(?:shots?|all|every|each|the whole thing|them|it|§)"):
        return None  # "render video for the whole thing": a clip per shot (gen.video)
    final = p.has(r"\bfinal\b|\bfinished\b|full quality|high quality|\bmaster\b|成片|最终|正式|终版|高清")
    opts = {k: v for k, v in _compose_opts(p).items() if v is not None}
    return [_act("gen.compose", mode="final" if final else "preview", **opts)]


# character -----------------------------------------------------------------------------------------
def _character_name(p: Parsed, ctx: PlanningContext) -> str | None:
    named = re.search(
        r"\b(?:named|called)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,2})|(?:叫做|名叫|名为|叫)\s*([^\s,，:：的是]{1,10})",
        p.cased,
    )
    if named and p.has(r"\b(?:create|add|new|make|introduce)\b|新建|创建|添加|新增|加入"):
        return next(g for g in named.groups() if g)
    for name in sorted(ctx.characters, key=len, reverse=True):
        if name and name.lower() in p.text:
            return name
    patterns = [
        r"\b(?:named|called)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)",
        r"\bcharacter\s*:?\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)",
        r"\b([A-Z][\w-]*)'s\b",
        r"(?:叫做|名叫|名为|叫)\s*([^\s,，:：的]{1,10})",
        r"锁定(?:角色|人物)?\s*([^\s,，:：的]{1,10})",
        r"(?:角色|人物)\s*[:：]?\s*([^\s,，:：的是]{1,10})",
    ]
    for pattern in patterns:
        m = re.search(pattern, p.cased)
        if m:
            name = m.group(1).strip()
            if name.lower() not in {"a", "an", "the", "new", "one", "this", "that"}:
                return name
    return None


def _h_character(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    mentions_kw = (
        p.has(r"\bcharacters?\b|角色|人物")
        or p.starts(r"lock\b|锁定|锁住")
        or (
            p.has(
                r"\b[a-z][\w-]*'s\s+(?:hair(?:style)?|outfit|costume|clothes|face|palette|colou?rs?|look|reference|ref)\b"
            )
            and not isinstance(p.shots, list)
        )
    )
    known = any(c and c.lower() in p.text for c in ctx.characters)
    if not (mentions_kw or known):
        return None
    name = _character_name(p, ctx)
    refish = p.has(r"\breference\b|\bref\b|参考")
    if refish and name and (p.cells or p.this_one):
        shot = p.shots[0] if isinstance(p.shots, list) and len(p.shots) == 1 else ctx.focus.shot
        cell, node = _image(p, ctx)
        return [_act("character.attach_reference", name=name, cell=cell, node=node, shot=shot, track=p.track)]
    if p.has(
        r"\block(?:ed)?\b|\bkeep\b.*\bconsistent\b|\bfreeze\b|\bstays? the same\b"
        r"|\bsame (?:everywhere|in every shot)\b"
        r"|锁定|锁住|锁死|固定|保持一致|别再变|不要再变|(?:角色|人物)?锁|不能变|不许变|别变|不要变"
    ):
        if not name:
            raise _Stop("clarify", p.t("Which character should I lock?", "请问要锁定哪个角色？"))
        locks = _all_of(lx.LOCKS, re.sub(re.escape(name.lower()), " ", p.text)) or [
            "face",
            "hair",
            "outfit",
            "palette",
        ]
        return [_act("character.lock", name=name, locks=locks)]
    if p.has(
        r"\b(?:create|add|new|make|introduce)\b.*\bcharacter\b|(?:新建|创建|添加|加|新增|加入)(?:一个|个)?.{0,12}?(?:角色|人物)"
    ):
        if not name:
            raise _Stop("clarify", p.t("What is the character's name?", "角色叫什么名字？"))
        profile = ""
        idx = p.cased.find(name)
        if idx >= 0:
            rest = p.cased[idx + len(name) :]
            rest = re.sub(r"^(?:的角色|的人物|角色|人物)", "", rest)
            profile = re.sub(r"^\s*(?:[,，:：;；\-—]|\bwho\b|\bis\b|是)\s*", "", rest).strip(" .。")
        return [_act("character.create", name=name, profile=profile)]
    if name:
        m = re.search(
            r"\b(hair(?:style)?|outfit|costume|clothes|face|palette|colou?rs?|profile|look|description)\b"
            r"\s*(?:to|into|is now|:|=)\s*(.+)$",
            p.cased,
            re.I,
        ) or re.search(
            r"的(发型|头发|服装|衣服|穿着|脸|长相|配色|颜色|设定|外貌|描述)(?:改成|换成|改为|变成|设为|是)\s*(.+)$",
            p.cased,
        )
        m = m or re.search(
            rf"\b(?:make|give)\s+{re.escape(name)}'s\s+(hair(?:style)?|outfit|costume|clothes|face|palette|colou?rs?)\s+(.+)$",
            p.cased,
            re.I,
        )
        if m:
            key = _first(lx.LOCKS, m.group(1).lower()) or "profile"
            return [_act("character.update", name=name, patch={key: m.group(2).strip(" .。")})]
        m = re.search(
            rf"\b{re.escape(name)}\s+(?:now\s+)?(?:has|gets|got|should have)\s+(?:an?\s+)?"
            r"(.+?)\s+(hair(?:style)?)\b",
            p.cased,
            re.I,
        )
        if m:
            return [_act("character.update", name=name, patch={"hair": m.group(1).strip()})]
        m = re.search(  # "小狐狸换个发型 蓬松一点", "Mia gets a new hairdo: short and spiky"
            rf"{re.escape(name)}(?:要|就)?(?:换|改|剪|弄|做)(?:个|一个|一下)?(?:新)?(?:发型|头发|造型)\s*[,，:：]?\s*(.+?)[。！]?$"
            rf"|\b{re.escape(name)}\s+(?:gets|needs|should get)\s+(?:a\s+)?(?:new\s+)?"
            r"(?:hairdo|haircut|hairstyle)\s*[,:]?\s*(.+?)[.!]?$",
            p.cased,
            re.I,
        )
        if m:
            return [
                _act("character.update", name=name, patch={"hair": next(g for g in m.groups() if g).strip()})
            ]
        m = (
            re.search(
                rf"\b{re.escape(name)}\s+(?:now\s+)?(?:wears|is wearing|should wear)\s+(.+?)\s*(?:now)?"
                r"[.!]?$",
                p.cased,
                re.I,
            )
            or re.search(  # "猫头鹰换一身黑色的斗篷", "小狐狸穿上红围巾", "给猫头鹰戴一条蓝围巾"
                rf"{re.escape(name)}(?:要|就)?(?:换上|换|穿上|穿着|改穿|穿|戴上|戴)(?:一身|一件|一套|一条|一顶|一副|一个|上)?(.+?)[。！]?$",
                p.cased,
            )
            or re.search(  # "give the Owl a blue scarf"
                rf"\bgive\s+(?:the\s+)?{re.escape(name)}\s+(?:a|an|some|the)\s+(.+?)[.!]?$",
                p.cased,
                re.I,
            )
        )
        if m:
            return [_act("character.update", name=name, patch={"outfit": m.group(1).strip()})]
        rest = p.cased[p.cased.lower().find(name.lower()) + len(name) :] if name.lower() in p.text else ""
        rest = re.sub(
            r"^(?:'s)?\s*(?:should|must|will|needs? to|now)?\s*(?:have|has|gets?|get|be|is|wear|wears)?\s*"
            r"|^(?:的|要|也|就|得)*(?:有|加|添|戴|换成|改成|是)?",
            "",
            rest,
            flags=re.I,
        ).strip(" .。!！")
        gives = re.search(rf"\bgive\s+{re.escape(name)}\s+(.+)$", p.cased, re.I)
        value = gives.group(1).strip(" .!") if gives else rest
        subject = (
            gives is not None
            or re.match(rf"(?:the\s+)?{re.escape(name.lower())}(?![a-z])", p.head) is not None
        )
        other = (
            p.has(_SHOT_WORD)
            or p.shots is not None
            or p.has(r"\brules?\b|\balways\b|\bnever\b|规则|永远|始终|总是")
        )
        key = _first(_CHARACTER_PARTS, value.lower() or p.text)
        if key and len(value) >= 2 and subject and not other:  # "Fox should have a scar over one eye"
            return [_act("character.update", name=name, patch={key: value})]
    return None


_CHARACTER_PARTS: lx.Table = [
    (r"\b(?:colou?rs?|palette)\b|配色|颜色|色调", "palette"),
    (r"\bhair(?:style|cut)?\b|\bbraids?\b|\bponytail\b|发型|头发|辫子", "hair"),
    (
        r"\b(?:scar|face|eyes?|freckles|beard|mustache|moustache|nose|smile)\b|脸|眼睛|疤|胡子|雀斑|鼻子",
        "face",
    ),
    (
        r"\b(?:wears?|scarf|hat|cap|coat|dress|cloak|cape|jacket|shirt|boots|shoes|clothes|outfit|costume"
        r"|glasses|necklace|backpack)\b|围巾|帽子|斗篷|外套|裙子|衣服|服装|眼镜|项链|背包|靴子",
        "outfit",
    ),  # an animal's coat: its look as a whole ("grey feathers", 灰色的羽毛)
    (
        r"\b(?:feathers?|fur|scales|wings?|tail|ears|paws|claws|coat of)\b|羽毛|皮毛|毛色|尾巴|翅膀|耳朵",
        "profile",
    ),
]


# scene ---------------------------------------------------------------------------------------------
_SCENE_WORD = (
    r"\bscenes?\b|场景|第\s*\S{1,3}\s*场|场戏|(?:加|添|新增|插入|补)(?:一|个)场"
    # "偷月亮那场": a scene by its title
    r"|[\u4e00-\u9fff]{2,8}?(?:的)?[那这](?:一)?场(?!景|雨|雪|雾|风|暴|仗|战|戏外)"
)
_SHOT_WORD = r"\bshots?\b|分镜|镜头"


def _check_scenes(p: Parsed, ctx: PlanningContext, scenes: list[int]) -> None:
    total = ctx.workspace.scenes
    if total is not None and any(s > total for s in scenes):
        bad = format_numbers([s for s in scenes if s > total])
        raise _Stop(
            "out_of_range",
            p.t(
                f"Scene {bad} doesn't exist: this project has {total} scenes.",
                f"第{bad}场不存在：这个项目共有{total}场。",
            ),
        )


def _scene_patch(p: Parsed, text: str) -> dict[str, Any]:
    patch: dict[str, Any] = {
        "time_of_day": _first(lx.TIME_OF_DAY, text),
        "mood": _first(lx.MOODS, text),
        "pacing": _first(lx.PACING, text),
    }
    m = re.search(
        r"\b(?:set in|takes place (?:in|at)|location to|place to|move (?:it )?to)\s+(.+)$", p.cased, re.I
    )
    m = m or re.search(r"(?:地点|场所)(?:改成|改为|换成|是|在)\s*(.+)$", p.cased)
    if m:
        patch["place"] = m.group(1).strip(" .。")
    m = re.search(
        r"\b(?:title|titled|rename (?:it |scene \S+ )?to|rename scene\s*\S+(?:\s+as)?|call it|called|named)"
        r"\s*:?\s*(.+)$",
        p.cased,
        re.I,
    ) or re.search(
        r"(?:标题|名字|名称|场名)(?:改成|改为|是|叫|为|叫做)\s*[:：]?\s*(.+)$|叫做?\s*《(.+?)》"
        r"|改名(?:叫做?|为|成)\s*[:：]?\s*(.+)$",
        p.cased,
    )
    if m:
        patch["title"] = next(g for g in m.groups() if g).strip(' .。"《》')
    return _settings_outside_text(patch, text)


def _scene_by_name(p: Parsed, ctx: PlanningContext) -> tuple[str, list[int]]:
    """ "the last scene", "the frozen lake scene", "偷月亮那场": the clause with the scene written as
    "scene N", and N (a title matches by its words; several matches are no match)."""
    text = p.text
    count = ctx.workspace.scenes or len(ctx.scenes)
    m = re.search(r"\b(?:the\s+)?(?:very\s+)?(?:last|final|closing)\s+scene\b|最后一(?:场|个场景)", text)
    if m and count:
        return text[: m.start()] + f" scene {count} " + text[m.end() :], [count]
    m = re.search(r"\b(?:the\s+)?(?:first|opening)\s+scene\b", text)
    if m:
        return text[: m.start()] + " scene 1 " + text[m.end() :], [1]
    m = re.search(
        r"\bthe\s+((?:(?!(?:shots?|in|of|from|the)\b)[a-z'-]+\s+){0,3}(?!(?:shots?|in|of|from|the)\b)[a-z'-]+)"
        r"\s+scene\b|([\u4e00-\u9fff]{2,8}?)(?:的)?[那这](?:一)?场",
        text,
    )
    if m is None or not ctx.scenes:
        return text, []
    said = m.group(1) or m.group(2)
    if m.group(1):
        words = {w for w in said.split() if len(w) > 2 and w not in {"the", "and", "with"}}
        hits = [sc.number for sc in ctx.scenes if words and words <= set(sc.title.lower().split())]
    else:
        hits = [sc.number for sc in ctx.scenes if said in sc.title or sc.title in said]
    if len(hits) != 1:
        return text, []
    p.evidence.append(f"scene {hits[0]} ← “{said}” (its title)")
    named = f" scene {hits[0]} " if m.group(1) else f"第{hits[0]}场"
    return text[: m.start()] + named + text[m.end() :], hits


_EXCEPT_SCENE = (
    r"\b(?P<w>except(?:\s+for)?|but\s+not|apart\s+from|other\s+than|excluding|besides)\s+"
    rf"(?:(?:in|for)\s+)?(?:the\s+)?(?:scene\s*#?\s*(?P<n>{NUM})|(?P<t>(?:[a-z'-]+\s+){{0,3}}?[a-z'-]+)\s+scene)\b"
    rf"|(?<![删去排移免解清])(?P<z>除了?)\s*(?:第\s*(?P<zn>{NUM})\s*(?:场|个场景)|(?P<zt>[\u4e00-\u9fff]{{2,8}}?)(?:那)?(?:一)?场)"
    r"(?:以外|之外|外)?"
)


def _scene_exceptions(text: str, ctx: PlanningContext) -> str:
    """ "all shots golden hour except the lake scene" / "除了第二场": the scene's shots are the exception,
    written as shot numbers so the exception grammar takes them out."""
    m = re.search(_EXCEPT_SCENE, text, re.I)
    if m is None or not ctx.shots:
        return text
    number = m.group("n") or m.group("zn")
    said = (m.group("t") or m.group("zt") or "").lower()
    if number:
        scenes = [parse_int(number) or 0]
    else:
        words = (
            {w for w in said.split() if len(w) > 2 and w not in {"the", "and", "with"}}
            if m.group("t")
            else set()
        )
        scenes = [
            sc.number
            for sc in ctx.scenes
            if (words and words <= set(sc.title.lower().split())) or (said and not words and said in sc.title)
        ]
    shots = [s.number for s in ctx.shots if s.scene in scenes]
    if len(scenes) != 1 or not shots:
        return text
    said_as = (
        f" except shots {', '.join(map(str, shots))}"
        if m.group("w")
        else f"除了第{'、'.join(map(str, shots))}个，"
    )
    return (text[: m.start()].rstrip() + said_as + text[m.end() :]).strip()


_EXCEPT_DESC = (
    r"(?:,\s*|\s+)(?P<w>skip(?:ping)?|except(?:\s+for)?|but\s+not|excluding|leave\s+out|apart\s+from|other\s+than)\s+"
    r"(?:the\s+)?(?P<k>(?!the\b|one\b|other\b)[a-z]{3,})\s+(?:ones|shots)\b"
    r"|[，,]?\s*(?P<zk>[\u4e00-\u9fff]{2,8}?)(?:的)?那(?:个|些|几个)(?:镜头|分镜)?(?P<z>除外|不要动|别动|不动|不用)"
)


_EXCEPT_THE_ONE = (  # "except the one where the fox grabs the moon", "skip the ones with the owl"
    r"(?:,\s*|\s+)(?:skip(?:ping)?|except(?:\s+for)?|but\s+not|excluding|leave\s+out|apart\s+from|other\s+than)\s+"
    r"the\s+(?P<n>one|ones|shot|shots)\s+(?:where|with|in which|that (?:has|have|shows?)|showing|of)\s+"
    r"(?:the\s+|a\s+)?(?P<k>[a-z' ]{3,60}?)\s*(?=[,.;]|$)"
)


def _description_exceptions(text: str, ctx: PlanningContext) -> str:
    """ "animate all shots, skip the owl ones" / "…，狐狸叼月亮那个镜头除外" / "except the one where the
    fox grabs the moon": the shots whose description says so are the exception, written as shot
    numbers for the exception grammar ("the one" must name exactly one shot)."""
    m = re.search(_EXCEPT_DESC, text, re.I)
    one = None if m else re.search(_EXCEPT_THE_ONE, text, re.I)
    if (m is None and one is None) or not ctx.shots:
        return text
    visuals = {s.number: s.visual for s in ctx.shots if s.visual}
    if one is not None:
        found, _ = understand.match_descriptions(one.group("k").strip(), visuals)
        if not found or (one.group("n").lower() in {"one", "shot"} and len(found) != 1):
            return text
        rest = (text[: one.start()].rstrip(" ,，") + text[one.end() :]).strip(" ,，")
        return f"{rest} except shots {', '.join(map(str, found))}"
    assert m is not None
    key = m.group("k") or m.group("zk")
    found, _ = understand.match_descriptions(key, visuals)
    if not found or len(found) == len(ctx.shots):
        return text
    rest = (text[: m.start()].rstrip(" ,，") + text[m.end() :]).strip(" ,，")
    if m.group("k"):
        return f"{rest} except shots {', '.join(map(str, found))}"
    return f"除了第{'、'.join(map(str, found))}个，{rest}"  # the exception leads, as people say it


_SCENE_RELATIVE = (
    rf"\b(?:the\s+)?(?P<o>{ORD}|last|final)\s+shot\s+(?:of|in|from)\s+(?:the\s+)?"
    rf"(?:scene\s*#?\s*(?P<n>{NUM})\b|(?P<t>(?:[a-z'-]+\s+){{0,3}}?[a-z'-]+)\s+scene\b)"
    rf"|第\s*(?P<zn>{NUM})\s*(?:场|个场景)(?:的|里的|里)?\s*(?:第\s*(?P<zo>{NUM})\s*个|(?P<zl>最后一个|最后一|第一个|头一个))"
    r"\s*(?:镜头|分镜)?"
)


def _scene_relative_shots(text: str, ctx: PlanningContext) -> str:
    """ "the first shot of scene 3", "第二场最后一个镜头": a position inside a scene, written as the
    shot's own number."""
    m = re.search(_SCENE_RELATIVE, text, re.I)
    if m is None or not ctx.shots:
        return text
    if m.group("n") or m.group("zn"):
        scenes = [parse_int(m.group("n") or m.group("zn")) or 0]
    else:
        words = {w for w in m.group("t").lower().split() if len(w) > 2 and w not in {"the", "and", "with"}}
        scenes = [sc.number for sc in ctx.scenes if words and words <= set(sc.title.lower().split())]
    shots = [s.number for s in ctx.shots if s.scene in scenes]
    if len(scenes) != 1 or not shots:
        return text
    which = (m.group("o") or m.group("zl") or "").lower()
    if which in {"last", "final", "最后一个", "最后一"}:
        pos = len(shots)
    elif which in {"第一个", "头一个"}:
        pos = 1
    else:
        pos = parse_ordinal(which) if which else parse_int(m.group("zo") or "")
    if not pos or not 1 <= pos <= len(shots):
        return text
    said = f"shot {shots[pos - 1]}" if m.group("o") else f"第{shots[pos - 1]}个镜头"
    return text[: m.start()] + said + text[m.end() :]


_BARE_EVENT = (  # "split the leap into three", "the shot after the leap": a shot named by its event
    r"\b(?P<v>split|chop|divide|break up|after|before|right after|just after|right before|just before)"
    r"\s+the\s+(?P<k>[a-z]{4,})\b(?!\s+(?:shots?|ones?|scenes?|of|in|on)\b)"
)


def _bare_event_shots(text: str, ctx: PlanningContext) -> str:
    """ "split the leap into three shots" / "the shot after the leap": a bare noun right after a
    structure word is a shot when exactly one shot line says it (the word or a word for the same
    thing); anything else is left as said (and asked about)."""
    m = re.search(_BARE_EVENT, text, re.I)
    if m is None or not ctx.shots:
        return text
    key = m.group("k").lower()
    if key in lx.STYLE_STOPWORDS or re.fullmatch(rf"{ORD}|{NUM}|last|final|rest|others|change|edit", key):
        return text
    visuals = {s.number: s.visual for s in ctx.shots if s.visual}
    found, _ = understand.match_descriptions(key, visuals)
    if len(found) != 1:
        return text
    return text[: m.start("k") - len("the ")] + f"shot {found[0]}" + text[m.end("k") :]


def _h_scene(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    keeps_shots = (
        r"[,，\s]*(?:but\s+)?keep(?:ing)?\s+(?:the|its|their|all the)\s+shots\b"
        r"|(?:镜头|分镜)(?:都)?(?:留着|保留|不删|别删)|保留(?:镜头|分镜)"
    )
    if p.has(keeps_shots) and not re.search(_SHOT_WORD, re.sub(keeps_shots, " ", p.text)):
        p = Parsed(
            re.sub(keeps_shots, " ", p.cased, flags=re.I).strip(" ,，"), p.lang
        )  # scene.delete keeps them
    if not p.has(_SCENE_WORD) or p.has(_SHOT_WORD) or p.has(r"\breference\b|参考"):
        return None
    if ctx.excluded or p.has(
        r"\b(?:everything|every\s*one|all|each)\s+(?:in|of|from|inside)\b|(?:所有|全部|每个)(?:的)?(?:镜头|分镜)"
    ):
        return None  # "delete everything in the lake scene except its last shot": the scene's shots
    if ctx.workspace.type == "draft_space":
        raise _Stop("clarify", p.t("A draft space has no scenes.", "草稿空间没有场景。"))
    scenes = p.scenes
    text = p.text
    if not scenes:
        text, scenes = _scene_by_name(p, ctx)
    _check_scenes(p, ctx, scenes)
    swap = re.search(
        rf"\b(?:swap|switch|exchange|flip)\s+scenes?\s*#?\s*({NUM})\s*(?:and|&|with|,)\s*(?:scene\s*)?#?\s*({NUM})\b"
        rf"|第\s*({NUM})\s*(?:场|个场景)\s*(?:和|跟|与)\s*第\s*({NUM})\s*(?:场|个场景)\s*(?:对调|互换|交换|调换)",
        p.text,
    )
    if swap:  # "swap scenes 1 and 2": two moves, as for shots
        a, b = sorted(parse_int(x) or 0 for x in swap.groups() if x)
        _check_scenes(p, ctx, [a, b])
        moves = [_act("scene.reorder", scene=a, to=b)]
        return moves if b == a + 1 else [*moves, _act("scene.reorder", scene=b - 1, to=a)]
    if p.has(
        r"\b(?:delete|remove|drop|cut|get rid of|lose|ditch|scrap|kill|nuke|axe)\b|删除|删掉|去掉|移除|删"
    ):
        if not scenes:
            raise _Stop("clarify", p.t("Which scene should I delete?", "请问删除第几场？"))
        return [_act("scene.delete", scene=s) for s in sorted(scenes, reverse=True)]
    if (
        p.has(r"\b(?:move|put|place|reorder)\b|移到|挪到|放到|调到|移动到") and not p.has(r"\btakes? place\b")
    ) or re.search(
        rf"\bscene\s*#?\s*{NUM}\s+(?:before|after|in front of)\s+scene\b"
        rf"|\bscene\s*#?\s*{NUM}\s+(?:should\s+|needs? to\s+|has to\s+)?(?:go|come)s?\s+"
        r"(?:to\s+)?(?:the\s+)?(?:very\s+)?"
        r"(?:first|last|front|end|start|beginning)\b",
        text,
    ):
        m = re.search(
            rf"\bscene\s*#?\s*({NUM})\s+(?:to|before|after)\s+(?:the\s+)?(?:position\s+|scene\s*#?\s*)?({NUM}|{ORD})"
            rf"|第?\s*({NUM})\s*(?:个)?(?:场景|场)\s*(?:移到|挪到|放到|调到|移动到)\s*第?\s*({NUM})",
            text,
        )
        edge = re.search(
            rf"\bscene\s*#?\s*({NUM})\s+(?:(?:should\s+)?(?:go|come)\s+)?(?:to\s+|at\s+)?(?:the\s+)?(?:very\s+)?"
            rf"(front|start|beginning|end|back|first|last)\b"
            rf"|第?\s*({NUM})\s*(?:个)?(?:场景|场)\s*(?:移到|挪到|放到|调到|移动到)\s*(最前面|开头|最后面|最后|末尾|前面)",
            text,
        )
        if not m and edge:
            g = [x for x in edge.groups() if x]
            n = parse_int(g[0]) or 0
            to = (
                1
                if g[1] in {"front", "start", "beginning", "first", "最前面", "开头", "前面"}
                else (ctx.workspace.scenes or 0)
            )
            if to < 1:
                raise _Stop("clarify", p.t("Move it to which position?", "请问移到第几位？"))
            _check_scenes(p, ctx, [n, to])
            return [_act("scene.reorder", scene=n, to=to)]
        if not m:
            raise _Stop("clarify", p.t("Move which scene where?", "请问把第几场移到哪里？"))
        g = [x for x in m.groups() if x]
        n = parse_int(g[0]) or 0
        target = parse_int(g[1]) or parse_ordinal(g[1]) or 0
        if p.has(r"\bbefore\b|之前|前面"):
            to = target if n > target else target - 1
        elif p.has(r"\bafter\b|之后|后面"):
            to = target + 1 if n > target else target
        else:
            to = target
        _check_scenes(p, ctx, [n, max(to, 1)])
        return [_act("scene.reorder", scene=n, to=max(to, 1))]
    if p.has(r"\b(?:add|insert|new|create|append)\b|添加|新增|插入|加一|增加|新建|加个"):
        after = None
        m = re.search(
            rf"\bafter\s+scene\s*#?\s*({NUM})|在?第\s*({NUM})\s*(?:个)?(?:场景|场)\s*(?:之后|后面|后)", p.text
        )
        between = re.search(
            rf"\bbetween\s+(?:scenes?\s*)?({NUM})\s+and\s+(?:scene\s*)?{NUM}\b|第\s*({NUM})\s*场(?:和|与|跟)第\s*{NUM}\s*场(?:之间|中间)",
            p.text,
        )
        if between:  # "a scene between 1 and 2": after the first
            m = between
        if m:
            after = parse_int(next(g for g in m.groups() if g))
        elif p.has(r"\bat the (?:very\s+)?(?:start|beginning|top)\b|\bfirst\b|开头|最前面|最开始"):
            after = 0
        spec = _scene_patch(p, p.text)
        m = re.search(r"[:：]\s*(.+)$|\b(?:where|in which)\s+(.+)$", p.cased)
        if m:
            spec["description"] = next(g for g in m.groups() if g).strip(" .。")
        return [_act("scene.add", after=after, spec=spec)]
    if len(scenes) >= 1 and p.has(
        r"\b(?:music|soundtrack|bgm|narrat\w*|voice\w*|video|animate|grid)\b|音乐|配乐|旁白|配音|视频|宫格"
    ):
        return None  # "给第一场配个音乐，要悬疑一点的": a generation for the scene, not a scene setting
    if len(scenes) >= 1:
        patch = _scene_patch(p, re.sub(r"\bscenes?\s*#?\s*\S+|第\s*\S{1,3}\s*场", " ", text))
        if not patch:
            raise _Stop("clarify", p.t("What should change in that scene?", "这一场要改什么？"))
        return [_act("scene.update", scene=s, patch=patch) for s in scenes]
    return None


# structural shot edits -----------------------------------------------------------------------------
def _numbered(p: Parsed, ctx: PlanningContext) -> str:
    """The clause with "the last shot" / "the opening shot" / "最后一个镜头" written as numbers, and
    "so it opens the film" as "to the start", for the structural edits' patterns."""
    text = p.text
    total = ctx.workspace.shots
    if total:
        text = re.sub(
            r"\b(?:the\s+)?(?:very\s+)?(?:last|final|closing)\s+(?:shot|one)\b", f"shot {total}", text
        )
        text = re.sub(r"最后(?:一个|那个)(?:镜头|分镜)?", f"第{total}个镜头", text)
    text = re.sub(r"\b(?:the\s+)?(?:very\s+)?(?:first|opening)\s+(?:shot|one)\b", "shot 1", text)
    ref = understand.description_ref(text) if p.desc is not None and p.desc.single else None
    if ref is not None:  # "move the leap shot to the end": the shot its description names
        found = _one_description(p, ctx, ref)
        if len(found) == 1:
            a, b = ref.span
            text = f"{text[:a]} shot {found[0]} {text[b:]}"
    text = re.sub(
        r"\b(?:so (?:that )?it|to)\s+opens?\s+(?:the\s+)?(?:film|video|movie|story|sequence)\b",
        "to the start",
        text,
    )
    return re.sub(
        r"\b(?:so (?:that )?it|to)\s+(?:closes|ends)\s+(?:the\s+)?(?:film|video|movie|story)\b",
        "to the end",
        text,
    )


def _h_shot_reorder(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\b(?:move|put|place|shift|reorder|swap|exchange|bring)\b|移到|挪到|放到|调到|移动到|排到|互换|对调|交换|调换"
        r"|换(?:个|一下)?位置|调(?:个|一下)?位置|位置(?:互换|对调|换一下)"
        r"|\bmake\s+shot\s*#?\s*\d+\s+the\s+(?:opening|ending|finale|first|last|final|closing)\b"
        r"|\bshots?\s*#?\s*\d+\s+(?:should|needs? to|has to|must|can)?\s*(?:come|go|goes|comes|open|opens)\s+"
        r"(?:first|last|at the (?:start|end|beginning))"
    ):
        return None
    text = _numbered(p, ctx)
    text = re.sub(  # "move 12 to the front": a bare number right after the verb is a shot
        rf"^((?:move|put|bring|shift|place)\s+)#?({NUM})\b(?=\s+(?:to|before|after|so|at)\b)",
        r"\1shot \2",
        text,
    )
    en = re.search(
        rf"\bshot\s*#?\s*({NUM})\s+(?:to|into)\s+(?:the\s+)?(?:position|slot|spot|place|number)?\s*#?\s*({NUM}|{ORD})"
        rf"(?:\s+(?:position|slot|place|spot))?\b",
        text,
    )
    rel = re.search(rf"\bshot\s*#?\s*({NUM})\s+(before|after)\s+shot\s*#?\s*({NUM})", text)
    edge = re.search(
        rf"\bshot\s*#?\s*({NUM})\s+(?:[a-z ]{{0,30}}?\bso(?: that)? (?:it|they)(?:'s| is)?\s+)?"
        rf"(?:(?:should|needs? to|has to|must|can|will)\s+)?(?:come|go|goes|comes|opens?|starts?)?\s*"
        rf"(?:to\s+)?(?:the\s+|at the\s+)?(?:very\s+)?(first|start|beginning|front|end|last)\b",
        text,
    )
    zh = re.search(
        rf"第?\s*({NUM})\s*个?(?:分镜|镜头)?\s*(?:移到|挪到|放到|调到|移动到|排到)\s*(?:第\s*({NUM})\s*(?:个|位)?(?:分镜|镜头)?"
        rf"\s*(前面|之前|前|后面|之后|后)?|(最前面|开头|最后面|最后|末尾))",
        text,
    )
    total = ctx.workspace.shots
    swap = re.search(
        rf"\b(?:swap|switch|flip|exchange)\s+(?:shots?\s*)?#?\s*({NUM})\s*(?:and|&|with|,)\s*(?:shot\s*)?#?\s*({NUM})\b"
        rf"|(?:把)?第?\s*({NUM})\s*(?:个|号)?(?:镜头|分镜)?\s*(?:和|跟|与)\s*第?\s*({NUM})\s*(?:个|号)?(?:镜头|分镜)?\s*"
        r"(?:互换|对调|交换|调换|换(?:个|一下)?位置|调(?:个|一下)?位置|位置(?:互换|对调|换一下))",
        text,
    )
    if swap:  # two moves: a to b's place, then b (now one earlier) to a's
        g = [parse_int(x) for x in swap.groups() if x]
        a, b = min(g), max(g)
        _check_shots(p, ctx, [a, b])
        p.evidence.append(f"swap {a} and {b} ← “{swap.group(0)}”")
        moves = [_act("shot.reorder", shot=a, to=b)]
        return moves if b == a + 1 else [*moves, _act("shot.reorder", shot=b - 1, to=a)]
    if en:
        n, to = parse_int(en.group(1)), parse_int(en.group(2)) or parse_ordinal(en.group(2))
    elif rel or (zh and zh.group(2)):
        if rel:
            n, rel_word, m_ = parse_int(rel.group(1)), rel.group(2), parse_int(rel.group(3))
        else:
            assert zh is not None
            n, m_ = parse_int(zh.group(1)), parse_int(zh.group(2) or "")
            rel_word = (
                "after" if zh.group(3) and zh.group(3) in "后面之后" else ("before" if zh.group(3) else "to")
            )
        if n is None or m_ is None:
            return None
        _check_shots(p, ctx, [n, m_])
        if rel_word == "before":
            to = m_ if n > m_ else m_ - 1
        elif rel_word == "after":
            to = m_ + 1 if n > m_ else m_
        else:
            to = m_
    elif opening := re.search(  # "make shot 12 the opening": its place in the order
        rf"\bmake\s+shot\s*#?\s*({NUM})\s+the\s+(opening|first|ending|finale|last|final|closing)\b", text
    ):
        n = parse_int(opening.group(1))
        if opening.group(2) in {"opening", "first"}:
            to = 1
        elif total:
            to = total
        else:
            raise _Stop(
                "clarify", p.t("How many shots are there? Say the position number.", "请说目标位置编号。")
            )
    elif edge or (zh and zh.group(4)):
        n = parse_int(edge.group(1)) if edge else parse_int(zh.group(1))  # type: ignore[union-attr]
        word = edge.group(2) if edge else zh.group(4)  # type: ignore[union-attr]
        if word in {"first", "start", "beginning", "front", "最前面", "开头"}:
            to = 1
        elif total:
            to = total
        else:
            raise _Stop(
                "clarify", p.t("How many shots are there? Say the position number.", "请说目标位置编号。")
            )
    else:
        return None
    if n is None or to is None:
        return None
    _check_shots(p, ctx, [n, to])
    return [_act("shot.reorder", shot=n, to=to)]


def _h_shot_delete(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(
        r"\b(?:delete|remove|drop|cut|get rid of|trash|erase|kill|lose|ditch|scrap|nuke|axe|bin)\s+"
        r"(?:(?:the|all|every|of)\s+){0,3}"
        r"(?:shots?\b|last shot|first shot|this shot|current shot|that shot|#"
        rf"|(?:(?:last|first|final|opening|next|previous|other|remaining|extra|empty|\d+|{EN_NUM})\s+){{1,2}}shots?\b"
        rf"|(?:last|final)\s+(?:{EN_NUM}|\d+)\b(?!\s*(?:s|secs?|seconds?|images?|pics?|frames?)\b))"
    )
    en = en or p.has(  # "delete everything in the lake scene": the scene's shots
        r"\b(?:delete|remove|drop|cut|get rid of|trash|erase)\s+(?:everything|every\s*one|all)\s+"
        r"(?:in|of|from)\s+(?:the\s+)?(?:[a-z'-]+\s+){0,3}scene\b"
    )
    if en and p.has(r"\b(?:cut|trim)\b.{0,30}\b(?:down|by|shorter)\b"):
        return None  # "cut shot 6 down by a second": a shorter shot, not a deletion
    if en and p.has(r"\b(?:into|in)\s+(?:half|halves|\w+\s+(?:parts|pieces))\b"):
        return None  # "cut shot 4 into 3 parts" splits it
    bare = _bare_range(p) if ctx.focus.track is None and ctx.focus.cell is None else []  # a grid: images
    en = en or bool(  # "delete 3 through 5": the numbers are shots
        bare
        and p.has(r"^(?:delete|remove|drop|cut|trash|erase|kill|ditch|scrap|nuke|axe|bin|get rid of)\s+#?\d")
    )
    zh = p.has(r"删除|删掉|去掉|移除|删了|删去|删") and p.has(_SHOT_WORD)
    if (
        not zh
        and bare
        and p.has(r"^(?:把)?(?:删除|删掉|删了|删去|删|去掉|移除)\s*(?:第)?\s*[\d一二三四五六七八九十两]")
    ):
        zh = True  # "删掉三到五"
    owned = re.search(r"(?:镜头|分镜)的\s*([^，,。的]{1,8}?)\s*(?:去掉|删掉|删除|拿掉|删了|不要了)", p.text)
    if owned and not re.search(_SHOT_WORD, owned.group(1)):
        return None  # "第四个镜头的雨去掉": something of the shot goes, not the shot
    zh = zh or (p.has(r"(?:都|全)?不要了$|(?:都|全)?不需要了$") and isinstance(p.shots, list))
    zh = zh or bool(  # "删掉最后两个": the verb, then shots named by position
        p.has(r"^(?:把)?(?:删除|删掉|删了|删去|删|去掉|移除)\s*(?:最后|倒数|前)")
        and (p.last_n or p.last_shot or p.from_end)
    )
    zh = zh or (  # "删第四个", "第四个删掉吧": the verb right at the bare target
        isinstance(p.shots, list)
        and p.has(
            r"(?:删除|删掉|删了|删去|删|移除)\s*第"
            r"|第\s*\S{1,6}?个\s*(?:删除|删掉|删了|删去|删|去掉|移除)(?:吧|了|掉)?$"
        )
    )
    if not (en or zh):
        if p.starts(r"(?:delete|remove|trash|erase)\s+(?:it|this|that|them)\b") or p.has(
            r"^(?:把)?(?:它|这个)删"
        ):
            raise _Stop(
                "clarify",
                p.t('Delete which shot? Say e.g. "delete shot 5".', "要删除哪个分镜？例如“删除第5个分镜”。"),
            )
        return None
    if bare and p.shots is None:
        return [_act("shot.delete", shots=_minus_excluded(p, ctx, _check_shots(p, ctx, bare)))]
    return [_act("shot.delete", shots=_targets(p, ctx, implicit_focus=False))]


def _h_shot_merge(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not (
        p.has(r"\b(?:merge|combine|join|glue|fuse)\b")
        or p.has(
            r"\b(?:squash|squish|smoosh|mash|collapse|roll|fold|consolidate|condense|stitch)\b.{0,40}"
            r"\binto (?:one|a single)(?: shot| clip)?\b"
        )
        or p.has(
            r"合并|合成一个|并成一个|合为一个|合成一条|并成一条|拼成一个|拼成一条|合到一起|并到一起"
            r"|[并合拼连]在一起|[并合拼]成一(?:个|条)?(?:镜头|分镜)|融成一个"
        )
    ):
        return None
    into_one = p.has(  # "merge 9 & 10": the verb itself says into one
        r"\binto (?:one|a single)\b|\btogether\b|^merge\b"
        r"|合成一|并成一|合为一|合并|拼成一|到一起|在一起|融成一"
    )
    if not p.has(_SHOT_WORD) and not (into_one and p.shots is None and _bare_numbers(p)):
        return None
    if p.shots is None and _bare_numbers(p):  # "combine 10 & 11 into one": the numbers are shots
        shots = _check_shots(p, ctx, _bare_numbers(p))
    else:
        shots = _targets(p, ctx, allow_all=False, implicit_focus=False)
    if shots == "all" or len(shots) < 2:
        raise _Stop(
            "clarify",
            p.t("Which shots should I merge? Name at least two.", "请说要合并哪几个分镜（至少两个）。"),
        )
    return [_act("shot.merge", shots=shots)]


def _bare_range(p: Parsed) -> list[int]:
    """ "delete 3 through 5", "删掉三到五": a list or range said with no noun, the whole rest of the
    clause after its verb (anything more, and the numbers may count something else)."""
    m = re.fullmatch(
        rf"\s*(?:把)?(?:[a-z]+\s+){{0,3}}(?:删除|删掉|删了|删去|删|去掉|移除)?\s*(?:第)?\s*({_EN_LIST}|{_ZH_LIST})\s*(?:个)?"
        r"(?:\s*(?:please|pls|吧|了|掉|都删了|都删掉|删掉|删了))*[\s.!。！]*",
        p.masked if p.shots is None else "",
    )
    return parse_number_list(_clean_list(m.group(1))) if m else []


def _bare_numbers(p: Parsed) -> list[int]:
    """Numbers named without a noun ("10 & 11", "三和四"), when nothing else in the clause is counted."""
    text = re.sub(r"\binto (?:one|a single)\b.*$|(?:合成|并成|合为|合并成?)一.*$", " ", p.masked)
    m = re.search(
        rf"(?:^|[\s把将给让])(?:#\s*)?({_EN_LIST}|{_ZH_LIST})(?=\s*(?:(?:please|pls)\s*[.!]?\s*)?(?:together|合|并|$))",
        text.strip(),
    )
    found = parse_number_list(_clean_list(m.group(1))) if m else []
    return found if len(found) >= 2 else []


def _h_shot_split(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not (
        p.has(
            r"\bsplit\b|\b(?:cut|break|divide|chop|slice)\b.*\b(?:into|in\s+(?:half|halves|two|three|\d))\b"
        )
        or p.has(r"拆分|拆成|分成|切成|一分为[二两三四五六]|拆开|一拆[二两三四五六]")
    ):
        return None
    if not (p.has(_SHOT_WORD) or ctx.focus.shot):
        return None
    shot = _one_shot(p, ctx)
    parts = 2
    m = re.search(
        rf"\b(?:into|in)\s+({NUM})\b(?!\s*(?:s\b|secs?|seconds?))|\b(?:in|into)\s+(half|halves|two)\b"
        rf"|\b({NUM})\s+(?:parts|pieces|shots|ways)\b|(?:拆成|分成|切成|一拆|一分为)\s*({NUM})",
        p.text,
    )
    if m:
        raw = next(g for g in m.groups() if g)
        parts = 2 if raw in {"half", "halves"} else parse_int(raw) or 2
    if not 2 <= parts <= 6:
        raise _Stop("out_of_range", p.t("A shot can be split into 2–6 parts.", "一个分镜可以拆成2到6个。"))
    return [_act("shot.split", shot=shot, parts=parts)]


def _shot_spec(p: Parsed) -> dict[str, Any]:
    spec = _patch(p, include_visual=False)
    card = re.search(
        r"\b(title|intro|end|opening|closing)\s+card\b|(片头|片尾|标题|字幕|开场)(?:字幕)?卡", p.cased, re.I
    )
    m = (
        re.search(r"[:：]\s*(.+)$", p.cased)
        or re.search(r"(?:插|插入|加|补|添|补上)(?:一个|个|一)([^，,。；]{1,30}?)的(?:镜头|分镜)", p.cased)
        or re.search(  # "加一个猫头鹰眼睛的特写": what the new framing shows
            r"(?:插|插入|加|补|添|补上|放)(?:一个|个|一)([^，,。；]{1,30}?)的(?:大远景|特写|远景|中景|近景|全景)",
            p.cased,
        )
        or re.search(r"(?:特写|远景|中景|近景|全景)\s*[,，]\s*(.+)$", p.cased)
        or re.search(
            r"\b(?:of|showing|where|with|depicting)\s+(.+?)(?:\s+(?:after|before|in)\s+(?:shot|scene)\b.*"
            r"|\s+at the (?:very\s+)?(?:start|beginning|end|top|front)\b.*)?$",
            p.cased,
            re.I,
        )
        or re.search(r"(?:镜头|分镜)\s*[,，]\s*(.+)$", p.cased)
    )
    if m:
        visual = m.group(1).strip(" .。")
        if visual:
            spec["visual"] = visual
    said = (
        _quoted(p.cased)
        or next(iter(re.findall(r"(?<![a-z])'([^']{2,80})'", p.cased)), None)
        or next(iter(re.findall(r"《([^》]{1,60})》", p.cased)), None)
    )
    if card:  # "a title card that says 'Phases of the Moon'": the card and its words
        kind = card.group(1) or card.group(2)
        name = f"{kind.lower()} card" if card.group(1) else f"{kind}卡"
        spec["visual"] = name + (f": {said}" if said else "")
        if said and said in str(spec.get("dialogue") or ""):
            spec.pop("dialogue")  # the card's words are its picture, not a spoken line
    return spec


def _h_shot_add(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(
        r"\b(?:add|insert|append|stick|slot|throw|tack|squeeze)\s+(?:in\s+)?"
        r"(?:(?:a|an|one|another|new|more|extra|quick|short|close-?up|wide|medium|establishing|ending|closing"
        r"|\d+(?:\.\d+)?[- ]?(?:s|sec|second)s?)\s+)"
        r"{0,3}shot\b"
    ) or p.has(
        r"\b(?:put|pop|drop|throw)\s+in\s+(?:a|an|one|another)\s+(?:[\w.-]+\s+){0,3}shot\b"
        # "put a close-up of the owl's eyes after shot 9": something new placed next to a shot
        r"|\b(?:add|insert|put|stick|slot|squeeze|place)\s+(?:in\s+)?(?:a|an|one|another)\s+(?:[\w'.-]+\s+){0,6}?"
        r"(?:right\s+|just\s+)?(?:after|before)\s+(?:shot\s*|the\s+)?#?\d+\b"
        r"|\b(?:add|insert|put|stick|open with)\s+(?:a|an|one)\s+(?:new\s+)?"
        r"(?:title|intro|end|opening|closing)\s+card\b"
    )
    zh = (
        p.has(
            r"(?:加|添加|新增|插入|增加|补)(?:一个|一|个)?(?:新的|新)?(?:特写|远景|中景|近景)?(?:镜头|分镜)"
            r"|(?:插|插入|加|补|添|补上)(?:一个|个|一)[^，,。；]{1,30}?的(?:镜头|分镜)"
            r"|(?:加|插|补|添|放)(?:一个|个|一张|张)?(?:片头|片尾|标题|字幕|开场)(?:字幕)?卡"
            # "在第六个后面加一个猫头鹰眼睛的特写": something new placed next to a shot
            r"|在?第\S{1,3}个(?:镜头|分镜)?(?:后面|之后|后|前面|之前|前)(?:再)?(?:加|插|插入|补|添|放)(?:一个|个|一)"
            # "…后面插一个：猫头鹰…"
            r"|(?:插|插入|加|补|添|补上|放)(?:一个|个|一)(?:新的)?(?:镜头|分镜)?\s*[:：]"
        )
        or p.has(
            r"\b(?:add|insert|put|stick|slot|squeeze)\s+(?:in\s+)?(?:one|a new one|another one|another)\b"
            r"[^:]{0,30}\b(?:after|before)\b[^:]{0,20}:"  # "insert one after 3: the owl lands"
        )
        or (
            p.has(r"(?:插|插入|加|补|添|补上)(?:一个|个|一)(?:特写|远景|大远景|中景|近景|全景)(?!镜头)")
            and p.has(r"结尾|最后|开头|最前面|后面|之后|前面|之前")
        )
    )
    if not (en or zh):
        return None
    after: int | None = None
    m = re.search(
        rf"\b(?:right\s+|just\s+)?after\s+(?:shot\s*|the\s+|#|number\s+)?#?\s*({NUM}|{ORD})(?:\s+(?:one|shot))?\b"
        rf"|在?第\s*({NUM})\s*个?(?:分镜|镜头)?\s*(?:之后|后面|后)",
        p.text,
    )
    b = re.search(
        rf"\b(?:right\s+|just\s+)?before\s+(?:shot\s*|the\s+|#|number\s+)?#?\s*({NUM}|{ORD})(?:\s+(?:one|shot))?\b"
        rf"|在?第\s*({NUM})\s*个?(?:分镜|镜头)?\s*(?:之前|前面|前)",
        p.text,
    )
    if m:
        raw = next(g for g in m.groups() if g)
        after = parse_int(raw) or parse_ordinal(raw)
    elif b:
        raw = next(g for g in b.groups() if g)
        n = parse_int(raw) or parse_ordinal(raw)
        after = None if n is None else n - 1
    elif p.has(
        r"\bat the (?:very\s+)?(?:start|beginning|top|front)\b|\bto open (?:the|it)\b|开头|最前面|最开始"
        r"|\b(?:title|intro|opening) card\b(?!.*\b(?:end|after)\b)"
    ):
        after = 0
    elif re.search(rf"第\s*({NUM})\s*个\s*(?:后面|之后|后)", p.text):  # "第五个后面插一个…"
        after = parse_int(re.search(rf"第\s*({NUM})\s*个", p.text).group(1))  # type: ignore[union-attr]
    if after:
        _check_shots(p, ctx, [after])
    scene = p.scenes[0] if p.scenes else None
    spec = _shot_spec(p)
    _check_duration(p, spec)
    return [_act("shot.add", after=after, scene=scene, spec=spec)]


# node / track --------------------------------------------------------------------------------------
_GRID_TRIGGER = (
    r"\bgrids?\b|\b(?:4|9|four|nine)[- ]?(?:grid|panel|up|image|pic|picture)s?\b|\b[23]\s*[x×*]\s*[23]\b"
    r"|\b(?:re-?generate|redo|re-?draw|re-?render)\b"
    r"|\b(?:generat(?:e|ing)|draw(?:ing)?|make|making|create|creating|give me|render(?:ing)?)\b.{0,40}"
    r"\b(?:images?|pictures?|pics|stills|frames|options|"
    r"candidates|variations|keyframes?|thumbnails?|batch)\b"
    r"|\b(?:sketch|mock ?up|storyboard frames for|draw up)\b|\bsome options for\b"
    r"|宫格|出图|出(?:一|几|两|四|九)?张图|(?:来|整|弄|要|做)(?:一|几|两|四|九|\d)?(?:张|幅)(?:图|图片|画面)|(?:出|来)(?:一|几)?组图|画(?:几|一|两)?张图?|生成图|生成.{0,8}(?:图|图片|画面)"
    r"|重新生成|重画|重绘|重新画"
)
_REF_TRIGGER = (
    r"\bas (?:a |an |the )?(?:\w+ )?(?:reference|ref)\b"
    r"|\breference\b|作为.{0,4}参考|当.{0,4}参考|做参考|参考图|用作参考"
)


def _resolve_grid_target(
    p: Parsed, ctx: PlanningContext, *, prefer_latest: bool = True
) -> tuple[int, str | None]:
    """The shot (and track) whose grid an image number refers to: the sentence, then "last grid",
    then the latest grid / the focus (order set by ``prefer_latest``); never a guess."""
    g = ctx.latest_grid
    if isinstance(p.shots, list) or p.this_shot or p.last_shot or p.shots == "all":
        shot = _one_shot(p, ctx, implicit_focus=False)
        track = p.track or (g.track if g and g.shot == shot else None)
        return shot, track or (ctx.focus.track if ctx.focus.shot == shot else None)
    latest = (g.shot, p.track or g.track) if g and g.shot else None
    if p.has(_LAST_GRID):
        if latest is None:
            raise _Stop(
                "clarify",
                p.t("I don't see a recent grid. Which shot?", "没有找到最近的宫格，请问是哪个分镜？"),
            )
        return latest
    focus = (ctx.focus.shot, p.track or ctx.focus.track) if ctx.focus.shot else None
    for candidate in (latest, focus) if prefer_latest else (focus, latest):
        if candidate is not None:
            _check_shots(p, ctx, [candidate[0]])
            return candidate
    raise _ask_shot(p)


def _owner_shot(p: Parsed, ctx: PlanningContext) -> int:
    """The shot an image belongs to: named in the sentence, else the focus, else the latest grid's."""
    if isinstance(p.shots, list) or p.this_shot or p.last_shot:
        return _one_shot(p, ctx, implicit_focus=False)
    if ctx.focus.shot:
        return ctx.focus.shot
    if ctx.latest_grid and ctx.latest_grid.shot:
        return ctx.latest_grid.shot
    raise _ask_shot(p)


_NEXT_GRID = (
    r"\b(?:for|in)\s+(?:the\s+)?(?:next|upcoming|coming)\s+(?:grid|batch|generation|round|images?)\b"
    r"|下一组|下一轮|下次生成"
)


def _h_reference(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(_REF_TRIGGER) or (p.has(_GRID_TRIGGER) and not p.has(_NEXT_GRID)):
        return None
    shot = _owner_shot(p, ctx)
    track = p.track or (ctx.focus.track if ctx.focus.shot == shot else None)
    _check_track(p, ctx, shot, track)
    cell, node = _image(p, ctx, limit=_grid_limit(ctx, shot, track))
    role_text = re.sub(r"\bscene\s*\d+|第\S{1,3}场", " ", p.text)
    role = _first(lx.REFERENCE_ROLE, role_text) or "image"
    return [_act("node.reference", cell=cell, node=node, shot=shot, track=track, **{"as": role})]


def _fork_name(p: Parsed) -> str | None:
    m = re.search(
        r"\b(?:called|named|call(?:ed)?\s+it|name\s+it|label(?:l?ed)?(?:\s+it)?(?:\s+as)?|tag(?:ged)?\s+it(?:\s+as)?)"
        r"\s+\"?([^\"]+?)\"?\s*$"
        r"|(?:叫|命名为|名为|标记为|备注为?)\s*[\"「]?(.+?)[\"」]?$",
        p.cased,
        re.I,
    )
    return next(g for g in m.groups() if g).strip() if m else None


def _h_fork(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\b(?:new|another|separate)\s+(?:branch|track|variant|direction|idea|version)\b"
        r"|\bbranch (?:off|out)\b|\bfork\b|^branch\s+(?:from|off|at)\b"
        r"|另起|新方案|新的方案|另开|新建方案|开一个新方案|新分支|新轨道|新的分支"
    ):
        return None
    shot, track = _resolve_grid_target(p, ctx, prefer_latest=False)
    _check_track(p, ctx, shot, track)
    cell, node = _image(p, ctx, limit=_grid_limit(ctx, shot, track))
    return [_act("track.fork", shot=shot, from_cell=cell, from_node=node, track=track, name=_fork_name(p))]


def _prompt(p: Parsed, extra_remove: tuple[str, ...] = ()) -> str | None:
    """Free-text prompt left over after the known parts of a grid request are taken out."""
    quoted = _quoted(p.cased)
    if quoted:
        return quoted
    m = re.search(r"[:：]\s*(.+)$", p.cased)
    if m:
        candidate = m.group(1)
    elif p.lang == "en":
        m = re.search(
            r"\bbut\s+(?:(?:make|keep|have)\s+(?:it|them|those|these)\s+|with\s+)?(.+)$"
            r"|\b(?:showing|depicting|featuring|of|with|where)\s+(.+)$|,\s*(.+)$",
            p.cased,
            re.I,
        )
        if not m:
            return None
        candidate = next(g for g in m.groups() if g)
    else:
        candidate = p.cased
    remove = [
        r"\b(?:9|nine|4|four)[- ]?(?:grid|panel|up|image|pic|picture)s?\b|\b[23]\s*[x×*]\s*[23]\b"
        # "but 9 this time": the size, said bare
        r"|^\s*(?:9|nine|4|four)\b(?!\s*(?:s\b|secs?|seconds?))|\b(?:this time|instead|again)\b",
        r"(?<!第)(?<!第\s)(?:九|四|9|4)\s*(?:宫格|张|格)|在.{0,12}?的?基础上|出(?:一|几|两|四|九)?张图|出图|的图|图片|出",
        r"来个|来一组|来一个|来一张|重新|换个感觉|换种感觉|换一种感觉|换个风格|再来|要(?=更|有|加)"
        r"|我整|(?:整|弄|搞)(?:一)?个|看看|瞧瞧|试试|(?:一|几|两)张|类似的?|相似的?|差不多的"
        r"|(?:给|让)我(?:挑|选|看)(?:一下|一挑|一选|挑)?|挑一挑|选一选",
        _SHOT_LAST,
        _SHOT_THIS,
        _SHOT_OPENING,
        _SHOT_EDGE_N,
        _SHOT_EDGE_BARE,
        _SHOT_FROM_END,
        _SHOT_NEXT_TO,
        _CAMERA_PHRASES,
        *_SHOT_LIST,
        *_SHOT_ALL,
        _LAST_GRID,
        _GRID_TRIGGER,
        r"\b(?:for|on|from|of|in)\s+(?:track|branch)\s+[a-z]\b|[a-z]\s*方案的?",
        r"\bfor\s+§|§",
        r"(?<![\w#])#\s*\d+|第\s*\S{1,3}\s*张|image\s*#?\s*\d+",
        r"第\s*\S{1,3}\s*场(?:的)?|最后一场(?:的)?|每(?:一)?个|\bscenes?\s*#?\d+"
        r"|(?:按|按照|照着|参照)\s*(?:第\s*\S{1,3}\s*张)?\s*(?:的)?(?:感觉|风格|样子|方向)"
        r"|\b(?:an?\s+)?(?:framing|composition)\b|\b(?:iterate|iterating)\s+(?:on|from)\b"
        r"|\bbased on\b|基于|继续生成|继续|迭代|生成|给|为|把|用|一组|一个|再",
        # a camera's nouns and a reference's verbs: the camera / from_cell carry them
        r"(?:要|用|换成|改成)?\s*(?:的)?\s*(?:角度|视角|机位|景别|运镜)|照着|参照|按照|仿照|比照",
        *extra_remove,
    ]
    text = candidate
    for pattern in remove:
        text = re.sub(pattern, " ", text, flags=re.I)
    text = re.sub(
        r"^(?:\s|[,，、。.;；:：-]|\b(?:for|of|with|from|in|on|at|and|to|please|angle|shot)\b|的)+",
        "",
        text,
        flags=re.I,
    )
    text = re.sub(
        r"(?:\s|[,，、。.;；:：-]|\b(?:a|an|the|for|of|with|from|in|on|at|and|to|please|angle|shot)\b|的)+$",
        "",
        text,
        flags=re.I,
    )
    text = re.sub(r"\s+", " ", text).strip()
    if p.lang == "zh":
        text = re.sub(r"\s*([,，、。；;])\s*", r"\1", text)
        text = re.sub(r"[,，、。；;]{2,}", "，", text).strip(" ,，、。；;:：的")
        content = re.sub(
            r"[图要张组个的来一吧呢啊了都，,、。\s]", "", text
        )  # leftovers of "出一组图，要九张"
        return text if cjk_count(text) >= 2 and cjk_count(content) >= 2 else None
    content = [
        w for w in re.findall(r"[A-Za-z]{3,}", text) if w.lower() not in {"the", "and", "for", "with", "from"}
    ]
    return text if content else None


_ITERATE_TRIGGER = (
    r"\biterat(?:e|ing)\b|\bvariations? (?:of|on)\b|\bmore like\b|\briff on\b|\bbuild on\b"
    r"|\bcontinue (?:from|with|on)\b|\brefine\b|\bkeep going (?:from|with|on)\b|\bpick up from\b"
    r"|\bbased on\b|基于|在.{1,12}基础上|继续生成|迭代|类似的|延续"
    r"|(?:按|按照|照着|参照)第?\s*\S{1,3}\s*张|从第?\s*\S{1,3}\s*张(?:图)?(?:开始)?(?:再|接着|继续)?(?:出|来|生成)"
)


def _h_iterate(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(_ITERATE_TRIGGER):
        return None
    shot, track = _resolve_grid_target(p, ctx)
    _check_track(p, ctx, shot, track)
    cell, node = _image(p, ctx, limit=_grid_limit(ctx, shot, track))
    g = ctx.latest_grid
    size = _grid_size(p.text) or (g.cells if g and g.shot == shot and g.cells in (4, 9) else 4)
    cam = _camera(p.text)
    return [
        _act(
            "gen.grid",
            shots=[shot],
            size=size,
            track=track,
            from_cell=cell,
            from_node=node,
            camera=cam or None,
            prompt=_prompt(p),
        )
    ]


def _h_switch(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    trig = p.has(
        r"\bswitch\b|\b(?:go|change|move|jump|flip|hop|head)\s+(?:back\s+|over\s+)?to\s+(?:track|branch)\b"
        r"|^back to (?:track|branch)\b|切回|换回|切换回"
        r"|\buse\s+(?:track|branch)\b"
        r"|\bshow (?:me )?(?:track|branch)\b|切换到|切到|换到|换成|转到|切换|切过去|换过去|改用|就用"
        r"|\b(?:go|switch|change|move|jump|flip|hop|head)\s+(?:back\s+|over\s+)?to\s+the\s+[a-z]\s+"
        r"(?:version|take|variant|option)\b"
    )
    if not trig or not p.track or p.cells or p.this_one:
        return None
    shot = _one_shot(p, ctx)
    _check_track(p, ctx, shot, p.track)
    return [_act("track.switch", shot=shot, track=p.track)]


def _h_commit(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(
        r"\bcommit\b|\buse\b.*\bfor (?:shot|this shot|the shot)\b"
        r"|^(?:let'?s\s+|i'?ll\s+|we'?ll\s+)?(?:just\s+)?use\s+(?:#|number|no\.|image|picture|option"
        r"|the\s+(?:\w+\s+){1,2}(?:one|image|picture)\b)|\bis the one\b"
        r"|\b(?:select|pick|choose|go with|keep|approve|lock in|prefer|i'?ll take|i like)\s+"
        r"(?:#|this|that|image|picture|the|number|option|\d)"
        r"|\bmake\b.*\bthe (?:main|selected|current|final|chosen)\b"
        r"|\bset\b.*\bas (?:the )?(?:main|selected|current|final)\b|\bpromote\b"
    )
    zh = p.has(
        r"设为|设成|定稿|选用|就用|选这张|用这张|选第|采用|确定用|作为(?:第\S{1,3}个)?(?:分镜|镜头)的?(?:当前|最终)?版本"
        r"|^(?:就|那就|还是)?用第\s*\S{1,3}\s*张(?:图)?(?:吧|了)?$|^(?:就|那就|还是)?用.{1,6}那张(?:吧|了)?$"
        r"|^(?:就|那就|还是|就是)(?:选|要|定|用)?(?:这张|那张)(?:了|吧|吧了)?$"
        r"|(?:镜头|分镜)(?:就)?用第\s*\S{1,3}\s*张"
    )
    batch = (
        p.shots == "all"
        or (isinstance(p.shots, list) and len(p.shots) > 1)
        or (p.rest and bool(ctx.excluded))
    )
    if batch and p.has(r"\breferences?\b|\bref\b|参考"):
        return None  # "use #2 as a reference for all shots" is not a selection
    if batch and not (en or zh) and (p.cells or p.this_one or p.has(r"\bit\b|这个|这张|它")):
        # "use the first image for every shot", "pick #2 in each shot", "每个镜头都用第一张"
        en = p.has(r"\b(?:use|pick|select|choose|take|go with|keep|commit)\b")
        zh = p.has(r"都用|全用|统一用|一律用|都选|都要|都设")
    en = en or (
        ctx.carried_cell is not None
        and p.has(
            r"^(?:just\s+|then\s+|so\s+)?(?:use|take|pick|go with)\s+(?:it|that|that one|this one)\b|^就?用它"
        )
    )  # "#6 is the one, use it": the image just named
    en = en or (  # "the middle image is perfect, use that": the image the clause placed
        bool(p.cells)
        and p.has(
            r"(?:^|[,;]\s*)(?:just\s+|so\s+)?(?:use|take|pick|go with)\s+(?:it|that|that one|this one)\b"
        )
    )
    zh = zh or (bool(p.cells) and p.has(r"(?:这张|那张)(?:就行|就好|就可以|可以了|就它了|定了)"))
    if not (en or zh):
        return None
    if not p.cells and ctx.carried_cell and p.has(r"\bit\b|\bthat one\b|它|这张|那张"):
        p.cells = [ctx.carried_cell]  # "favorite #3 and then make it the selected one"
        p.evidence.append(f"“it” ← image #{ctx.carried_cell} named before")
    if not (p.cells or p.this_one or p.has(r"\bit\b|这个|它")):
        return None
    if batch:
        if not p.cells:
            raise _Stop(
                "clarify",
                p.t('Which image? Say e.g. "#1 for every shot".', "请问是哪一张？例如“每个镜头都用第1张”。"),
            )
        shots = _targets(p, ctx)
        cell = _check_cell(p, p.cells[0], 9)
        if isinstance(shots, list) and len(shots) == 1:
            return [_act("node.commit", shot=shots[0], cell=cell, track=p.track)]
        p.evidence.append(f"batch selection: #{cell} of each latest grid ← {_shots_text('en', shots)}")
        return [_act("node.commit", shots=shots, cell=cell, track=p.track)]
    if isinstance(p.shots, list):
        shot = _one_shot(p, ctx)
    elif ctx.focus.shot:
        shot = ctx.focus.shot
    elif ctx.latest_grid and ctx.latest_grid.shot:
        shot = ctx.latest_grid.shot
    else:
        raise _ask_shot(p)
    g = ctx.latest_grid
    track = (
        p.track
        or (ctx.focus.track if ctx.focus.shot == shot else None)
        or (g.track if g and g.shot == shot else None)
    )
    _check_track(p, ctx, shot, track)
    if not (p.cells or p.this_one):
        raise _Stop("clarify", p.t('Which image? Say e.g. "commit #4".', "请问是哪一张？例如“选第4张”。"))
    cell, node = _image(p, ctx, limit=_grid_limit(ctx, shot, track))
    return [_act("node.commit", shot=shot, cell=cell, node=node, track=track)]


def _h_favorite(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\bfavou?rites?\b|\bfavs?\b|\bfaves?\b|\bstar\b|\bpin\b|\bbookmark\b|收藏|加星|标星|星标"
        # "tag #4 as moody": a tagged favorite
        r"|^tag\s+(?:#\s*\d|image\s*#?\s*\d|(?:it|this one|that one)\b)"
    ):
        return None
    if p.has(
        r"\b(?:remove|delete|drop|take)\b.{0,30}\b(?:from|out of) (?:the |my )?favou?rites\b"
        r"|\bun-?(?:favou?rite|star|fav)\b|取消收藏|(?:删掉|删除|去掉|移除|移出|拿掉).{0,8}收藏|收藏(?:里|夹)?.{0,8}(?:删掉|删除|去掉|移除|拿掉)"
    ):  # "删掉收藏里的第2张": taking one out of the favorites, which the DSL cannot do
        raise _Stop(
            "clarify",
            p.t(
                "I can't take an image out of the favorites yet; the other favorites stay as they are.",
                "暂时不能把图片移出收藏，其他收藏保持不变。",
            ),
        )
    tags: list[str] = []
    m = re.search(
        r"\b(?:tag(?:ged)?|label(?:led)?)\s+(?:it|them|that|this|those|these|both|#\s*\d+|image\s*#?\s*\d+)?\s*(?:as|with)?\s*:?\s*(.+)$"
        r"|(?:标签|标记为|标为|打上|打个|加个|加上)(?:标签)?[:：]?\s*[“\"]?([^”\"]+?)[”\"]?(?:的?标签)?$",
        p.cased,
        re.I,
    )
    if m:
        raw = next(g for g in m.groups() if g)
        tags = [t.strip(' .。"') for t in re.split(r",|，|、|\band\b|和", raw) if t.strip(' .。"')]
    shot = _owner_shot(p, ctx)
    track = p.track or (ctx.focus.track if ctx.focus.shot == shot else None)
    limit = _grid_limit(ctx, shot, track)
    if not p.cells and not p.this_one:
        m = re.search(
            r"(?:favou?rite|fave?|star|pin|bookmark|收藏)\s*(?:images?\s+|pics?\s+)?([\d\s,&、和]+(?:and\s+\d+)?)$",
            p.text,
        )
        if m:
            p.cells = parse_number_list(m.group(1))
    if not p.cells and not p.this_one and p.shots is None:  # "i like 2 and 8, favorite both"
        m = re.search(
            r"\b(?:like|love|want|pick|keep)\s+(?:numbers?\s+)?(\d(?:\s*(?:,|and|&)\s*\d)*)\b(?!\s*(?:s\b|secs?|seconds?))"
            r"|(?:喜欢|要|留)\s*(\d(?:\s*(?:、|和|跟|,)\s*\d)*)(?:号|张)?",
            p.text,
        )
        if m:
            p.cells = parse_number_list(next(g for g in m.groups() if g))
    if len(p.cells) > 1:
        return [
            _act("node.favorite", cell=_check_cell(p, c, limit), shot=shot, track=track, tags=tags)
            for c in p.cells
        ]
    cell, node = _image(p, ctx, limit=limit)
    return [_act("node.favorite", cell=cell, node=node, shot=shot, track=track, tags=tags)]


# generation ----------------------------------------------------------------------------------------
_DONE_TO = r"\b(?:the|those|these) ones\b|\b(?:my|the) favou?rites\b|\bfavou?rited\b|收藏的|喜欢的那些"


def _gen_targets(p: Parsed, ctx: PlanningContext) -> Targets:
    if p.shots is None and p.desc is None and p.has(_DONE_TO):  # "把收藏的都生成视频": images, not shots
        raise _ask_shot(p)
    unnamed = p.shots is None and p.desc is None and not p.pronoun and ctx.carried is None
    if unnamed and (
        p.has(r"\beverything\b|\ball of them\b|\bthe whole thing\b|所有|全部|每个|都")
        or p.starts(r"(?:animate|voice|narrate)\s+all\b")
    ):
        return _minus_excluded(p, ctx, "all")
    return _targets(p, ctx)


def _h_video(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if p.has(_STOP_MOTION) and not p.has(r"\banimate\b|\bvideos?\b"):
        return None
    if not p.has(
        r"\banimate\b|\bmake (?:it|them|§|shots?[\s\d,&and-]+) move\b|\bbring\b.{0,30}\bto life\b"
        r"|\bimage[- ]to[- ]video\b|\bi2v\b|做成动态|变成动态|动态的"
        r"|\b(?:make|generate|create|render|turn|produce|build|give me|redo|regenerate|get)\b"
        r".{0,40}\b(?:videos?|vids?|clips?)\b"
        r"|\b(?:videos?|vids?|clips?)\s+(?:for|of)\s+(?:shots?|§|all|every|each|this|the)"
        r"|^(?:an?\s+)?(?:videos?|vids?|clips?)\s+(?:for|of)\s+#?\d"  # "vid for 11 pls"
        r"|\bas\s+(?:video\s+)?(?:clips?|videos?|animations?)\b"
        r"|\b(?:see|watch|have|get)\s+(?:shots?\s*#?\d+|§|it|them)\s+as\s+(?:an?\s+)?(?:video|clip|animation)s?\b"
        r"|(?:来|整|弄)(?:个|一个|一段)?.{0,12}?的?(?:视频|动画)$"
        r"|(?:生成|做成|制作|转成|转|变成|出|重新生成|做)[^，,。；]{0,8}?(?:视频|动画)|动起来|动态化"
        r"|(?:视频|动画)(?:再|重新)(?:出|做|生成|来)(?:一版|一个|一遍|一下)?"  # "…的视频再出一版"
    ):
        return None
    model = (
        "pan_zoom"
        if p.has(r"pan[- ]?(?:and[- ])?zoom|ken burns|\bcheap\b|camera move only|平移缩放|便宜")
        else None
    )
    fps = None
    m = re.search(
        r"(\d+)\s*fps\b|(\d+)\s*帧"
        r"|(?:帧率|帧数|\bframe[- ]?rate\b|\bfps\b)\s*(?:of|at|to|=|:|是|为|设为|用)?\s*(\d+)",
        p.text,
    )
    if m:
        fps = int(next(g for g in m.groups() if g))
    duration = _duration(p.text)
    if duration is not None and not 1 <= duration <= 10:
        raise _Stop("out_of_range", p.t("A clip lasts 1–10 seconds.", "视频片段时长需要在1到10秒之间。"))
    return [_act("gen.video", shots=_gen_targets(p, ctx), model=model, fps=fps, duration_s=duration)]


def _h_voice(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\bnarrat(?:e|ion|or)\b|\bvoice(?:-?over)?s?\b|\bdub(?:bing)?\b"
        r"|\btts\b|\bread (?:it|them|the \w+) (?:aloud|out)\b"
        r"|\brecord\b.{0,30}\b(?:audio|voices?|dialog(?:ue)?|lines|narration|vo)\b"
        r"|^record (?:it|them|that|those)\b|\bvo\b|录(?:一下|个|下|一段)?(?:台词|旁白|配音|对白|解说|口播)"
        r"|\bspoken\b|旁白|配音(?!乐)|语音|朗读|解说|念白|口播|配音频|配个音(?!乐)|配一下音(?!乐)|配上音(?!乐)"
        r"|(?:用|换成|选)\s*[A-Za-z][\w-]{1,20}\s*(?:的)?(?:声音|音色)"
    ):
        return None
    if p.has(
        r"\b(?:remove|delete|drop|get rid of|take out|mute|kill|cut|no more|without|lose|ditch|scrap|nuke|axe"
        r"|bin)\b.{0,20}\b(?:narration|voice-?overs?|voices?|dialog(?:ue)?|vo)\b|(?:去掉|删掉|删除|取消|不要|拿掉)(?:了)?(?:旁白|配音|台词|对白)"
        r"|(?:旁白|配音|台词|对白)(?:都|也|就|全)?(?:不要|去掉|删掉|拿掉|不用)"
        r"|\b(?:do ?n[o']?t|no longer) need\b.{0,20}\b(?:narration|voice-?overs?|vo)\b"
    ):
        raise _Stop(
            "clarify",
            p.t(
                "Remove the narration text, or just the recording? I can't delete a recording yet; "
                'say e.g. "set the narration of shot 4 to: …" to change the text.',
                "是删掉旁白文字，还是只去掉录音？录音暂时不能删除；要改文字可以说“第4个镜头的旁白改成：……”。",
            ),
        )
    if _quoted(p.cased) and p.has(r"\b(?:set|change|update|to)\b|改成|改为|[:：]"):
        return None  # new narration text: a shot.update
    if _line_text(p, "narration") or _line_text(p, "dialogue"):
        return None  # "the narration of shot 3 to: …" is new text, not a recording
    kind = "dialogue" if p.has(r"\bdialog(?:ue)?\b|对白|台词") else "narration"
    voice = _first(lx.VOICE, p.text)
    named = re.search(  # "use the Ember voice", "voice: Ember", 用Ember的声音
        r"\b(?:use|with|in|using)\s+(?:the\s+)?([A-Z][\w-]{1,20})(?:'s)?\s+voice\b"
        r"|\bvoice\s*(?::|=|\bnamed\b|\bcalled\b)\s*([A-Z][\w-]{1,20})\b"
        r"|(?:用|换成|选)\s*([A-Za-z][\w-]{1,20})\s*(?:的)?(?:声音|音色)",
        p.cased,
    )
    if voice is None and named:
        voice = next(g for g in named.groups() if g)
    return [_act("gen.voice", shots=_gen_targets(p, ctx), voice=voice, kind=kind)]


def _h_music(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\bmusic\b|\bsoundtrack\b|\bscore\b|\bbgm\b|\btune\b|\bjingle\b|\bmelody\b|\bbackground track\b"
        r"|背景音乐|配乐|音乐|曲子|旋律"
    ):
        return None
    if p.has(r"\b(?:with|plus|and)\s+(?:the\s+)?music\b|(?:加上|带上?)(?:背景)?(?:音乐|配乐)") and p.has(
        r"\b(?:render|compose|assemble|stitch)\b|合成|成片|预览"
    ):
        return None  # "render the final with the music": a compose option, not a new track
    if p.has(
        r"\b(?:remove|delete|drop|get rid of|kill|mute|no more|without|lose"
        r"|(?:do ?n[o']?t|no longer) need)\b.{0,20}"
        r"\b(?:music|soundtrack|bgm|score)\b|\b(?:music|soundtrack|bgm)\b.{0,12}\b(?:off|gone)\b"
        r"|(?:背景音乐|配乐|音乐)(?:都|也|就|先)?(?:不要|去掉|删掉|拿掉|不用)|(?:去掉|删掉|删除|拿掉)(?:了)?(?:背景音乐|配乐|音乐)"
    ):
        if p.has(r"\b(?:render|compose|assemble|export)\b|合成|成片|预览|导出"):
            return None  # "compose the final without music": a compose option
        raise _Stop(  # "drop the music", "背景音乐不要了": not a new track
            "clarify",
            p.t(
                "I can't delete a music track yet; to leave it out of the cut, say "
                "“compose the final without music”.",
                "暂时不能删除配乐；想让成片不带音乐，可以说“合成成片，不要音乐”。",
            ),
        )
    if p.has(r"\bmix\b|\bmixed in\b|混进|混入") and not p.has(
        r"\b(?:generate|make|create|compose)\b|生成|做"
    ):
        return None  # mixing the music into the cut is a compose option
    mood = _first(lx.MOODS, p.text) or "auto"
    m = re.search(rf"\b(an?|{NUM})[- ]?(?:min|mins|minutes?)\b|({NUM}|半)\s*分钟", p.text)
    raw = next((g for g in m.groups() if g), "") if m else ""
    minutes = 1 if raw in {"a", "an"} else 0.5 if raw == "半" else parse_int(raw) if raw else None
    duration = float(minutes) * 60 if minutes else _duration(p.text)
    return [_act("gen.music", mood=mood, duration_s=duration)]


def _h_grid(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(_GRID_TRIGGER) or (p.has(_NEXT_GRID) and p.has(_REF_TRIGGER)):
        return None
    shots = _targets(p, ctx)
    if isinstance(shots, list) and len(shots) == 1:
        _check_track(p, ctx, shots[0], p.track)
    refs: list[dict[str, Any]] = []
    if p.has(_REF_TRIGGER) and p.cells:
        role_text = re.sub(r"\bscene\s*\d+|第\S{1,3}场", " ", p.text)
        role = _first(lx.REFERENCE_ROLE, role_text) or "image"
        refs = [{"cell": _check_cell(p, c, 9), "track": p.track, "as": role} for c in p.cells]
        refs = [{k: v for k, v in r.items() if v is not None} for r in refs]
    cam = _camera(p.text)
    return [
        _act(
            "gen.grid",
            shots=shots,
            size=_grid_size(p.text) or 4,
            camera=cam or None,
            prompt=_prompt(p, (_REF_TRIGGER,)),
            refs=refs or None,
            track=None if refs else p.track,
        )
    ]


# project-level settings ----------------------------------------------------------------------------
def _h_rules(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    en = p.has(
        r"\brules?\b|\bnever (?:show|include|use|depict|have)\b"
        r"|\bdon'?t (?:ever )?(?:show|include|use|depict)\b"
        r"|\bavoid\b|\bforbid|\bmust (?:always|never)\b"
        r"|\balways (?:keep|show|include|use)\b|\bbrand guidelines?\b"
        r"|\bno (?:violence|blood|gore|weapons|guns|smoking|alcohol|nudity|(?:brand\s+)?logos?|text"
        r"|brand names)\b"
        r"|^(?:from now on\s*,?\s*|going forward\s*,?\s*)?(?:nobody|no one|no-one)\s+(?:ever\s+)?[a-z]+s\b"
    )
    zh = p.has(r"规则|不要出现|不能出现|禁止|避免|不许|不得|必须|始终|一律|不允许|不准|不要有|不能有|别出现")
    if not (en or zh) or isinstance(p.shots, list):
        return None
    m = re.search(r"\brules?\s*[:：]\s*(.+)$|规则\s*[:：]\s*(.+)$", p.cased, re.I)
    if m:
        raw = next(g for g in m.groups() if g)
        rules = [r.strip(" .。") for r in re.split(r"[;；\n]", raw) if r.strip(" .。")]
    else:
        raw = re.sub(
            r"^(?:please\s+)?(?:add|set|make)\s+(?:a\s+|the\s+)?(?:project\s+)?rules?\s*(?:that|to)?\s*|^(?:请)?(?:添加|加|设置)(?:一条)?规则[,，]?",
            "",
            p.cased,
            flags=re.I,
        )
        raw = re.sub(
            r"^\s*(?:from now on|going forward|always remember|remember|for the whole project"
            r"|in this project)"
            r"\s*[,:]?\s*|^(?:以后|从现在开始|今后|整个项目)[,，:：]?",
            "",
            raw,
            flags=re.I,
        )
        # "no text on screen and the owl stays grey": one rule per clause
        rules = [
            r.strip(" .。")
            for r in re.split(
                r"\s*(?:;|；|,\s*(?:and\s+)?also\s+|,\s*and\s+|\band\s+(?=the\b|no\b|never\b|always\b|keep\b)"
                r"|，|。)\s*",
                raw,
            )
        ]
    rules = [r for r in rules if r]
    if not rules:
        raise _Stop("clarify", p.t("What should the rule say?", "规则内容是什么？"))
    replace = p.has(r"\breplace\b|\bset the rules to\b|\bonly rules?\b|替换|改为以下规则")
    return [_act("project.set_rules", rules=rules, replace=replace)]


def _h_meta(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    args: dict[str, Any] = {}
    if not isinstance(p.shots, list) and p.has(
        r"\b\d{1,2}\s*:\s*\d{1,2}\b|\baspect\b|\b(?:vertical|portrait|landscape|horizontal|square)\b"
        r"|竖屏|横屏|画幅|竖版|横版"
    ):
        args["aspect_ratio"] = _aspect(p.text)
    m = re.search(
        r"\b(?:rename|retitle)\s+(?:the\s+)?(?:project|video|film|it)?\s*(?:to|as)\s+\"?(.+?)\"?\s*$"
        r"|\b(?:title|name)\s+(?:of the (?:project|video)\s+)?(?:to|:)\s*\"?(.+?)\"?\s*$"
        r"|\b(?:call|name|title)\s+(?:the\s+|this\s+|our\s+|my\s+)?(?:project|video|film|movie)\s+"
        r"\"?(.+?)\"?(?:\s+instead)?\s*[.!?]*$",
        p.cased,
        re.I,
    ) or re.search(
        r"(?:改名为|改名叫|重命名为|(?:项目|片子|视频|影片)?(?:标题|名字|名称|片名|题目|项目名)"
        r"(?:改成|改为|换成|换为|变成|改叫|定为|设为))\s*[《\"“]?(.+?)[》\"”]?$"
        r"|(?:标题|名字|片名|项目名|题目)(?:就|也)?(?:叫做?|是|定为|定成|用)\s*《(.+?)》",
        p.cased,
    )
    if m:
        args["title"] = next(g for g in m.groups() if g).strip().strip("'\"“”‘’《》")
    m = re.search(
        r"\b(?:language|narration|subtitles?|voice-?over)\s+(?:should\s+be\s+|to\s+be\s+)?(?:to|in)\s+(english|chinese)\b"
        r"|(?:语言|字幕|旁白|配音)(?:改成|改为|用|要用|换成)(中文|英文)",
        p.text,
    )
    if m:
        value = next(g for g in m.groups() if g)
        args["language"] = "zh" if value in {"chinese", "中文"} else "en"
    if p.has(
        r"\b(?:for|on|to)\s+(?:tiktok|douyin|youtube|instagram|reels|bilibili|xiaohongshu)\b|发到|发布到|投放到|平台"
        r"|(?:发|投|给)?(?:抖音|b站|小红书|快手)用"
        r"|要(?:发|投|上)(?:到)?(?:抖音|b站|小红书|快手|油管|youtube|tiktok|instagram|ins|视频号)"
        r"|[，,]\s*(?:发|投)(?:抖音|b站|小红书|油管|youtube|tiktok)(?:用|的)?\s*$"  # "画幅改成16:9，发B站"
    ):
        args["platform"] = _first(lx.PLATFORMS, p.text)
    m = re.search(
        rf"\b(?:total|target|overall)\s+(?:duration|length|runtime|running time)\s*"
        rf"(?:to|of|:|at|around|about|"
        rf"roughly)?\s*(?:about\s+|around\s+|roughly\s+|~\s*)?(an?|{NUM})\s*(s|sec|seconds?|min|minutes?)\b"
        rf"|(?:总时长|总长度|总长|片长|成片时长|整部片子|整个片子|整部片|片子|整个视频|成片)"
        rf"(?:改成|设为|改为|为|控制在|定在|在|大概|大约|差不多|要|做到|别超过|不超过|不要超过|最多|压到|压在)*"
        rf"\s*({NUM})\s*(秒|分钟)"
        rf"|(?<!镜头)(?<!分镜)(?<!个)时长(?:控制在|限制在|定在|不超过|别超过)\s*({NUM})\s*(秒|分钟)"
        rf"|\b({NUM})\s*(s|secs?|seconds?|mins?|minutes?)\s+(?:in\s+)?"
        r"(?:total|overall|all together|altogether)\b"
        rf"|\b(?:the\s+)?(?:whole\s+|entire\s+)?(?:film|video|movie|cut|project|thing)\s+"
        rf"(?:should|needs? to|has to|must|will)\s+(?:run|be|last)\s+(?:for\s+)?"
        rf"(?:about\s+|around\s+|roughly\s+|under\s+|at most\s+)?"
        rf"(an?|{NUM})\s*(s|secs?|seconds?|mins?|minutes?)\b"
        rf"|\b(?:make|keep|get|want|need)\s+(?:the\s+)?(?:whole\s+|entire\s+)?"
        rf"(?:film|video|movie|cut|project|thing|runtime|running time|total length)\s+"
        rf"(?:about\s+|around\s+|roughly\s+|under\s+|at\s+)?(an?|{NUM})\s*(s|secs?|seconds?|mins?|minutes?)\b",
        spoken_seconds(p.text),
    )
    if m:
        g = [x for x in m.groups() if x]
        n = 1 if g[0] in {"a", "an"} else parse_int(g[0]) or 0
        args["target_duration_s"] = float(n * 60 if g[1].startswith(("min", "分")) else n)
    elif not isinstance(p.shots, list):  # "把时长改成一分半": longer than any shot, so the film's
        m = re.search(
            rf"(?<!镜头)(?<!分镜)(?<!个)(?<!的)时长(?:改成|改为|设为|设成)\s*({NUM})\s*(秒|分钟)",
            spoken_seconds(p.text),
        )
        n = (parse_int(m.group(1)) or 0) * (60 if m and m.group(2) == "分钟" else 1) if m else 0
        if n > 8:
            args["target_duration_s"] = float(n)
    args = {k: v for k, v in args.items() if v}
    if not args:
        return None
    return [_act("project.update_meta", **args)]


def _h_style(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    if not p.has(
        r"\bstyle\b|\baesthetic\b|\blook like\b|画风|风格|风(?=$|[\s,，。；;])"
        r"|\bto (?:an? |the )?(?:[a-z'-]+ ){0,2}[a-z'-]+ (?:look|vibe)\b"
        r"|\b(?:whole|overall|entire|general)\s+(?:look|aesthetic|vibe)\s+(?:to|into|as)\b"
        r"|\bgive (?:everything|it all|the whole (?:thing|project|film)|all (?:the )?shots) (?:an? )?"
        r"(?:[a-z'-]+ ){0,2}[a-z'-]+ (?:look|feel|vibe|aesthetic)\b"
        r"|^(?:整体|整个|全片)(?:都)?(?:加|来|换成|改成|弄成)?(?:一点|一些|点)?[^\s,，。；;、]{2,8}?(?:感|质感)$"
        r"|\b(?:look|aesthetic|visual style) of (?:the )?(?:whole |entire )?"
        r"(?:project|film|video|movie|storyboard|thing)\b"
    ):
        return None
    if isinstance(p.shots, list) or p.this_shot or p.desc is not None:
        return None  # a per-shot style override ("the lake shots"): shot.update
    like = re.search(r"\blook(?:s|ing)? like\s+(.+)$", p.text)
    if like and (
        re.match(r"(?:it'?s|it is|it was|there'?s|there is|its)\b", like.group(1))
        or any(_first(t, like.group(1)) for t in (lx.WEATHER, lx.TIME_OF_DAY, lx.LIGHTING))
    ):
        return None  # "look like it's snowing", "look like dusk": a weather/time/light, not a style
    style = _style(p)
    if not style:
        m = (
            re.search(r"\bto (?:an? |the )?((?:[a-z'-]+ ){0,2}[a-z'-]+) (?:style|aesthetic|look)\b", p.text)
            or re.search(
                r"\bgive \S+(?: \S+)?? (?:an? )?((?:[a-z'-]+ ){0,2}[a-z'-]+) (?:look|feel|vibe|aesthetic)\b",
                p.text,
            )
        ) or re.search(
            r"\blook of (?:the )?(?:whole |entire )?(?:project|film|video|movie|storyboard|thing)"
            r"\s+(?:to|into|as)\s+"
            r"(?:an? |the )?((?:[a-z'-]+ ){0,2}[a-z'-]+)\s*[.!]?$",
            p.text,
        )
        if m and m.group(1) not in lx.STYLE_STOPWORDS:
            style = m.group(1)
    if not style:
        raise _Stop(
            "clarify",
            p.t('Which style? Say e.g. "set the style to watercolor".', "什么风格？例如“整体风格改成水彩”。"),
        )
    return [_act("project.set_style", style=style)]


# shot.update ---------------------------------------------------------------------------------------
_REMOVAL = (
    r"(?:\b(?:remove|get rid of|lose|loses|drop|drops|take out|take away|no more|no|without"
    r"|clear(?: out)?|kill|stop the)\s+(?:the\s+|all\s+(?:the\s+)?|any\s+|that\s+|its\s+|their\s+)?"
    r"|去掉|去除|不要|别要|拿掉|取消|去了|没有)\s*$"
)
_CLEARED = {"weather": "clear"}
_LESS = (
    r"(?:\b(?:less|not so|not as|no longer|not too|too|way too|a bit too)\s+"
    r"|不那么|没那么|别那么|别太|不要太|太)\s*$"
)


def _removed(p: Parsed, field: str, table: lx.Table, text: str) -> str | None:
    """ "remove the fog from shot 3", "第三个去掉雾": a setting named only to take it away is no
    value for that field: weather becomes clear; any other field is asked, never set."""
    for pattern, _ in table:
        m = re.search(pattern, text)
        if m is None:
            continue
        before = text[max(0, m.start() - 24) : m.start()]
        if re.search(_LESS, before):  # "less dark", "too foggy", "不那么暗": the opposite is meant, not this
            raise _Stop(
                "clarify",
                p.t(
                    f"Less {m.group(0)} — what should it be instead? "
                    "e.g. “brighter lighting”, “make it day”.",
                    f"不要那么“{m.group(0)}”——改成什么？例如“明亮一点”“改成白天”。",
                ),
            )
        after = text[m.end() : m.end() + 8]
        disliked = re.search(  # "i don't like the rain in shot 4", "第四个镜头的雨我不喜欢": not that
            r"\b(?:i\s+)?(?:don'?t|do not|really don'?t)\s+(?:like|love|want|need)\s+"
            r"(?:the\s+|that\s+|this\s+)?$|\b(?:i\s+)?(?:hate|dislike)\s+(?:the\s+|that\s+|this\s+)?$"
            r"|(?:不喜欢|不想要|讨厌)(?:这个|那个)?(?:[^，,。]{0,10}的)?$",
            before,
        ) or re.match(r"\s*(?:我|真的|有点)?(?:不喜欢|不想要|讨厌|不好看|太假了)", after)
        if (
            not re.search(_REMOVAL, before)
            and not disliked
            and not re.match(r"\s*(?:也)?(?:去掉|拿掉|删掉|删了|不要了|去了)", after)
        ):
            return None  # not "去掉雨" nor "雨去掉"
        if field in _CLEARED:
            said = text[max(0, m.start() - 12) : m.end()].strip()
            p.evidence.append(f"{field} {_CLEARED[field]} ← “{said}”")
            return _CLEARED[field]
        raise _Stop(
            "clarify",
            p.t(
                f"What should replace the {m.group(0)}? e.g. “make it day”, “soft lighting”.",
                f"去掉“{m.group(0)}”之后要改成什么？例如“改成白天”“柔光”。",
            ),
        )
    return None


_TABLE = {"time_of_day": lx.TIME_OF_DAY, "lighting": lx.LIGHTING, "weather": lx.WEATHER, "mood": lx.MOODS}
_FREE_TEXT = ("dialogue", "narration", "visual", "title", "place", "description")


def _settings_outside_text(patch: dict[str, Any], text: str) -> dict[str, Any]:
    """A setting read only from inside new free text ("narration to: the night was quiet", "标题改成
    《月夜》", "show a misty forest") is part of that text, not a second change."""
    rest = text
    for key in _FREE_TEXT:
        value = patch.get(key)
        if isinstance(value, str) and value:
            rest = rest.replace(value.lower(), " ")
    if rest != text:
        for key, table in _TABLE.items():
            if patch.get(key) and not _first(table, rest):
                patch[key] = None
    return {k: v for k, v in patch.items() if v}


def _first_pattern(table: lx.Table, value: str) -> str:
    return "|".join(f"(?:{pattern})" for pattern, v in table if v == value) or r"(?!)"


def _patch(p: Parsed, *, include_visual: bool = True) -> dict[str, Any]:
    text = p.masked
    patch: dict[str, Any] = {
        "time_of_day": _first(lx.TIME_OF_DAY, text),
        "lighting": _first(lx.LIGHTING, text),
        "weather": _first(lx.WEATHER, text),
        "mood": _first(lx.MOODS, text),
        "pacing": _first(lx.PACING, text),
    }
    for key, table in (
        ("time_of_day", lx.TIME_OF_DAY),
        ("lighting", lx.LIGHTING),
        ("weather", lx.WEATHER),
        ("mood", lx.MOODS),
    ):
        if patch[key]:
            try:
                cleared = _removed(p, key, table, text)
            except _Stop:
                if not any(v for k, v in patch.items() if k != key):
                    raise
                # "shot 4 is too dark, brighten it up": the complaint says why, the other setting what
                p.evidence.append(f"{key} {patch[key]} ← said as the problem, not the wish")
                patch[key] = None
                continue
            if cleared is not None:
                patch[key] = cleared
    lit = re.search(
        r"\b(golden hour|magic hour|sunset|sunrise|dawn|dusk|morning|evening)\s+(?:light(?:ing)?|glow)\b",
        text,
    )
    if lit and patch["time_of_day"] and not patch["lighting"]:  # "golden hour lighting": a light, not a time
        patch["lighting"], patch["time_of_day"] = patch["time_of_day"], None
        p.evidence.append(f"lighting ← “{lit.group(0)}”")
    like = re.search(r"[,;]?\s+like\s+(?:only\s+|just\s+|with\s+)?(?:an?\s+|some\s+)?(.+)$", text)
    if like and patch["mood"] and not re.search(_first_pattern(lx.MOODS, patch["mood"]), like.group(1)):
        concrete = [
            k for k in ("time_of_day", "lighting", "weather") if patch[k] and _first(_TABLE[k], like.group(1))
        ]
        if concrete:  # "darker, like only moonlight": the example says how; the adjective is no mood
            p.evidence.append(f"mood {patch['mood']} ← read as “{like.group(0).strip(' ,')}”")
            patch["mood"] = None
    cam = _camera(text)
    if cam:
        patch["camera"] = cam
    duration = _duration(p.text)
    if duration is not None:
        patch["duration_s"] = duration
    m = re.search(
        r"\b(?:(?:dialog(?:ue)?|line)\b[^\"]{0,30}?(?:to|:|is|=|be|reads?)|says?\s*:?|the\s+line)\s*\"([^\"]+)\"",
        p.cased,
        re.I,
    ) or re.search(r"(?:台词|对白)(?:改成|改为|是|为|:)?\s*\"?([^\"]+?)\"?$", p.cased)
    line = m.group(1).strip(" :：") if m else _line_text(p, "dialogue")
    if not line:  # "the owl says give it back, thief", "让小狐狸说一句：这是我的月亮！"
        m = re.search(
            r"\b(?:says?|shouts?|whispers?|yells?|screams?|asks?|mutters?)\b\s*[:,]?\s*[\"']?(.+?)[\"']?\s*[.!]?$",
            p.cased,
            re.I,
        ) or re.search(r"(?:说|喊|问|嘀咕)(?:一句|一声|道)?\s*(?:[:：]\s*\"?(.+?)\"?|\"(.+?)\")\s*$", p.cased)
        line = next(g for g in m.groups() if g).strip(" :：") if m else None
    if line:
        patch["dialogue"] = line
    m = re.search(r"\bnarration\b[^\"]{0,30}?(?:to|:|is|=)\s*\"([^\"]+)\"", p.cased, re.I) or re.search(
        r"旁白(?:改成|改为|是|为|:)\s*\"?([^\"]+?)\"?$", p.cased
    )
    line = m.group(1).strip(" :：") if m else _line_text(p, "narration")
    if line:
        patch["narration"] = line
    if p.has(r"\bstyle\b|画风|风格|风(?=$|[\s,，。；;])"):
        style = _style(p)
        if style:
            patch["style_override"] = style
    if "style_override" not in patch and p.has(r"\blooks? like\b|\blook of an?\b"):
        style = _style(p)  # "make shot 1 look like a watercolor painting"
        if style and not _first(lx.TIME_OF_DAY + lx.WEATHER + lx.LIGHTING, style.lower()):
            patch["style_override"] = style
    if "style_override" not in patch:  # "black and white", "黑白": a look of the shot, in the user's words
        look = next((m for pat, _ in lx.LOOKS if (m := re.search(pat, p.cased, re.I))), None)
        if look:
            patch["style_override"] = look.group(0)
    if include_visual and not p.starts(r"(?:show|display|let me see)\b"):
        m = re.search(
            r"\b(?:show(?:ing)?|depict(?:ing)?|visual(?:ly)?\s*(?:to|:)|should show|be about)\s+(.+)$"
            r"|\bso (?:that )?((?:the|a|an)\s+\w+(?:\s+\w+)?\s+(?:is|are)\s+\w+ing\b.*)$",
            p.cased,
            re.I,
        ) or re.search(r"(?:画面|内容|描述)(?:改成|改为|换成|是|为|:)\s*(.+)$", p.cased)
        if m:
            patch["visual"] = next(g for g in m.groups() if g).strip(" .。")
        elif not any(patch.values()):
            m = re.search(
                r"\bshot\s*#?\s*\d+\s*:\s*(.+)$|第\S{1,3}个(?:分镜|镜头)\s*:\s*(.+)$", p.cased, re.I
            )
            if m:
                patch["visual"] = next(g for g in m.groups() if g).strip(" .。")
    return _settings_outside_text(patch, text)


_ADDITION = (
    r"\b(?:add|put|include|throw in|stick)\s+"
    r"(?P<en>(?:an?\s+|some\s+|a few\s+|a couple of\s+|two\s+|three\s+|several\s+)?"
    r"(?!(?:narration|voice|music|subtitles?|dialogue|captions?|shots?|scenes?|a shot|a scene)\b)"
    r"[a-z][a-z' -]{1,40}?)\s+(?:to|in|into|on)\s+(?:the\s+)?(?:§|shots?\b|it\b|this\b)"
    r"|\b(?:have|make|let)\s+(?:the\s+)?(?P<who>[a-z]+)\s+(?P<act>hold|carry|wear|holding|carrying|wearing)\s+"
    r"(?P<obj>(?:an?\s+|the\s+|some\s+)?[a-z][a-z' -]{1,30}?)\s*(?:in\s+(?:§|shots?\b|it\b)|$)"
    r"|让(?P<zwho>[\u4e00-\u9fff]{1,6}?)(?P<zact>提着|拿着|抱着|戴着|穿着|举着|叼着)(?P<zobj>[\u4e00-\u9fff]{1,10})$"
    r"|(?:里|中|上|里面)?(?:加|添|放|加上|添加|加入|多加)(?P<zh>(?:一只|几只|两只|一个|几个|一些|一盏|几盏|一棵|几棵|一朵|几朵|一群|点|些)?"
    r"(?!旁白|配音|音乐|配乐|字幕|镜头|分镜|一场|场景)[\u4e00-\u9fff]{2,10})$"
    # "in shot 6 add that the moon glows red", "第六个镜头补充一句：月亮变成红色": a fact the picture gains
    r"|\b(?:add|mention|note|include)\s+that\s+(?P<that>[a-z][a-z' ,-]{3,80}?)\s*[.!]?$"
    r"|(?:补充|补一句|加一句|再加一句|写上|加上一句)(?:一下|一句)?(?:描述)?\s*[:：]\s*(?P<zthat>[^:：]{2,40}?)\s*[。！]?$"
)


def _extended_visual(p: Parsed, ctx: PlanningContext) -> dict[str, Any] | None:
    """ "第二个镜头里加几只萤火虫", "add a few fireflies to shot 2": the element joins the shot's
    description (from the planning context); a clipped or unknown description is asked about."""
    m = re.search(_ADDITION, p.masked if p.lang == "en" else p.cased, re.I)
    if m is None:
        return None
    if m.group("who") or m.group("zwho"):  # "have the fox hold a lantern", "让狐狸提着灯笼"
        added = (
            f"{m.group('who')} {m.group('act')} {m.group('obj')}"
            if m.group("who")
            else f"{m.group('zwho')}{m.group('zact')}{m.group('zobj')}"
        )
    else:
        added = (m.group("en") or m.group("zh") or m.group("that") or m.group("zthat")).strip()
    shots = _targets(p, ctx)
    info = ctx.shot_info(shots[0]) if isinstance(shots, list) and len(shots) == 1 else None
    if info is None or not info.visual or info.visual.endswith("…"):
        raise _Stop(
            "clarify",
            p.t(
                f"Add “{added}” to which shot's description? Say the shot and the full new description.",
                f"要把“{added}”加到哪个分镜的画面描述里？请说分镜和完整的新描述。",
            ),
        )
    p.evidence.append(f"visual ← shot {info.number}'s description + “{added}”")
    joiner = "，" if has_cjk(info.visual) else ", "
    return {"shots": shots, "patch": {"visual": f"{info.visual}{joiner}{added}"}}


def _h_shot_update(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    patch = _patch(p)
    if not patch and re.search(_ADDITION, p.masked if p.lang == "en" else p.cased, re.I):
        extended = _extended_visual(p, ctx)
        if extended:
            return [_act("shot.update", **extended)]
    change_verb = p.has(
        r"\b(?:change|make|set|turn|update|adjust|switch|give|shoot|need|needs|should|want|use|put|keep|hold|add)\b"
        r"|^(?:can|could|would)\b.*\bbe\b|\b(?:could|can|might|would)\s+(?:be|look|use)\b|改|调|设|换|变|加点|来点|加上|弄成|弄得|搞成|需要|要|^(?:再)?加|^添|整点|搞个"
        r"|去掉|拿掉"
        r"|^(?:(?:can|could)\s+(?:we|i|you)\s+)?get\b"  # "can we get a low angle on 6?": a request
    )
    question = p.has(r"\?$|^(?:why|what|how|is|are|does|do|who|which|when|where)\b|吗$|吗？?$|为什么|怎么")
    if question and not change_verb:
        return None
    if not patch:
        if change_verb and (isinstance(p.shots, list) or p.this_shot):
            raise _Stop(
                "clarify",
                p.t(
                    "What should change? e.g. night, neon lighting, 5 seconds, low angle, faster.",
                    "要改什么？例如夜景、霓虹灯光、5秒、低角度、节奏加快。",
                ),
            )
        return None
    named = p.this_shot or p.last_shot or p.last_n or p.from_end or p.desc is not None or p.rest
    if p.shots is None and not named and not (change_verb or p.has(r"\bit\b|\bthem\b|它|这")):
        return None
    shots = _targets(p, ctx)
    _check_duration(p, patch)
    return [_act("shot.update", shots=shots, patch=patch)]


def _check_duration(p: Parsed, spec: dict[str, Any]) -> None:
    duration = spec.get("duration_s")
    if duration is not None and not 2 <= duration <= 8:
        raise _Stop("out_of_range", p.t("A shot lasts 2–8 seconds.", "单个分镜时长需要在2到8秒之间。"))


def _h_relative_duration(p: Parsed, ctx: PlanningContext) -> list[ActionDict] | None:
    """ "three seconds shorter", "延长2秒": the new duration is the shot's current one plus the delta
    (from the planning context); unknown current durations are asked, never assumed."""
    same = re.search(
        rf"\bsame (?:length|duration) as (?:shot\s*)?#?\s*({NUM})\b"
        rf"|\bmatch (?:shot\s*)?#?\s*({NUM})(?:'s)? (?:length|duration)\b"
        rf"|\bas long as (?:shot\s*)?#?\s*({NUM})\b"
        rf"|(?:时长|长度)?.{{0,6}}(?:跟|和|与|同)第\s*({NUM})\s*个(?:镜头|分镜)?(?:的时长|一样长|一样)",
        p.text,
    )
    if same:  # "make shots 5 and 6 the same length as shot 2": that shot's duration (planning context)
        src = parse_int(next(g for g in same.groups() if g)) or 0
        info = ctx.shot_info(src)
        if info is None or info.duration_s is None:
            raise _Stop(
                "clarify",
                p.t(f"How long is shot {src}? Say the seconds.", f"第{src}个分镜多长？请直接说秒数。"),
            )
        shots = [n for n in (p.shots if isinstance(p.shots, list) else []) if n != src] or None
        if shots is None:
            shots = [n for n in _targets(p, ctx) if n != src] if p.shots != "all" else "all"
        p.evidence.append(f"duration {info.duration_s:g} s ← shot {src}'s (“{same.group(0)}”)")
        return [_act("shot.update", shots=_check_shots(p, ctx, shots), patch={"duration_s": info.duration_s})]
    rel = understand.relative_duration(p.text)
    if rel is None:
        return None
    shots = _targets(p, ctx)
    numbers = _all_numbers(p, ctx) if shots == "all" else shots
    groups: dict[float, list[int]] = {}
    for n in numbers:
        info = ctx.shot_info(n)
        if info is None or info.duration_s is None:
            raise _Stop(
                "clarify",
                p.t(
                    f"I don't know how long shot {n} is now; how many seconds should it last?",
                    f"我不知道第{n}个分镜现在多长，请直接说要改成几秒。",
                ),
            )
        new = round(info.duration_s * rel.factor + rel.delta, 2)
        if not 2 <= new <= 8:
            raise _Stop(
                "out_of_range",
                p.t(
                    f"Shot {n} lasts {info.duration_s:g} s; “{rel.phrase}” would make it {new:g} s, "
                    "but a shot lasts 2–8 seconds. How long should it be?",
                    f"第{n}个分镜现在{info.duration_s:g}秒，“{rel.phrase}”会变成{new:g}秒，超出2到8秒。要改成几秒？",
                ),
            )
        change = f"×{rel.factor:g}" if rel.factor != 1.0 else f"{rel.delta:+g} s"
        p.evidence.append(f"shot {n}: {info.duration_s:g} s {change} → {new:g} s ← “{rel.phrase}”")
        groups.setdefault(new, []).append(n)
    ordered = sorted(groups.items(), key=lambda kv: kv[1][0])
    rest = {k: v for k, v in _patch(p, include_visual=False).items() if k != "duration_s"}
    return [_act("shot.update", shots=ns, patch={**rest, "duration_s": d}) for d, ns in ordered]


HANDLERS: tuple[tuple[str, Handler], ...] = (
    ("task.list", _h_task_list),
    ("task.cancel", _h_task_cancel),
    ("task.retry", _h_task_retry),
    ("version.rollback", _h_rollback),
    ("version.snapshot", _h_snapshot),
    ("shot.update(relative)", _h_relative_duration),
    ("project.create", _h_storyboard),
    ("export.package", _h_export),
    ("gen.compose", _h_compose),
    ("character", _h_character),
    ("scene", _h_scene),
    ("shot.reorder", _h_shot_reorder),
    ("shot.delete", _h_shot_delete),
    ("shot.merge", _h_shot_merge),
    ("shot.split", _h_shot_split),
    ("shot.add", _h_shot_add),
    ("node.reference", _h_reference),
    ("track.fork", _h_fork),
    ("gen.grid(iterate)", _h_iterate),
    ("track.switch", _h_switch),
    ("node.commit", _h_commit),
    ("node.favorite", _h_favorite),
    ("gen.video", _h_video),
    ("gen.voice", _h_voice),
    ("gen.music", _h_music),
    ("gen.grid", _h_grid),
    ("project.set_rules", _h_rules),
    ("project.update_meta", _h_meta),
    ("project.set_style", _h_style),
    ("shot.update", _h_shot_update),
)

# verb -> the handler that reads it from a sentence (agent/registry.py checks every verb has one)
PLANNER_ENTRIES: dict[str, Handler] = {
    "project.create": _h_storyboard,
    "project.update_meta": _h_meta,
    "project.set_style": _h_style,
    "project.set_rules": _h_rules,
    "character.create": _h_character,
    "character.update": _h_character,
    "character.attach_reference": _h_character,
    "character.lock": _h_character,
    "scene.add": _h_scene,
    "scene.update": _h_scene,
    "scene.reorder": _h_scene,
    "scene.delete": _h_scene,
    "shot.add": _h_shot_add,
    "shot.update": _h_shot_update,
    "shot.split": _h_shot_split,
    "shot.merge": _h_shot_merge,
    "shot.reorder": _h_shot_reorder,
    "shot.delete": _h_shot_delete,
    "gen.storyboard": _h_storyboard,
    "gen.grid": _h_grid,
    "gen.video": _h_video,
    "gen.voice": _h_voice,
    "gen.music": _h_music,
    "gen.compose": _h_compose,
    "track.fork": _h_fork,
    "track.switch": _h_switch,
    "node.commit": _h_commit,
    "node.reference": _h_reference,
    "node.favorite": _h_favorite,
    "task.status": _h_task_list,
    "task.list": _h_task_list,
    "task.cancel": _h_task_cancel,
    "task.retry": _h_task_retry,
    "version.snapshot": _h_snapshot,
    "version.rollback": _h_rollback,
    "export.package": _h_export,
}


# --------------------------------------------------------------------------------------------------
# Planner
# --------------------------------------------------------------------------------------------------

_NEXT_VERB = (
    r"(?:animate|generate|make|add|delete|remove|compose|cancel|stop|retry|export|download|commit|use|start|"
    r"iterate|switch|move|split|merge|set|change|render|create|lock|favou?rite|star|take|save|narrate)\b"
)
_CLAUSE_SPLIT = (
    r"\s*(?:[;；]|。(?=.)|\.\s+(?=[A-Za-z])|,?\s*\b(?:and\s+)?then\b|[,，]?\s*(?:然后|接着|之后再)"
    rf"|,?\s+and\s+(?:also\s+)?(?={_NEXT_VERB})"
    r"|[,，]?\s*(?:(?<!合)并且?|同时)(?=把|给|生成|合成|删除|取消|重试|导出|添加|加|做成|配|锁定|收藏))\s*"
)


_REMOVES_GENERATED = (  # a removal whose object is something generated, not a shot or a setting
    r"\b(?:remove|delete|drop|get rid of|lose|trash|erase|scrap)\s+"
    r"(?:the\s+|all\s+(?:the\s+)?|its\s+|that\s+)?"
    r"(?:\d+[- ]?|nine[- ]?|four[- ]?)?(?:videos?|clips?|animations?|grids?|images?|pictures?|renders?)\b"
    r"|(?:删掉|删除|去掉|拿掉)(?:了)?[^，,。；]{0,10}?的(?:视频|动画|宫格|九宫格|四宫格|图片)"
    r"|(?:视频|动画|宫格|九宫格|四宫格|图片)(?:都|也|就)?(?:删了|删掉|去掉|不要了|拿掉|删除)"
)
CONFIDENCE_THRESHOLD = 0.6
"""Below this confidence the planner asks (offering its reading as a choice) instead of acting."""
EXECUTE_AT = 0.85
"""Below this, a plan is proposed (confirmed first), never executed: a low-evidence reading
(unexplained words, a dropped part, a competing reading, a weak reference, typos) cannot run."""
READ_ONLY = frozenset({"task.list", "task.status"})
"""Reads change nothing: a low-confidence read is answered, not proposed."""
UNEXPLAINED_PENALTY = 0.3
"""What a reading that leaves part of the sentence unexplained loses (:mod:`coverage`)."""
_DESTRUCTIVE = {"shot.delete", "scene.delete", "shot.merge", "version.rollback"}
_COSTLY = {"gen.video", "gen.grid", "gen.voice", "gen.storyboard", "gen.compose", "gen.music"}
_GEN_VERB = (
    r"\b(?:animate|generate|render|regenerate|redo|draw|compose)\b|\b(?:make|create|turn)\b.{0,30}\b(?:clip|animation)\b"
    r"|生成|做成|制作|动起来|合成"
)
_TARGET_KEYS = {"shots", "shot", "track", "reason", "language", "kind", "size", "mode", "selection"}
_YES_ANSWER = (
    r"^\s*(?:y|yes|yep|yeah|sure|ok|okay|do it|go ahead|right|correct"
    r"|是的?|对|好的?|可以|行|没错)\s*[.!。！]*\s*$"
)


@dataclass
class _Reading:
    family: str
    actions: list[ActionDict]
    evidence: list[str]
    competing: list[_Reading] = field(default_factory=list)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(a["type"] for a in self.actions)


def _specificity(actions: list[ActionDict]) -> int:
    def leaves(v: Any) -> int:
        if isinstance(v, dict):
            return sum(leaves(x) for x in v.values())
        if isinstance(v, list):
            return sum(leaves(x) for x in v) if v and isinstance(v[0], dict) else int(bool(v))
        return int(v is not None and v != "")

    return sum(leaves(v) for a in actions for k, v in a["args"].items() if k not in _TARGET_KEYS)


def _risky(types: tuple[str, ...] | list[str]) -> bool:
    return any(t in _DESTRUCTIVE or t in _COSTLY for t in types)


def _unsupported(lang: Lang, text: str) -> Turn:
    """No action, and the 2–3 closest supported families. A wish the product cannot fulfil
    (posting, sending, buying …) is said so plainly, with exporting offered as the closest step."""
    wish = understand.is_unsupported_wish(text)
    tokens = set(re.findall(r"[a-z]+", text.lower()))
    scored: list[tuple[int, int, lx.FamilyHint]] = []
    for i, hint in enumerate(lx.FAMILY_HINTS):
        score = sum(1 for k in hint.keywords if (k in tokens if k.isascii() else k in text))
        scored.append((score, -i, hint))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    best = [h for s, _, h in scored if s > 0][:3]
    for default in ("project.create", "shot.update", "gen.grid"):
        if len(best) >= 2:
            break
        hint = next(h for h in lx.FAMILY_HINTS if h.family == default)
        if hint not in best:
            best.append(hint)
    if wish:
        export = next(h for h in lx.FAMILY_HINTS if h.family == "export.package")
        best = [export, *[h for h in best if h is not export]][:3]
    if lang == "zh":
        message = "我暂时还做不到。最接近的功能：" + "；".join(h.zh for h in best) + "。"
        if wish:
            message += "我不会替你发布、发送、分享或购买任何东西。"
    else:
        message = "I can't do that yet. Closest supported: " + "; ".join(h.en for h in best) + "."
        if wish:
            message += " I never post, send, share or buy anything for you."
    return Turn(
        mode="execute",
        intent="unsupported",
        actions=[],
        message=message,
        confidence=1.0 if wish else None,
        evidence=["a wish outside what DirectorDeck does (posting, sending, buying …)"] if wish else [],
        planner="offline",
    )


def _gap_note(gaps: coverage.Coverage, lang: Lang) -> str:
    """One line telling the user what the plan does not cover (so a confirm is an informed one)."""
    missing = [*gaps.unanswered, *(d.split("“")[-1].rstrip("”") for d in gaps.dropped), *gaps.unknown]
    said = _t(lang, ", ", "、").join(f"“{w}”" for w in missing[:4])
    return _t(lang, f" I'm not sure I covered {said}.", f"我不确定是否理解了{said}。")


def _no_action(intent: str, message: str, **extra: Any) -> Turn:
    return Turn(mode="execute", intent=intent, actions=[], message=message, planner="offline", **extra)


def _refusal(lang: Lang) -> Turn:
    return _no_action(
        "refused",
        _t(
            lang,
            "I can only change this workspace through its supported actions; "
            "I won't run commands, touch the database, skip confirmations or look at other users' data.",
            "我只能通过支持的操作修改当前工作区，不会执行命令、操作数据库、跳过确认或访问其他用户的数据。",
        ),
        confidence=1.0,
        evidence=["instruction override / command / other users' data: refused"],
    )


def _is_injection(text: str) -> bool:
    return lx.INJECTION_RE.search(text) is not None or understand.is_extra_injection(text)


def _parse_all(dicts: list[ActionDict], reason: str) -> list[AnyAction]:
    return [parse_action({**d, "reason": d.get("reason") or reason[:500]}) for d in dicts]


def _clip_evidence(evidence: list[str]) -> list[str]:
    return [e[:300] for e in dict.fromkeys(evidence)][:40]


class OfflinePlanner:
    """Maps a sentence to a :class:`Turn` with a fixed grammar; see the module docstring for rules.

    Every turn carries a ``confidence`` and ``evidence``; below :data:`CONFIDENCE_THRESHOLD` it
    asks one question offering its reading as a choice, and a clarifying question carries a
    :class:`~schema.actions.PendingQuestion` so the next sentence is read as the answer."""

    def plan(self, sentence: str, context: PlanningContext | dict[str, Any] | None = None) -> Turn:
        ctx = (
            context if isinstance(context, PlanningContext) else PlanningContext.model_validate(context or {})
        )
        text = _normalize(sentence)
        lang: Lang = language_of(text)
        if not text:
            return _no_action("clarify", "What would you like to do?")
        if _is_injection(text):
            return _refusal(lang)
        if ctx.question is not None:
            answered = self._answer(text, lang, ctx)
            if answered is not None:
                return answered
            ctx = ctx.model_copy(update={"question": None})
        return self._plan_sentence(text, lang, ctx)

    # --- a clarifying question's answer ---------------------------------------------------------

    def _answer(self, text: str, lang: Lang, ctx: PlanningContext) -> Turn | None:
        q = ctx.question
        assert q is not None
        base = ctx.model_copy(update={"question": None})
        if re.match(understand.NEVER_MIND, text, re.I):
            return _no_action(
                "cancelled",
                _t(lang, "OK, never mind: nothing was changed.", "好的，不改了，什么都没有变。"),
                confidence=1.0,
                evidence=[f"“{text}” declines the question about “{q.text[:120]}”"],
            )
        if q.kind == "choice":
            labels = [c.label for c in q.choices]
            idx = understand.choice_index(text, labels)
            if idx is None and len(labels) == 1 and re.match(_YES_ANSWER, text, re.I):
                idx = 0
            if idx is None:
                idx = self._restated_choice(text, lang, base, q.choices)
            if idx is None:
                return None
            choice = q.choices[idx]
            return self._finish(
                list(choice.actions),
                lang,
                base,
                evidence=[f"“{text}” picks choice {idx + 1}: {choice.label}"],
                confidence=0.95,
            )
        standalone = self._plan_sentence(text, lang, base)
        if standalone.actions:
            return standalone
        targets = self._answer_targets(text, lang, base)
        if targets is None:
            return None
        turn = self._plan_sentence(
            q.text,
            q.lang,
            base.model_copy(update={"answer_shots": targets}),
            evidence=[f"“{text}” read as the answer to “{q.text[:120]}”"],
        )
        return turn

    def _restated_choice(self, text: str, lang: Lang, ctx: PlanningContext, choices: list[Any]) -> int | None:
        """ "animate them" after "set the platform, or animate all shots?": the one choice whose
        actions the answer asks for again, read with that choice's shots as "them"."""
        fits = []
        for i, choice in enumerate(choices):
            acts = [a if isinstance(a, dict) else a.model_dump(mode="json") for a in choice.actions]
            shots = next(
                (a.get("args", {}).get("shots") for a in acts if a.get("args", {}).get("shots")), None
            )
            turn = self._plan_sentence(
                text, lang, ctx.model_copy(update={"carried": shots}) if shots else ctx
            )
            if turn.actions and [a.type for a in turn.actions] == [a["type"] for a in acts]:
                fits.append(i)
        return fits[0] if len(fits) == 1 else None

    def _answer_targets(self, text: str, lang: Lang, ctx: PlanningContext) -> Targets | None:
        total = ctx.workspace.shots
        ex = understand.extract_exceptions(text, total)
        if ex.excluded and total and re.match(understand.ALL_ANSWER, ex.text.lower()):
            return [n for n in range(1, total + 1) if n not in ex.excluded]  # "all of them except the first"
        if re.match(understand.ALL_ANSWER, text.lower()):
            return "all"
        p = Parsed(text, lang)
        try:
            if p.shots is not None or p.desc is not None or p.from_end or p.last_n or p.last_shot or p.scenes:
                return _targets(p, ctx, implicit_focus=False)
        except _Stop:
            return None
        cleaned = re.sub(
            r"\b(?:just|only|the|shots?|please|pls|ones?|those|numbers?|both)\b|只要|就|镜头|分镜|第|个",
            " ",
            re.sub(r"(?<=[^\s到至~-])\s*第", ",", p.text),  # "第一第二": a list
        )
        if re.search(r"[a-z]{2,}", re.sub(r"\b(?:and|to|through)\b", " ", cleaned)):
            return None
        numbers = parse_number_list(cleaned.strip())
        if not numbers:
            return None
        try:
            return _check_shots(p, ctx, numbers)
        except _Stop:
            return None

    # --- one sentence ---------------------------------------------------------------------------

    def _plan_sentence(
        self, text: str, lang: Lang, ctx: PlanningContext, *, evidence: list[str] | None = None
    ) -> Turn:
        evidence = list(evidence or [])
        repair = understand.repair_typos(text)
        evidence += repair.evidence
        fixed = repair.text
        if _is_injection(fixed):
            return _refusal(lang)
        if understand.is_cost_question(fixed):
            return _no_action(
                "clarify",
                _t(
                    lang,
                    "I can't quote costs or times in chat; a costly request is shown as a proposal with its "
                    'estimated cost before anything runs. Say what to do (e.g. "animate all shots").',
                    "我没法在聊天里报价或估时间；耗费较大的操作会先给出带预估成本的提议，确认后才执行。请直接说要做什么（例如“所有分镜生成视频”）。",
                ),
                confidence=1.0,
                evidence=["a question about cost or time, not a request"],
            )
        fixed = _scene_exceptions(fixed, ctx)
        fixed = _description_exceptions(fixed, ctx)
        fixed = _scene_relative_shots(fixed, ctx)
        fixed = _bare_event_shots(fixed, ctx)
        exceptions = understand.extract_exceptions(fixed, ctx.workspace.shots)
        if exceptions.excluded or exceptions.in_scope:
            ctx = ctx.model_copy(
                update={"excluded": exceptions.excluded, "excluded_in_scope": exceptions.in_scope}
            )
            evidence += exceptions.evidence
        body, padding = understand.strip_padding(exceptions.text)
        evidence += padding
        if re.search(r"\bshots?\s*#?\s*\d", body):  # "don't animate shot 5, just animate 6": 6 is a shot too
            body = re.sub(
                r"\b(animate|narrate|delete|remove)\s+(\d{1,3})\b(?!\s*(?:shots?|images?|pics?|more|of|times|s|secs?|seconds?)\b)",
                r"\1 shot \2",
                body,
                flags=re.I,
            )
        whole = Parsed(body, lang)
        data = re.sub(r"^\s*(?:shots?\s*#?\s*\d+|第\S{1,3}个(?:镜头|分镜))\s*[:：]", "", body, flags=re.I)
        pieces = (
            [body]
            if _looks_like_storyboard(whole) or re.search(r'[:："「]', data)
            else understand.segment(body)
        )
        if (
            len(pieces) == 1
            and pieces[0] == body
            and re.search(r'[:："「]', data)
            and not _looks_like_storyboard(whole)
        ):
            pieces = _split_after_text(body)
        pieces = _fold_modifiers(pieces)
        pieces = _join_replacements(pieces)
        pieces, redirected = understand.redirect_negation(pieces)
        evidence += redirected
        actions: list[AnyAction] = []
        unread: list[str] = []
        skipped: list[str] = []
        competing: list[_Reading] = []
        planned: list[str] = []
        derived: list[str] = []
        remarks: list[str] = []
        queue = list(pieces or [body])
        while queue:
            piece = queue.pop(0)
            clause = _with_cell_positions(Parsed(piece, lang), ctx)
            if understand.is_negated(piece) and not self._is_rule(clause, ctx):
                skipped.append(piece)
                evidence.append(f"skipped “{piece}” (you said not to)")
                continue
            if understand.is_unsupported_wish(piece):
                unread.append(piece)
                continue
            if understand.is_remark(piece):  # "I love the music", "how do I export?": asks for nothing
                reading = None
            else:
                try:
                    reading = self._plan_clause(clause, ctx)
                except _Stop as stop:
                    return self._stop_turn(stop, text, lang, evidence)
            if reading is None:
                if queue and not re.match(understand.VERB_EN, clause.head):
                    after = Parsed(queue[0], lang)
                    if (
                        isinstance(after.shots, list)
                        or after.cells
                        or after.scenes
                        or understand.is_remark(piece)
                    ):
                        remarks.append(piece)  # "shot 3 looks great, now animate shot 5": a comment
                        continue
                    # "shot 10 feels rushed, give it one more second", "image 4 is what Mia looks
                    # like, use it as her reference": a remark is read with the clause after it
                    joiner = "，" if has_cjk(piece + queue[0]) else ", "
                    queue[0] = piece + joiner + queue[0]
                    continue
                unread.append(piece)
                continue
            try:
                new = _parse_all(reading.actions, clause.cased)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"][-2:])
                return _no_action(
                    "invalid",
                    _t(
                        lang,
                        f"I couldn't build a valid action ({where}: {first['msg']}).",
                        f"无法生成有效的操作（{where}：{first['msg']}）。",
                    ),
                )
            evidence += [f"{reading.family} ← “{piece[:80]}”", *reading.evidence]
            planned.append(piece)
            derived += reading.evidence
            competing += reading.competing
            new = _merge_repeats(actions, new)
            new = _voice_the_new_line(actions, new, piece)
            actions.extend(new)
            ctx = _carry_focus(ctx, new)
        if remarks and not actions and not unread:
            return _no_action(
                "clarify",
                _t(
                    lang,
                    "Noted — nothing was changed. Tell me what to do, e.g. “make shot 2 night”, "
                    "“animate shots 1–3”, “compose a preview”.",
                    "好的，什么都没有改。需要我做什么请直接说，例如“把第2个镜头改成夜景”“第1到3个镜头生成视频”“合成预览”。",
                ),
                confidence=1.0,
                evidence=_clip_evidence(
                    [*evidence, *(f"a remark, not a request: “{r[:80]}”" for r in remarks)]
                ),
            )
        if remarks and not actions:
            unread += remarks
        planned += remarks  # the coverage check still reads them
        if unread and actions:
            return self._ask_partial(actions, unread, lang, evidence)
        if unread:
            return _unsupported(lang, unread[0])
        if not actions:
            if skipped:
                return _no_action(
                    "no_action",
                    _t(lang, "OK, I won't do that; nothing was changed.", "好的，不做，什么都没有改。"),
                    confidence=0.9,
                    evidence=_clip_evidence(evidence),
                )
            return _unsupported(lang, text)
        confidence = 1.0 - 0.1 * min(repair.typos, 3)
        if any("guess: fuzzy" in e for e in evidence):
            confidence -= 0.25
        if re.search(r"\bfrom above\b|\bfrom the top\b", fixed, re.I) and "'angle': 'high'" in str(
            [a.model_dump(mode="json") for a in actions]
        ):  # high angle or straight overhead: people mean both, so it is confirmed first
            confidence -= 0.25
            evidence.append("guess: “from above” read as a high angle (overhead is “straight down”)")
        gaps = coverage.measure(
            " ".join(planned),
            [a.model_dump(mode="json", by_alias=True) for a in actions],
            ctx,
            derived=derived,
        )
        if gaps.gaps:
            confidence -= UNEXPLAINED_PENALTY
            evidence += gaps.evidence()
        if competing:
            confidence -= 0.2
            evidence += [f"also possible: {' + '.join(r.types)}" for r in competing]
            if _risky([a.type for a in actions]) or any(_risky(r.types) for r in competing):
                first = [a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in actions]
                return self._ask_choices([first, *[r.actions for r in competing]], text, lang, ctx, evidence)
        turn = self._finish(actions, lang, ctx, evidence=evidence, confidence=round(max(confidence, 0.0), 2))
        if gaps.gaps and turn.actions:
            turn = turn.model_copy(update={"message": (turn.message + _gap_note(gaps, lang))[:2000]})
        return turn

    @staticmethod
    def _is_rule(clause: Parsed, ctx: PlanningContext) -> bool:
        try:
            return _h_rules(clause, ctx) is not None
        except _Stop:
            return True

    def _plan_clause(self, p: Parsed, ctx: PlanningContext) -> _Reading | None:
        """Every handler reads the clause; the first reading wins unless a later one of another
        family explains more of it (a setting over a generation nobody asked for)."""
        if (
            re.search(_REMOVES_GENERATED, p.text)
            and not p.has(_TASK_WORDS)
            and not p.has(r"\b(?:cancel|stop|kill|abort|halt)\b|取消|停掉|停止|停下|停了|别跑")
        ):
            # "delete the video of shot 5", "第四个镜头的九宫格删了": not a new one, nor the shot
            raise _Stop(
                "clarify",
                p.t(
                    "I can't delete a generated video, grid or image yet. To go back to the state before "
                    'it, say e.g. "undo the last change"; to stop one running, "cancel the video jobs".',
                    "暂时不能删除已生成的视频、宫格或图片。想回到之前的状态可以说“撤销上一步”；"
                    "想停掉还在跑的，可以说“取消视频任务”。",
                ),
            )
        readings: list[_Reading] = []
        first_stop: _Stop | None = None
        for family, handler in HANDLERS:
            p.evidence = []
            try:
                result = handler(p, ctx)
            except _Stop as stop:
                if stop.intent == "out_of_range" and not readings:
                    raise  # the sentence names something that does not exist: say so
                first_stop = first_stop or stop
                continue
            if result:
                readings.append(_Reading(family, result, list(p.evidence)))
        if not readings:
            if first_stop is not None:
                raise first_stop
            return None
        pick = readings[0]
        others = [r for r in readings[1:] if r.types[0].split(".")[0] != pick.types[0].split(".")[0]]
        if pick.types[0].startswith("gen.") and not p.has(_GEN_VERB):
            setting = next((r for r in others if r.types[0].startswith("project.")), None)
            if setting is not None:
                setting.evidence.append(f"a setting, not {pick.types[0]} (no generation verb)")
                others = [r for r in others if r is not setting]
                pick = setting
        spec = _specificity(pick.actions)
        pick.competing = [r for r in others if _specificity(r.actions) > max(spec, 1)]
        return pick

    # --- turns ----------------------------------------------------------------------------------

    def _finish(
        self,
        actions: list[AnyAction] | list[dict[str, Any]],
        lang: Lang,
        ctx: PlanningContext,
        *,
        evidence: list[str],
        confidence: float,
    ) -> Turn:
        parsed = [a if not isinstance(a, dict) else parse_action(a) for a in actions]
        intent = " + ".join(dict.fromkeys(a.type for a in parsed))[:200]
        turn = Turn(mode="execute", intent=intent, actions=parsed, message="")
        mode = turn.decide_mode()
        touched: set[int] = set()
        for a in parsed:
            if a.type == "shot.update":
                shots = a.args.shots  # type: ignore[union-attr]
                touched.update(range(10_000) if shots == "all" else shots)
        if len(touched) > 1:
            mode = "propose"
        if confidence < EXECUTE_AT and not all(a.type in READ_ONLY for a in parsed):
            mode = "propose"
            evidence = [*evidence, f"confidence {confidence:.2f} < {EXECUTE_AT}: proposed, not executed"]
        types = {a.type for a in parsed}
        if "gen.storyboard" in types and "project.create" not in types and ctx.workspace.shots:
            mode = "propose"  # a new storyboard replaces the shots of this project
        described = [describe(a, lang) for a in parsed]
        if confidence < CONFIDENCE_THRESHOLD:
            label = _t(lang, "; ".join(described), "；".join(described))[:200]
            return _no_action(
                "clarify",
                _t(lang, f"Did you mean: {label}? (yes / no)", f"你的意思是：{label}？（是 / 不是）"),
                confidence=confidence,
                evidence=_clip_evidence(evidence),
                question=PendingQuestion(
                    kind="choice",
                    text=intent or "?",
                    lang=lang,
                    choices=[
                        {
                            "label": label,
                            "actions": [a.model_dump(mode="json", by_alias=True) for a in parsed],
                        }
                    ],
                ),
            )
        message = _t(lang, "; ".join(described) + ".", "；".join(described) + "。")
        if mode == "propose":
            message += _t(
                lang,
                " This needs your confirmation; a snapshot is taken first so it can be undone.",
                "此操作需要你确认；执行前会先保存快照，可随时回退。",
            )
        return turn.model_copy(
            update={
                "mode": mode,
                "message": message[:2000],
                "confidence": confidence,
                "evidence": _clip_evidence(evidence),
                "planner": "offline",
            }
        )

    def _stop_turn(self, stop: _Stop, text: str, lang: Lang, evidence: list[str]) -> Turn:
        question = PendingQuestion(kind="shots", text=text[:4000], lang=lang) if stop.ask_shots else None
        return _no_action(stop.intent, stop.message, evidence=_clip_evidence(evidence), question=question)

    def _ask_partial(
        self, actions: list[AnyAction], unread: list[str], lang: Lang, evidence: list[str]
    ) -> Turn:
        described = _t(
            lang,
            "; ".join(describe(a, lang) for a in actions),
            "；".join(describe(a, lang) for a in actions),
        )
        what = "”, “".join(u[:80] for u in unread)
        cant = understand.is_unsupported_wish(" ".join(unread))
        message = _t(
            lang,
            f"I can do this: {described}. "
            + (f"I can't do “{what}”." if cant else f"I didn't understand “{what}”.")
            + " Should I do just the first part? (yes / no)",
            f"我可以做：{described}。"
            + (f"但“{what}”我做不到。" if cant else f"但我没看懂“{what}”。")
            + "只做前面的部分吗？（是 / 不是）",
        )
        choice = {
            "label": described[:200],
            "actions": [a.model_dump(mode="json", by_alias=True) for a in actions],
        }
        return _no_action(
            "clarify",
            message[:2000],
            confidence=0.5,
            evidence=_clip_evidence([*evidence, *(f"could not read “{u[:120]}”" for u in unread)]),
            question=PendingQuestion(
                kind="choice", text=" ".join(unread)[:4000], lang=lang, choices=[choice]
            ),
        )

    def _ask_choices(
        self,
        readings: list[list[ActionDict]],
        text: str,
        lang: Lang,
        ctx: PlanningContext,
        evidence: list[str],
    ) -> Turn:
        choices = []
        for acts in readings[:3]:
            parsed = _parse_all(acts, text)
            label = _t(
                lang,
                "; ".join(describe(a, lang) for a in parsed),
                "；".join(describe(a, lang) for a in parsed),
            )
            choices.append(
                {"label": label[:200], "actions": [a.model_dump(mode="json", by_alias=True) for a in parsed]}
            )
        listed = " ".join(f"{i}) {c['label']}" for i, c in enumerate(choices, 1))
        return _no_action(
            "clarify",
            _t(lang, f"Which do you mean? {listed}. Say 1 or 2.", f"你是指哪一个？{listed}。请回复1或2。")[
                :2000
            ],
            confidence=0.5,
            evidence=_clip_evidence(evidence),
            question=PendingQuestion(kind="choice", text=text[:4000], lang=lang, choices=choices),
        )


_MODIFIER_CLAUSE = (
    r"^(?:but\s+|and\s+)?(?:make|keep|have|let)\s+(?:it|them|those|these|the (?:images?|pictures?|grid))\s+"
    r"(?:feel|look|seem|more|less|a (?:bit|little)|kind of|sort of|really|very|extra|super|slightly)\b"
    r"|^(?:感觉|要|再)?(?:更|稍微|有点|带点|带一点)\S{1,8}(?:一点|一些|些)?$|^换(?:个|种|一种)(?:感觉|风格|氛围)"
    r"|^(?:但是?|不过)?(?:改成|换成|变成|弄成|要)[\u4e00-\u9fff]{1,6}$"
    r"|^(?:再)?(?:加|来|带)(?:一)?(?:点|些)[\u4e00-\u9fff]{1,10}$|^[\u4e00-\u9fff]{1,10}的感觉$"
    r"|^(?:but\s+)?(?:make|keep)\s+(?:it|them)\s+(?:more\s+)?[a-z]+(?:\s+[a-z]+)?$"
)
_CONFIRM_TAIL = (
    r"^(?:(?:so\s+)?(?:can|could|would|will) you\s+|please\s+)?"
    r"(?:change|do|fix|make|update|apply)\s+(?:that|it|this)"
    r"(?:\s+(?:happen|so|for me|please))?\s*[?.!]*$|^(?:make it so|do it|go for it)\s*[?.!]*$"
    r"|^(?:帮我)?(?:改一下|弄一下|改吧|就这么改|照这个改)(?:吧|呗)?[。！]?$"
)
_REASON_CLAUSE = (
    r"^(?:it'?s|that'?s|this is|since|because|cause|cuz|as it'?s)\b|^(?:因为|毕竟|这样)"
    # "…? It keeps drifting between shots.": why, said after the request
    r"|^(?:it|they|he|she|that|this)\s+(?:keeps?|kept|always|still|never|tends? to)\s+[a-z]+ing\b"
    r"|^(?:老是|总是|一直)(?:在)?[^，,。]{1,10}$"
)


_REPLACES = r"^(?:改成|换成|改为|变成|换为|要|instead\b|make it\b|change it to\b|go with\b|use\b)"
_TAKES_AWAY = r"不要|别要|别用|不用|别再用|去掉|拿掉|\bno more\b|\bremove\b|\bget rid of\b|\bnot\b"


def _join_replacements(pieces: list[str]) -> list[str]:
    """ "第二个镜头不要夜景了，改成黄昏", "no more night on shot 2, make it dusk instead": the value
    taken away and the one that replaces it are one change."""
    out: list[str] = []
    for piece in pieces:
        if out and re.search(_TAKES_AWAY, out[-1].lower()) and re.match(_REPLACES, piece.strip().lower()):
            out[-1] = out[-1].rstrip(" ,，") + ("，" if has_cjk(out[-1] + piece) else ", ") + piece.strip()
            continue
        out.append(piece)
    return out


_AFTER_TEXT = (
    r"(?:[.!?。！？]\s*|[,，]\s*|\s+)(?:and\s+)?(?:then|after that|afterwards)\s+"
    rf"(?=(?:{understand.VERB_EN}|record|dub|read)\s+(?:it|them|that|this|the|shots?|#?\d|all)\b)"
    r"|[.!?。！？,，\s]\s*(?:然后|接着|之后|再)\s*(?=(?:直接|顺便|马上)?(?:生成|配|合成|录|做|给|把|导出))"
)


def _split_after_text(body: str) -> list[str]:
    """ "narration for shot 1: Long ago … everyone. then voice it": free text ends where a sequenced
    request with its own verb starts; the text stays whole, the request is its own clause."""
    found = list(re.finditer(_AFTER_TEXT, body, re.I))
    m = found[-1] if found else None
    if m is None or len(body[m.end() :].split()) > 8:
        return [body]
    keep = 1 if body[m.start()] in "!?！？" else 0  # the line's own "!" / "?" is part of it
    head, tail = body[: m.start() + keep].strip(), body[m.end() :].strip()
    return [head, tail] if head and tail else [body]


def _fold_modifiers(pieces: list[str]) -> list[str]:
    """ "9-grid for shot 4, make it feel colder": a clause that only says how the images should
    feel, right after a grid request, is that grid's modifier (it extends the description)."""
    out: list[str] = []
    for piece in pieces:
        if out and re.match(
            _CONFIRM_TAIL, piece.strip().lower()
        ):  # "…, can you change that": the same request
            continue
        if out and re.search(_REASON_CLAUSE, piece.strip().lower()):  # "…, it's cheaper": a reason
            out[-1] = out[-1].rstrip(" ,，") + ("，" if has_cjk(out[-1] + piece) else ", ") + piece.strip()
            continue
        if (
            out
            and re.search(f"{_GRID_TRIGGER}|{_ITERATE_TRIGGER}", out[-1].lower())
            and re.search(_MODIFIER_CLAUSE, piece.strip().lower())
            and not re.search(r"\bshots?\s*#?\s*\d|第\S{1,3}个", piece.lower())
        ):
            joiner = "，" if has_cjk(out[-1] + piece) else " but "
            out[-1] = out[-1].rstrip(" ,，") + joiner + piece.strip()
            continue
        out.append(piece)
    return out


def _voice_the_new_line(done: list[AnyAction], new: list[AnyAction], piece: str) -> list[AnyAction]:
    """ "shot 4 dialogue: Give it back! then record it": recording right after a new line records that
    line's kind (dialogue or narration) unless the clause names one."""
    if not done or len(new) != 1 or new[0].type != "gen.voice" or done[-1].type != "shot.update":
        return new
    if re.search(r"\bnarrat|\bdialog|旁白|台词|对白|解说", piece, re.I):
        return new
    patch = done[-1].args.patch.model_dump(exclude_none=True)  # type: ignore[union-attr]
    if "dialogue" in patch and "narration" not in patch:
        args = {**new[0].args.model_dump(exclude_none=True, by_alias=True), "kind": "dialogue"}
        return [parse_action({"type": "gen.voice", "args": args, "reason": new[0].reason})]
    return new


def _merge_repeats(done: list[AnyAction], new: list[AnyAction]) -> list[AnyAction]:
    """ "narrate shot 5 and give it a female voice": a clause that repeats the previous action on
    the same targets refines it (its arguments are added) instead of running it twice."""
    if not done or len(new) != 1 or new[0].type != done[-1].type:
        return new
    last, again = done[-1], new[0]
    if last.args == again.args:  # "I like number 2 best, go with that one": said twice, done once
        return []
    if getattr(last.args, "shots", None) != getattr(again.args, "shots", None):
        return new
    if again.type == "shot.update":  # "第4个镜头改成夜景，加一盏路灯": one patch for the same shots
        before = last.args.patch.model_dump(exclude_none=True, by_alias=True)  # type: ignore[union-attr]
        added = again.args.patch.model_dump(exclude_none=True, by_alias=True)  # type: ignore[union-attr]
        patch = {**before, **added}
        if isinstance(before.get("camera"), dict) and isinstance(added.get("camera"), dict):
            patch["camera"] = {**before["camera"], **added["camera"]}  # "大远景，再加个慢慢推进": both
        done[-1] = parse_action(
            {"type": "shot.update", "args": {"shots": last.args.shots, "patch": patch}, "reason": last.reason}
        )  # type: ignore[union-attr]
        return []
    if not new[0].type.startswith("gen."):
        return new
    merged = {
        **last.args.model_dump(exclude_none=True, by_alias=True),
        **again.args.model_dump(exclude_none=True, exclude_defaults=True, by_alias=True),
    }
    done[-1] = parse_action({"type": last.type, "args": merged, "reason": last.reason})
    return []


def _carry_focus(ctx: PlanningContext, actions: list[AnyAction]) -> PlanningContext:
    """Later clauses ("…, then animate it/them") refer to the shots the previous clause named."""
    named: list[int] = []
    for a in actions:
        shots = getattr(a.args, "shots", None)
        shot = getattr(a.args, "shot", None)
        if shots == "all":
            return ctx.model_copy(update={"carried": "all"})
        if isinstance(shots, list):
            named.extend(n for n in shots if n not in named)
        elif isinstance(shot, int) and shot not in named:
            named.append(shot)
    cells = [getattr(a.args, "cell", None) for a in actions]
    cell = next((c for c in reversed(cells) if isinstance(c, int)), None)
    if cell is not None:
        ctx = ctx.model_copy(update={"carried_cell": cell})
    if not named:
        return ctx
    update: dict[str, Any] = {
        "carried": sorted(named),
        "named_before": sorted({*ctx.named_before, *named}),
    }
    if len(named) == 1:
        update["focus"] = ctx.focus.model_copy(update={"shot": named[0]})
    return ctx.model_copy(update=update)


understand.register_known_words(Path(__file__).read_text(encoding="utf-8"))
understand.register_known_words(Path(lx.__file__).read_text(encoding="utf-8"))


def plan(sentence: str, context: PlanningContext | dict[str, Any] | None = None) -> Turn:
    """Convenience wrapper around :meth:`OfflinePlanner.plan`."""
    return OfflinePlanner().plan(sentence, context)


__all__ = [
    "FocusInfo",
    "GridInfo",
    "OfflinePlanner",
    "Parsed",
    "PlanningContext",
    "SnapshotInfo",
    "TaskCounts",
    "WorkspaceInfo",
    "plan",
]
