"""Sentence-level understanding that runs before the per-clause grammar of the offline planner.

Rules:
- every rewrite leaves *evidence* (a short "what → why" line) so a plan can say how it was read;
- typo repair uses rapidfuzz (Damerau–Levenshtein) against the planner's own vocabulary, only for
  words the vocabulary and a list of common English look-alikes do not know, never for short words;
- a wish the product cannot fulfil (post to a platform, e-mail, print, order, pay) is recognised
  as such: it is refused, never mapped to the nearest supported verb;
- exceptions ("all shots except 3", "don't touch shot 4", "除了第4个") become an excluded-shot set,
  and a clause that only says what NOT to do is dropped, never executed;
- clause splitting keeps a segment that has its own verb or target, and folds a bare modifier
  ("keep it simple", "低角度", "1080p") back into the clause before it.
"""

from __future__ import annotations

import ast
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from agent.planner import rx as re
from agent.planner.numbers import NUM, ORD, parse_int, parse_number_list, parse_ordinal

# --- typo repair ------------------------------------------------------------------------------

VOCABULARY: tuple[str, ...] = tuple(
    [
        "shot",
        "shots",
        "scene",
        "scenes",
        "night",
        "animate",
        "generate",
        "regenerate",
        "narrate",
        "narration",
        "delete",
        "remove",
        "cancel",
        "retry",
        "compose",
        "preview",
        "video",
        "everything",
        "checkpoint",
        "videos",
        "grid",
        "grids",
        "storyboard",
        "snapshot",
        "rollback",
        "favorite",
        "favourite",
        "reference",
        "character",
        "rainy",
        "snowy",
        "foggy",
        "stormy",
        "sunset",
        "sunrise",
        "dawn",
        "dusk",
        "moonlight",
        "closeup",
        "angle",
        "seconds",
        "second",
        "shorter",
        "longer",
        "images",
        "image",
        "pictures",
        "picture",
        "music",
        "voice",
        "voiceover",
        "export",
        "download",
        "split",
        "merge",
        "switch",
        "track",
        "branch",
        "commit",
        "iterate",
        "jobs",
        "tasks",
        "running",
        "failed",
        "subtitles",
        "neon",
        "lighting",
        "dreamy",
        "cheerful",
        "tense",
        "through",
        "except",
        "faster",
        "slower",
        "render",
        "final",
        "should",
        "would",
        "could",
        "please",
        "change",
        "make",
        "every",
        "create",
        "project",
        "style",
        "watercolor",
        "golden",
        "evening",
        "morning",
        "afternoon",
        "cinematic",
        "dramatic",
        "romantic",
        "mysterious",
        "melancholic",
        "eerie",
        "handheld",
        "tracking",
        "overhead",
        "narrator",
        "animation",
        "generation",
        "thunderstorm",
        "lonelier",
        "opening",
        "penultimate",
        "record",
        "dialogue",
        "insert",
        "shorten",
        "lengthen",
        "soundtrack",
        "orbit",
        "crane",
        "dolly",
        "last",
        "first",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "twelve",
        "eleven",
        "three",
        "seven",
        "eight",
    ]
)
# real words one edit away from a vocabulary word: never "repaired"
COMMON_WORDS = frozenset(
    [
        "short",
        "shoot",
        "shut",
        "shop",
        "show",
        "shout",
        "spot",
        "slot",
        "host",
        "shots'",
        "shoots",
        "sort",
        "shit",
        "might",
        "light",
        "right",
        "sight",
        "fight",
        "tight",
        "eight",
        "nigh",
        "knight",
        "nights",
        "fright",
        "grip",
        "grim",
        "grin",
        "grit",
        "arid",
        "rid",
        "grind",
        "gird",
        "down",
        "drawn",
        "lawn",
        "damn",
        "darn",
        "dean",
        "dark",
        "desk",
        "disk",
        "duck",
        "dust",
        "husk",
        "musk",
        "noon",
        "neo",
        "moon",
        "nylon",
        "sense",
        "dense",
        "terse",
        "tease",
        "tenth",
        "tenses",
        "entry",
        "retro",
        "verge",
        "merged",
        "emerge",
        "movie",
        "movies",
        "more",
        "mode",
        "love",
        "mood",
        "moves",
        "mover",
        "seen",
        "scent",
        "scenic",
        "scare",
        "scent",
        "rain",
        "rainy",
        "snow",
        "foggy",
        "fog",
        "vide",
        "vid",
        "side",
        "wide",
        "ride",
        "hide",
        "tide",
        "voices",
        "choice",
        "noise",
        "trace",
        "race",
        "tracks",
        "trick",
        "truck",
        "image",
        "imagine",
        "second",
        "seconds",
        "secondly",
        "make",
        "made",
        "male",
        "mate",
        "mike",
        "jobs",
        "joke",
        "jog",
        "change",
        "chance",
        "charge",
        "style",
        "stale",
        "stile",
        "last",
        "lost",
        "list",
        "east",
        "fast",
        "past",
        "vast",
        "cast",
        "first",
        "fist",
        "should",
        "shoulder",
        "could",
        "cloud",
        "would",
        "world",
        "every",
        "very",
        "ever",
        "split",
        "spilt",
        "spit",
        "final",
        "finale",
        "music",
        "musical",
        "angle",
        "angel",
        "ankle",
        "single",
        "jangle",
        "dawn",
        "drawn",
        "dusk",
        "sunset",
        "unset",
        "render",
        "tender",
        "fender",
        "lender",
        "sender",
        "export",
        "expert",
        "merge",
    ]
)
_SYNONYMS = {
    "regen": "regenerate",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "ur": "your",
    "teh": "the",
    "wud": "would",
    "cud": "could",
    "shud": "should",
    "wanna": "want to",
    "gimme": "give me",
    "lemme": "let me",
    "nite": "night",
    "tonite": "tonight",
    "vid": "video",
}
_ZH_TYPOS = {
    "分境": "分镜",
    "分竟": "分镜",
    "境头": "镜头",
    "镜投": "镜头",
    "竟头": "镜头",
    "视屏": "视频",
    "预栏": "预览",
    "宫隔": "宫格",
    "旁百": "旁白",
}


@dataclass
class Repair:
    text: str
    evidence: list[str] = field(default_factory=list)
    typos: int = 0


_KNOWN: set[str] = set()


def string_constants(source: str) -> Iterator[str]:
    """The string constants of a Python source, docstrings left out (the grammar's own words)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def register_known_words(source: str) -> None:
    """Words the grammar itself uses (the string constants of its source): never "repaired"."""
    for value in string_constants(source):
        words = re.sub(r"\\[A-Za-z]", " ", value)  # regex escapes: "\\bstitch" is "stitch"
        _KNOWN.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", words))


def _max_distance(word: str) -> int:
    return 1 if len(word) <= 7 else 2


def _plausible_typo(word: str, candidate: str) -> bool:
    """People keep the first letter; a 4-letter word only counts as a typo when its letters are
    swapped ("shto"), so "lake" never becomes "make"."""
    if word[0] != candidate[0]:
        return False
    if len(word) == 4:  # a swap ("shto"), or one letter left out ("splt")
        it = iter(candidate)
        dropped = len(candidate) == 5 and all(ch in it for ch in word)
        return sorted(word) == sorted(candidate) or dropped
    return True


def repair_typos(text: str) -> Repair:
    """Fix misspelt domain words ("shto" → "shot", "nigth" → "night") and Chinese homophones."""
    out = Repair(text)
    for wrong, right in _ZH_TYPOS.items():
        if wrong in out.text:
            out.text = out.text.replace(wrong, right)
            out.evidence.append(f"“{wrong}” read as “{right}” (typo)")
            out.typos += 1
    vocab = set(VOCABULARY)

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower()
        if low in _SYNONYMS:
            return _SYNONYMS[low]
        if len(low) < 4 or low in vocab or low in COMMON_WORDS or not low.isalpha():
            return word
        if low in _KNOWN or low + "s" in vocab or (low.endswith("s") and low[:-1] in vocab):
            return word  # a word the grammar knows, or a plural/singular of one
        best = process.extractOne(
            low, VOCABULARY, scorer=DamerauLevenshtein.distance, score_cutoff=_max_distance(low)
        )
        if best is None or best[1] == 0 or not _plausible_typo(low, str(best[0])):
            return word
        out.evidence.append(f"“{word}” read as “{best[0]}” (typo)")
        out.typos += 1
        return str(best[0])

    out.text = re.sub(r"[A-Za-z]+", fix, out.text)
    return out


# --- wishes the product cannot fulfil, and injection the lexicon misses -----------------------

UNSUPPORTED = (
    r"\b(?:share|post|upload|publish|send|tweet|email|e-mail|mail|dm|message)\b.{0,40}"
    r"\b(?:to|on|onto|via|with)\b.{0,30}"
    r"\b(?:instagram|insta|tiktok|douyin|youtube|facebook|twitter|x\.com|weibo|bilibili|wechat|"
    r"my \w+|the \w+ (?:team|group|channel)|producer|boss|agent|editor|client|friends?|email)\b"
    r"|\b(?:share|post|upload|publish|tweet)\b.{0,30}\b(?:online|publicly|everywhere|it)\b"
    r"|\b(?:email|e-mail|mail|tweet|text|dm)\s+(?:it|this|the|my|them)\b"
    r"|\bprint\b|\bpdf\b|\border\b.{0,15}\b(?:pizza|food|lunch|dinner|coffee)\b|\bpizza\b"
    r"|\b(?:hire|book|schedule|invite)\b.{0,30}\b(?:actor|studio|crew|meeting|call|room|flight|someone|people)\b"
    r"|\b(?:word|excel|powerpoint|keynote) (?:doc|document|file)\b|\bdesktop\b|\bhard drive\b|\bon disk\b"
    r"|\b(?:usb|dropbox|google drive|icloud|onedrive)\b|机票|订票|预订|聘请|雇|桌面上|硬盘|网盘|u盘"
    r"|\bbuy\b|\bpurchase\b|\bpay\b|\bcredits?\b|\bsubscription\b|\brefund\b"
    r"|\bweather\b|\bstock price|\bgo viral\b|\bviral\b|\bremind me\b"
    r"|\bcall (?:my|the)\b(?!\s+(?:project|video|film|movie|scene|shot|track|character|story))"
    r"|\btranslate\b|\bin (?:french|german|spanish|japanese|korean|russian|italian)\b"
    r"|发到(?!.{0,3}(?:分镜|镜头))|发布到|上传到|上传至|分享到|分享给|发给|转发|发邮件|邮件|朋友圈|"
    r"打印|订(?:个|一份)?外卖|外卖|充值|付款|购买|买点|天气|打电话|翻译成|提醒我|上热门"
)
EXTRA_INJECTION = (
    r"^\s*(?:system|assistant|developer)\s*:|\bskip (?:the )?confirm|\bwithout (?:asking|confirm)"
    r"|\bdeveloper mode\b|\badmin(?:istrator)? mode\b|\byou are (?:now )?(?:an? )?(?:admin|root|unrestricted)"
    r"|\bpretend (?:you|that)\b|\bno rules\b|\bact as\b|\beveryone'?s\b"
    r"|\b(?:reveal|print|show|leak)\b.{0,20}\b(?:api[- ]?key|secret|token|prompt)\b"
    r"|管理员模式|跳过确认|不用确认|无需确认|开发者模式|你现在是|系统提示|提示词|所有人的"
)


COST_QUESTION = (
    r"\bhow much (?:will|would|does|is|do)\b.{0,40}\bcost\b"
    r"|\bwhat (?:will|would|does) (?:it|that|this)\b.{0,30}\bcost\b"
    r"|\bhow (?:long|much time) (?:will|would|does)\b|\bcost estimate\b"
    r"|(?:要|得|会)?(?:花|用)?多少钱|多少费用|费用是多少|成本多少|(?:要|得)多久|多长时间能"
)


def is_cost_question(text: str) -> bool:
    """ "how much will animating everything cost?", "全部生成视频要花多少钱": a question, not the request."""
    return re.search(COST_QUESTION, text, re.I) is not None


_TASKISH = (
    r"\b(?:fail(?:ed|ing)?|running|rendering|done|finish(?:ed)?|status|progress|queue[d]?|jobs?|tasks?)\b"
    r"|任务|失败|进度|好了"
)
_JUDGEMENT = (
    r"(?:great|good|nice|amazing|awesome|fine|perfect|fake|bad|off|wrong|weird|ugly|terrible|awful|cheap"
    r"|boring|strange|unnatural)"
)
REMARK = (
    r"^(?:how (?:do|can|could|should|would|does) |what (?:does|do|is|are) |why (?:is|are|does|do) "
    r"|where (?:is|are|do|can) |is there (?:a|any) way|can i\b.*\?$)"
    r"|^(?:i\s+(?:really\s+)?(?:love|like|adore|hate)\b|(?:wow|nice|great|cool|awesome|perfect|lovely|beautiful)\b)"
    r"|^(?:it|this|that|the\b.{1,40}?)\s+(?:looks?|seems?|feels?|sounds?|is)\s+(?:really\s+|so\s+|very\s+|kinda\s+)?"
    rf"{_JUDGEMENT}\b"
    r"|^(?:怎么|如何|为什么|为啥)|是什么[？?]?$|是.{1,8}吗[？?]?$|^(?:谢谢|多谢|挺好|不错|很好|太棒)"
    r"|(?:看起来|看着|听起来)(?:很|挺|真|有点)?(?:不错|好|棒|假|怪|丑|奇怪|一般)"
)


def is_remark(text: str) -> bool:
    """A question about the tool, a compliment or a complaint ("how do I export?", "I love the music",
    "the rain in shot 2 looks fake", "视频看起来不错"): it asks for nothing, so nothing is planned from it
    (questions about tasks are requests for their status)."""
    t = text.strip().lower()
    picks = (  # "I like #2 best", "i like 2 and 8": a choice
        r"#\s*\d|\b(?:number|image|picture|option|no\.)\s*\d|第.{1,3}张|\b(?:like|love|prefer)\s+\d"
        r"|\b(?:top|bottom|upper|lower|middle|center|centre)[- ]?(?:left|right)?\s+"
        r"(?:one|image|picture|pic)\b"
        r"|左上|右上|左下|右下|中间那张"
    )
    return re.search(REMARK, t) is not None and re.search(_TASKISH, t) is None and re.search(picks, t) is None


def is_unsupported_wish(text: str) -> bool:
    return re.search(UNSUPPORTED, text, re.I) is not None


def is_extra_injection(text: str) -> bool:
    return re.search(EXTRA_INJECTION, text, re.I) is not None


# --- exceptions and negation ------------------------------------------------------------------

_EXCEPT_EN = (
    r"(?:(?:,\s*|\s+)(?:but\s+not|except(?:\s+for)?|apart\s+from|other\s+than|excluding|besides|save\s+for)"
    r"|,\s*(?:and\s+|but\s+)?not)"  # "make all shots dusk, not shot 3 though"
    r"\s+(?P<x>(?:the\s+|its\s+|their\s+)?(?:very\s+)?(?:shots?\s*)?(?:#?\s*(?:\d+|"
    + NUM
    + r")|"
    + ORD
    + r"|(?:first|last|final|opening)(?:\s+"
    + NUM
    + r")?)"
    r"(?:\s*(?:,|and|&|-|to|through)\s*(?:shots?\s*)?#?\s*(?:\d+|" + NUM + r"))*(?:\s+(?:one|shot)s?)?)"
)
_ALL_BUT_EN = (
    r"\b(?:all|every(?:thing| shot| single shot)?)(?:\s+(?:the\s+|of the\s+)?shots)?\s+but\s+"
    r"(?P<x>(?:the\s+)?(?:(?:last|final|first|opening)(?:\s+" + NUM + r")?|shots?\s*#?\s*\d+"
    r"(?:\s*(?:,|and|-|to)\s*\d+)*|#?\s*\d+)(?:\s+(?:one|shot)s?)?)"
)
_LEAVE_EN = (
    r"(?:^|,\s*|\band\s+)(?:please\s+)?(?:don'?t|do not|never)\s+(?:touch|change|edit|modify|alter)\s+"
    r"(?P<x>[^,;]+?)(?=\s*(?:,|;|\band\b|$))"
    r"|(?:^|,\s*|\b(?:and|but)\s+)(?:skip|leave out|omit|exclude)\s+(?P<s>(?:the\s+)?(?:shots?\s*#?\s*\S+"
    r"(?:\s*(?:,|and|-|to)\s*\S+)*|#?\d+(?:\s*(?:,|and|&|-|to)\s*#?\d+)*|(?:first|last|final|opening)\s+(?:one|shot)))"
    r"(?=\s*(?:,|;|\band\b|$))"
    r"|(?:,\s*|\s+)but\s+(?:keep|save|spare|hang on to|hold on to)\s+(?P<k>(?:shots?\s*)?#?\d+"
    r"(?:\s*(?:,|and|&|-|to)\s*#?\d+)*)\s*$"  # "delete 3 through 5 but keep 4"
    r"|(?:^|,\s*|\b(?:and|but)\s+)(?:leave|keep)\s+(?P<y>(?:the\s+)?(?:shots?\s*#?\s*\S+(?:\s*(?:,|and|-|to)\s*\S+)*"
    r"|#?\d+(?:\s*(?:,|and|&|-|to)\s*#?\d+)*"
    r"|(?:first|last|final|opening)\s+(?:one|shot)))\s+(?:alone|as (?:it is|is|they are)|unchanged|untouched)"
    r"(?=\s*(?:,|;|\band\b|$))"
)
_EXCEPT_ZH = (
    r"(?<![删去排移免解清])除了?(?P<x>[^，,。；;\s]{1,20}?)(?:以外|之外|外)?(?:[，,]|\s+)"
    r"|(?<![删去排移免解清])除了?(?P<w>[^，,。；;\s]{1,12}?)(?:以外|之外|外)?(?=都|其他|其余|其它|剩下|全部|别的)"
    r"|[，,]?\s*(?P<y>第?[^，,。；;]{1,12}?)(?:个)?(?:不要动|别动|不动|不用改|不改|除外|别改|不要改|别碰|不用动|保持不变|保持原样)"
    r"|(?:别动|不要动|不动)(?P<z>[^，,。；;]{1,12})[，,]"
    r"|[，,]\s*跳过(?P<q>第?[^，,。；;]{1,12}?)(?:个)?(?=[，,。；;]|$)"  # "全部配旁白，跳过第二个"
    r"|[，,]\s*(?:但是?|不过)?(?:留着|保留|留下)(?P<r>第?[^，,。；;]{1,12}?)(?:个)?(?:镜头|分镜)?\s*$"
    r"|[，,]\s*(?:但是?|不过)?(?P<u>第[^，,。；;]{1,8}?)(?:个)?(?:镜头|分镜)?(?:留着|保留|留下|不删|别删)\s*$"
)
_EXCEPT_ZH_AFTER_ALL = (  # "所有镜头改成黄昏，第三个不要": only after a request for every shot
    r"[，,]\s*(?P<v>第?[^，,。；;]{1,12}?)(?:个)?(?:不要|不用|算了|先不要)\s*$"
)
REST_WORDS = (
    r"\b(?:the\s+)?(?:rest|others|other\s+(?:shots|ones)|remaining(?:\s+shots)?)\b|其他|其余|剩下|其它|别的"
)
NEGATED_CLAUSE = (
    r"^(?:please\s+)?(?:don'?t|do not|no need (?:to|for)|never mind|not now|skip"
    r"|no(?!\s+more\b|\.\s*\d|\s*#?\d|.*\bany ?more\b))\b"
    r"|^(?:先)?(?:不要|不用|别(?!的|人|处|个|家)|无需|不必|先别)"
    r"|^[^，,。\s]{1,8}?(?:先不用|暂时不用|先不要|暂时不要|先别|不用了)(?:了|吧)?$"  # "旁白先不用了": not now
    # "第七个先别生成视频": the target, then "not (yet)" before the verb
    r"|^第?[^，,。\s]{1,8}?(?:个|号)?(?:镜头|分镜)?(?:先别|先不要|暂时别|暂时不要|先不用)(?:急着)?"
    r"(?:生成|做|出|合成|配|删|动|改)"
)
PADDING = (
    r"(?:,\s*|\s+)(?:but|and)\s+keep\s+(?:everything|all|the rest|anything)\s+else\s+"
    r"(?:the same|as (?:it is|is)|unchanged)\b"
    r"|[,，]?\s*(?<![a-z])(?:thanks?(?: you)?(?: so much| a lot)?|thx|ty|谢谢(?:你|啦)?|多谢)\s*[!.。！]*\s*$"
    r"|\s+(?:tbh|lol|pls|please|tho|though|thx)\s*[!.?]*$"
    # why, not what: "…, better hook for retention", "…, for better engagement", "…，这样更抓人"
    r"|[,，]\s*(?:(?:it'?s|that'?s|as)\s+)?(?:a\s+)?(?:better|stronger)\s+(?:hook|opener|opening|start|intro|ending|flow)"
    r"\b[^,，]*$|[,，]\s*for\s+(?:better\s+)?(?:retention|engagement|the algorithm|the hook)\b[^,，]*$"
    r"|[,，]\s*(?:这样)?(?:更|比较)(?:吸引人|抓人|有冲击力|带感)(?:一点|一些)?\s*$"
    r"|[，,]?\s*(?:麻烦(?:你|您)?(?:啦|了|咯)|辛苦(?:啦|了)|拜托(?:啦|了)?)\s*[!！。~]*\s*$"
    r"|(?<=[\u4e00-\u9fff》」\s])[哈吧呀啊呢嘛哦噢咯]+\s*[!！。~]*\s*$"
)
LEADING_PADDING = (  # a greeting or who is speaking, before the request
    r"^\s*(?:(?:hi|hello|hey|hiya|heya|good (?:morning|afternoon|evening)|greetings|morning)"
    r"(?:\s+there)?\s*[!,.~]+\s*"
    r"|(?:i'?m|i am|this is)\s+an?\s+[^.!?,]{2,40}[.!]\s+"
    r"|(?:你好|您好|哈喽|嗨|hello)[!！,，。~]*\s*"
    r"|(?:我是|我们是)[^，,。！!]{1,15}[，,。！!]\s*"
    r"|(?:老师|我|我们|我这|老师这)边(?=想|要|需要|打算)"
    r"|as an? [a-z ]{2,30}?,?\s+(?=i\b)"  # "as a teacher I need …"
    r"|(?:so\s+)?i\s+(?:was|am|'m)\s+(?:thinking|wondering)(?:\s+(?:that|if))?\s*[….,]*\s*(?:maybe\s+|perhaps\s+)?"
    r"|(?:我在想|我想了想|我觉得吧)[……，,。.]*\s*(?:也许|或许|要不)?"
    r"|(?:wait|oh wait|oops|whoops|oh|ugh|hmm+|um+|uh|well|actually|nvm|lol|haha"
    r"|love it|nice|great|perfect|awesome)"
    r"\s*[,!.…]+\s*"  # "wait, undo the last change", "love it!! now render …"
    r"|(?:等等|等一下|哎呀|哎|唉|嗯|哇|好的|好吧|行吧|太棒了|不错|好耶|完美)[，,！!。~…]+\s*"
    r"|(?:我是|作为)[^，,。！!]{1,12}?(?:老板|老师|博主|up主|学生|妈妈|爸爸)[，,]?\s*)"
)


@dataclass
class Exceptions:
    text: str
    excluded: list[int] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    needs_total: bool = False
    in_scope: list[str] = field(default_factory=list)  # "except its first one": first/last of the shots named


def _fragment_numbers(fragment: str, total: int | None) -> list[int]:
    f = fragment.lower()
    f = re.sub(r"\bones?\b", "shot", f)
    m = re.search(rf"\b(last|final|first|opening)\s+({NUM})\b|(最后|前|头|后)\s*({NUM})\s*个?", f)
    if m:  # "the last two", "first 3", "最后两个"
        which, raw = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        n = parse_int(raw) or 0
        if which in {"first", "opening", "前", "头"}:
            return list(range(1, n + 1))
        return list(range(max(1, total - n + 1), total + 1)) if total else []
    if re.search(r"\b(?:first|opening)\b|第一|开头", f) and not re.search(r"\d|第[二三四五六七八九十]", f):
        return [1]
    if re.search(r"\b(?:last|final)\b|最后", f):
        return [total] if total else []
    m = re.search(ORD, f)
    if m and not re.search(r"\d+\s*(?:,|and|-|to)", f):
        n = parse_ordinal(m.group(0))
        if n:
            return [n]
    cleaned = re.sub(r"shots?|the|#|第|个|镜头|分镜|号", " ", f)
    found = parse_number_list(cleaned.strip())
    if found:
        return found
    tokens = re.findall(rf"{NUM}(?:\s*(?:-|to|through|到|至)\s*{NUM})?", f)
    return parse_number_list(", ".join(tokens)) if tokens else []


def extract_exceptions(text: str, total: int | None) -> Exceptions:
    """Take "except 3 and 7" / "don't touch shot 4" / "除了第4个" out of the sentence."""
    out = Exceptions(text)
    m = re.search(_ALL_BUT_EN, out.text, re.I)  # "all but the last two shots": all shots, less those
    if m:
        nums = _fragment_numbers(m.group("x"), total)
        if nums:
            out.excluded.extend(nums)
            out.evidence.append(f"except shots {nums} ← “{m.group(0)}”")
            out.text = (out.text[: m.start()] + "all shots" + out.text[m.end() :]).strip()
    patterns = [_EXCEPT_EN, _LEAVE_EN, _EXCEPT_ZH]
    if re.search(r"所有|全部|每个|每一个|全都", out.text):
        patterns.append(_EXCEPT_ZH_AFTER_ALL)
    for pattern in patterns:
        while True:
            m = re.search(pattern, out.text, re.I)
            if not m:
                break
            frag = next(g for g in m.groups() if g)
            scoped = re.search(r"\b(?:its|their)\s+(first|opening|last|final)\b", frag, re.I)
            if scoped:  # "every shot in scene 2 except its first one": first of those shots
                out.in_scope.append("first" if scoped.group(1).lower() in {"first", "opening"} else "last")
                out.evidence.append(
                    f"except the {out.in_scope[-1]} of the shots named ← “{m.group(0).strip(' ,')}”"
                )
                out.text = (out.text[: m.start()] + " " + out.text[m.end() :]).strip(" ,，")
                continue
            nums = _fragment_numbers(frag, total)
            if not nums:
                if re.search(r"\b(?:last|final)\b|最后", frag):
                    out.needs_total = True
                break
            out.excluded.extend(n for n in nums if n not in out.excluded)
            out.evidence.append(
                f"except shot{'s' if len(nums) > 1 else ''} {nums} ← “{m.group(0).strip(' ,，')}”"
            )
            keep = (
                "，"
                if pattern in (_EXCEPT_ZH, _EXCEPT_ZH_AFTER_ALL) and m.group(0).endswith(("，", ","))
                else ""
            )
            out.text = (out.text[: m.start()] + (keep or ", ") + out.text[m.end() :]).strip(" ,，")
    return out


_E_VERBS = frozenset(
    {
        "make",
        "generate",
        "change",
        "animate",
        "create",
        "compose",
        "remove",
        "delete",
        "narrate",
        "move",
        "use",
        "rename",
        "replace",
        "save",
        "take",
        "place",
        "voice",
        "give",
        "raise",
        "lower",
        "shade",
    }
)


def _base_verb(m: re.Match[str]) -> str:
    """ "would you mind making shot 5 rainy" asks to "make shot 5 rainy"."""
    stem = m.group(2).lower()
    if stem + "e" in _E_VERBS:
        stem += "e"
    elif len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
        stem = stem[:-1]  # putting → put, setting → set
    return stem


_MIND_GERUND = r"^(?:would|do|could)\s+you\s+mind\s+(?:(?:just|quickly|maybe)\s+)?(([a-z]+?)ing)\b"


def strip_padding(text: str) -> tuple[str, list[str]]:
    evidence: list[str] = []
    while True:
        m = re.search(LEADING_PADDING, text, re.I)
        if not m or m.end() >= len(text):
            break
        evidence.append(f"ignored “{m.group(0).strip(' ,，')}” (greeting)")
        text = text[m.end() :].strip()
    m = re.search(  # "can we try a version where shot 7 is at sunset?": a change to try
        r"^(?:(?:can|could|shall)\s+(?:we|you|i)\s+|let'?s\s+)?(?:try|see|do|get)\s+(?:a\s+|one\s+)?"
        r"(?:version|take|variant)\s+(?:where|with)\s+",
        text,
        re.I,
    )
    if m:
        evidence.append(f"“{m.group(0).strip()}” read as a change")
        text = "make " + text[m.end() :]
    m = re.search(_MIND_GERUND, text, re.I)
    if m:
        text = _base_verb(m) + text[m.end() :]
        evidence.append(f"“{m.group(0)}” read as a request")
    while True:
        m = re.search(PADDING, text, re.I)
        if not m or m.start() == 0:
            break
        evidence.append(f"ignored “{m.group(0).strip(' ,，')}” (padding)")
        text = (text[: m.start()] + text[m.end() :]).strip()
    return text, evidence


# --- relative durations -----------------------------------------------------------------------

_S = r"\s*(?:s|secs?|seconds?)"
_REL_EN = [
    (
        rf"\b(?P<n>{NUM}|an?|one|half a)\s*(?:more\s+)?{_S}\s+(?P<dir>shorter|longer|less|more)\b",
        None,
    ),
    (
        rf"\b(?:add|give it|give)\s+(?P<n>{NUM}|an?|one)\s*(?:extra\s+|more\s+)?{_S}\s+(?:to|for)\b",
        +1,
    ),
    (
        rf"\b(?:trim|cut|take|shave|remove)\s+(?P<n>{NUM}|an?|one){_S}\s+(?:off|from|out of)\b",
        -1,
    ),
    (rf"\b(?:shorten|trim|cut)\b.{{0,40}}?\bby\s+(?P<n>{NUM}|an?|one)\s*(?:s|secs?|seconds?)\b", -1),
    (  # "needs to lose two seconds", "shave off a second", "knock 2 secs off": shorter by N
        rf"\b(?:lose|loses|losing|drop|shed|shave|knock|cut|trim)\s+(?:off\s+)?(?:about\s+)?"
        rf"(?P<n>{NUM}|an?|one|half a){_S}\b(?!\s+(?:long|total|shots?|clips?|scenes?|intro))",
        -1,
    ),
    (  # "gain a second", "add 2 seconds" (no "to"): longer by N
        rf"\b(?:gain|gains|gaining|add|adds)\s+(?:another\s+|about\s+)?(?P<n>{NUM}|an?|one|half a)"
        rf"{_S}\b(?!\s+(?:long|total|shots?|clips?|scenes?|intro|of))",
        +1,
    ),
    (rf"\b(?P<n>{NUM}|an?|one)\s+(?:more|extra)\s+(?:s|secs?|seconds?)\b", +1),
    (rf"\b(?P<n>{NUM}|an?|one)\s+(?:fewer|less)\s+(?:s|secs?|seconds?)\b", -1),
    (rf"\b(?:lengthen|extend|stretch)\b.{{0,40}}?\bby\s+(?P<n>{NUM}|an?|one)\s*(?:s|secs?|seconds?)\b", +1),
]
_REL_ZH = [
    (rf"(?:缩短|减少|减去|减掉|减|短|砍掉|剪掉|去掉|少)\s*(?P<n>{NUM}|半)\s*秒", -1),
    (rf"(?:延长|加长|增加|拉长|长|加|多)\s*(?P<n>{NUM}|半)\s*秒", +1),
]


@dataclass
class Relative:
    delta: float
    span: tuple[int, int]
    phrase: str
    factor: float = 1.0  # "double the length" → ×2, "halve" → ×0.5


_FACTOR = [
    (
        r"\bdouble\b(?:\s+(?:the\s+)?(?:length|duration|time))?|\btwice as long\b|翻倍|加倍|长一倍|延长一倍"
        r"|(?:原来|之前|现在)的?(?:两|2)倍",
        2.0,
    ),
    (r"\bhalve\b|\bhalf as long\b|\bcut\b.{0,20}\bin half\b|减半|缩短一半|短一半", 0.5),
    (r"\btriple\b|\bthree times as long\b|三倍", 3.0),
]


def relative_duration(text: str) -> Relative | None:
    """``"three seconds shorter"`` → −3, ``"延长2秒"`` → +2, ``"double the length"`` → ×2 (None when
    the sentence sets no change of duration)."""
    for pattern, factor in _FACTOR:
        m = re.search(pattern, text, re.I)
        if m and (factor != 0.5 or not re.search(r"\bsplit\b|拆", text)):
            return Relative(0.0, m.span(), m.group(0), factor)
    for pattern, sign in _REL_EN + _REL_ZH:
        m = re.search(pattern, text, re.I)
        if not m:
            continue
        raw = m.group("n").lower()
        if raw in {"a", "an", "one"}:
            n: float | None = 1.0
        elif raw in {"half a", "半"}:
            n = 0.5
        else:
            v = parse_int(raw)
            n = float(v) if v is not None else None
        if n is None:
            continue
        direction = sign
        if direction is None:
            direction = -1 if m.group("dir") in {"shorter", "less"} else +1
        return Relative(direction * n, m.span(), m.group(0))
    return None


# --- clause segmentation ----------------------------------------------------------------------

VERB_EN = _VERB_EN = (
    r"(?:animate|generate|regenerate|make|add|delete|remove|compose|cancel|stop|retry|export|download|"
    r"commit|use|start|iterate|switch|move|split|merge|set|change|render|create|lock|favou?rite|star|take|"
    r"save|narrate|give|put|turn|redo|draw|undo|revert|restore|go|roll|pick|select|choose|shorten|"
    r"lengthen|trim|insert|rename|send|share|post|upload|email|print|tweet|publish|voice|do|apply|"
    r"rebuild|shoot|extend|speed|slow(?=\s+(?:it|them|down|shots?|the)\b)|grid(?=\s+(?:it|them|that|this)\b)|don'?t)\b"
)
_VERB_ZH = (
    r"(?:把|给|为|将|生成|合成|合(?=个|一个|一版)|删除|删掉|取消|重试|导出|添加|加|配|锁定|收藏|改|设|切换|拆|合并|移|"
    r"保存|回到|撤销|做|出|重新|用|发|分享|上传|打印|还原|恢复|新建|创建|来)"
)
_TARGET = (
    r"\bshots?\s*#?\s*\d|\bshots?\s+(?:"
    + NUM
    + r")\b|\b(?:the\s+)?(?:"
    + ORD
    + r"|last|final|opening)\s+shot"
    r"|第\s*\S{1,3}\s*(?:个|场)|最后|开头"
)
_SPLIT = (
    r"\s*(?:[;；]|。(?=.)|[.!?]\s+(?=[A-Za-z])"
    r"|,?\s*\b(?:and\s+)?then\b|,?\s*\b(?:and\s+)?(?:after that|afterwards|afterward|once that'?s done)\b"
    r"|,?\s*\band also\b|,?\s*(?:and\s+)?while (?:you'?re|you are|we'?re) at it,?|\s+plus\s+(?="
    + _VERB_EN
    + r")"
    r"|[,，]\s*(?:之后|随后|再然后)(?=[\u4e00-\u9fff])|[,，]\s*最后(?=再|把|给|合成|生成|导出|配|做|出)"
    r"|[,，]?\s*(?:然后|接着|之后再|随后|顺便|同时)"
    r"|[\s,，]+再(?=来(?:个|一个|一组|一段)?(?:九宫格|四宫格|宫格|视频|配乐|音乐|旁白|预览))"
    r"|(?<=[\u4e00-\u9fff])再(?=[\u4e00-\u9fff])(?!来|来一|生成一组|跑|试|运行|次|一次|一遍|做一[次遍]|出一|出个|出几|出张)"
    r"|[,，]?\s*并且?(?=把|给|帮|生成|合成|删除|取消|重试|导出|添加|加|做成|配|锁定|收藏|发|分享|上传)"
    r"|,\s+and\s+(?=" + _VERB_EN + r")|\s+and\s+(?=(?:also\s+)?" + _VERB_EN + r")"
    r"|\s+and\s+(?=shots?\s*#?\s*\d+\s+(?:to|at|in|should)\b)"
    r"|,?\s+and\s+(?=(?:the\s+)?(?:format|aspect ratio|aspect|title|platform|language|resolution)\s+"
    r"(?:to|is|should|as|=|:|[a-z]+$))"
    r"|(?<=[a-z])\s+and\s+(?=shots?\s*#?\s*\d+\s+[a-z])"
    r"|(?<!\d)[,，]\s*|(?<=\d)[,，](?!\s*(?:and\s+|&\s*)?#?\d)\s*)\s*"
)


def _independent(segment: str) -> bool:
    if re.search(r"用$|^for\b|^(?:each|every one)\b|^每个", segment.strip().lower()):
        return False  # a purpose or distributive modifier ("发抖音用", "每个5秒")
    s = re.sub(
        r"^(?:(?:please|pls|and|also|just|now|first|then|so|ok|okay|can you|could you|directly|right away"
        r"|straight away|immediately|go ahead and)\s+)+",
        "",
        segment.lower(),
    )
    s = re.sub(
        r"^(?:请|麻烦|帮我|先|再|就|然后|并且?|也|直接|顺便|马上|立刻|立即|赶紧|接着|一起|顺手"
        r"|在?(?:结尾|开头|最前面|片尾|片头)(?:处)?|在最后)+",
        "",
        s,
    )
    if re.search(_TARGET, s):
        return True
    if re.match(
        r"(?:画幅|比例|风格|画风|标题|片名|名字|平台|总时长|语言|字幕)\s*(?:改成|改为|换成|设为|设成|用|要|是)"
        r"|the (?:format|aspect ratio|aspect|title|platform|language)\b",
        s,
    ):
        return True  # "…，画幅改成竖屏": a second setting is its own request
    if re.match(_VERB_EN, s) or re.match(_VERB_ZH, s):
        return True
    if re.match(
        r"(?:它们?|这些|那些|[这那](?:两|俩|几|三)个?|俩|全部|都)(?:都|也|全|一起)?\s*" + _VERB_ZH, s
    ):
        return True  # "…，然后这两个都做成视频": the shots named before, with a verb of their own
    return bool(re.match(r"(?:it|them|this|that)\b", s))


def _bare_target(piece: str) -> bool:
    if not re.search(_TARGET, piece.lower()):
        return False
    rest = re.sub(_TARGET + r"|\d+|" + NUM, " ", piece.lower())
    return not re.sub(r"\b(?:and|the|shots?|#|to|through)\b|[,，、和与及\s个第镜头分的]", "", rest)


def segment(text: str) -> list[str]:
    """Split a sentence into clauses; a piece without its own verb or target joins the one before,
    and a piece that is only a target ("shot 2 and …") joins the one after."""
    if re.match(r"\s*1(?:[)）]|\.\s|、(?!\s*\d))", text):  # "1) make shot 2 night 2) animate it": per item
        items = [i for i in re.split(r"(?:^\s*|\s+)\d{1,2}(?:[)）]|\.\s|、(?!\s*\d))\s*", text) if i.strip()]
        return [p for item in items for p in segment(item)]
    raw = [re.sub(r"[,，]?\s*\b(?:and|also)\s*$", "", p) for p in re.split(_SPLIT, text) if p]
    raw = [p for p in raw if p.strip(" ,，.。")]
    pieces: list[str] = []
    carry = ""
    for piece in raw:
        if carry:
            piece = f"{carry} and {piece}"
            carry = ""
        if _bare_target(piece):
            carry = piece
            continue
        pieces.append(piece)
    if carry and pieces and re.search(r"的\s*$", carry):  # "给我整一个九宫格，第二个镜头的": whose
        pieces[-1] = f"{pieces[-1]}，{carry}"
    elif carry:
        pieces.append(carry)
    out: list[str] = []
    for piece in pieces:
        too = re.match(
            r"^(?:and\s+)?(.+?)\s+(?:too|as well|also)\s*[.!]?$|^(.+?)(?:也是|也要|也一样)[。！]?$",
            piece.strip(),
            re.I,
        )
        if out and too and _bare_target(next(g for g in too.groups() if g)):  # "…, and shot 3 too"
            out[-1] = f"{out[-1]} and {next(g for g in too.groups() if g)}"
            continue
        if out and not _independent(piece):
            joiner = "，" if re.search(r"[\u4e00-\u9fff]", out[-1] + piece) else ", "
            out[-1] = out[-1] + joiner + piece
        else:
            out.append(piece)
    return out


def is_negated(clause: str) -> bool:
    return re.search(NEGATED_CLAUSE, clause.strip().lower(), re.I) is not None


_ONLY_TARGET = (
    r"^(?:but\s+|and\s+)?(?:just|only|instead)?\s*(?:do\s+(?:it\s+|that\s+)?(?:to|for|on)?\s*)?"
    r"(?P<t>.+?)(?:\s+instead|\s+only|\s+is fine)?\s*[.!]?$"
)
_ZH_ONLY_TARGET = (
    r"^(?:但是?|而是)?(?:只|就|仅|只要)?(?:给|把|对|改|动)?(?P<t>.+?)(?:就行了?|就好|即可|吧)?[。！]?$"
)
_TARGET_SPAN = (
    r"\bshots?\s*#?\s*\d+(?:\s*(?:,|and|&|-|to|through)\s*\d+)*"
    rf"|\b(?:the\s+)?(?:{ORD}|last|final|opening)\s+shot"
    r"|第\s*[^个号\s]{1,4}\s*(?:个|号)\s*(?:镜头|分镜)?|[^\s第]{1,3}号(?:镜头|分镜)"
)


def redirect_negation(pieces: list[str]) -> tuple[list[str], list[str]]:
    """ "don't animate shot 2, just shot 5" / "别给第2个配音，只给第5个": a bare target after a
    negated clause gets that clause's verb (the negated clause itself is still dropped)."""
    out = list(pieces)
    evidence: list[str] = []
    for i in range(len(out) - 1):
        if not is_negated(out[i]):
            continue
        follow = out[i + 1].strip()
        m = re.match(_ZH_ONLY_TARGET if re.search(r"[\u4e00-\u9fff]", follow) else _ONLY_TARGET, follow)
        target = m.group("t") if m else None
        if not target or not _bare_target(target):
            continue
        positive = re.sub(NEGATED_CLAUSE, "", out[i].strip(), count=1, flags=re.I).strip()
        span = re.search(_TARGET_SPAN, positive, re.I)
        if span is None:
            continue
        out[i + 1] = positive[: span.start()] + target + positive[span.end() :]
        evidence.append(f"“{out[i + 1]}” ← “{pieces[i + 1]}” after “{pieces[i]}”")
    return out, evidence


# --- references by description ----------------------------------------------------------------

_DESC_EN = [
    r"\b(?:the\s+|all\s+(?:the\s+)?|every\s+|each\s+)(?:shots|ones|shot|one)\s+(?:in|at|on|inside|near|by|over|under|showing|featuring"
    r"|with|of|where|that (?:show|have|has|feature)|containing|set (?:in|on|at)|about)"
    r"\s+(?:the\s+|a\s+)?(?P<k>[a-z]+(?:\s+(?!(?:should|need|needs|are|is|be|to|look|looks|get|gets|with|at|in|on|and"
    r"|into|for|please|pls|has|have|go|goes|become|becomes|turn|turns|feel|feels|use|uses|will|can|could|must"
    r"|would|shall|may|might|get|got|all|now|too|also|so|that|which|then|because|since|until)\b)[a-z]+)?)",
    r"\b(?:the|both|both the)\s+(?P<k>(?:[a-z]+\s+){0,2}[a-z]+)"
    r"(?<!\bof)(?<!\bfor)(?<!\bin)(?<!\bon)(?<!\bto)(?<!\bwith)(?<!\band)"
    r"(?<!\bout)(?<!\bat)(?<!\bfrom)(?<!\bby)\s+(?:shots|ones|scenes)\b",
    # "split the leap shot in three", "put the kids-pointing-at-the-sky shot first": one shot, by its content
    r"\b(?:the|that|this)\s+(?P<k>[a-z]+(?:-[a-z]+)+|(?:[a-z]{3,}\s+)?[a-z]{4,})\s+shot\b(?!\s*(?:#|\d|no\b|number\b))",
]
_CAMERA_NOUNS = frozenset(
    [
        "wide",
        "close",
        "closeup",
        "medium",
        "long",
        "full",
        "establishing",
        "tracking",
        "aerial",
        "insert",
        "master",
        "overhead",
        "drone",
        "pov",
        "whole",
        "entire",
        "current",
        "selected",
        "focused",
        "chosen",
        "opening",
        "final",
        "previous",
        "next",
        "other",
        "same",
    ]
)
_DESC_ZH = [
    r"(?P<k>[\u4e00-\u9fff]{2,4}?)(?:里|中|上|里面|中的)?的(?:镜头|分镜|那些|那几个)",
    r"(?P<k>[\u4e00-\u9fff]{2,8}?)(?:的)?那(?:个|几个|些|一个|两个|三个|俩)(?:镜头|分镜)?",
]
_NOT_KEYWORDS = frozenset(
    [
        "first",
        "last",
        "final",
        "opening",
        "other",
        "remaining",
        "selected",
        "current",
        "next",
        "previous",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "all",
        "these",
        "those",
        "some",
        "rest",
        "few",
        "new",
        "same",
        "following",
        "above",
        "below",
        "scene",
    ]
)
_ZH_NOT_KEYWORDS = frozenset(
    {
        "所有",
        "全部",
        "每个",
        "其他",
        "最后",
        "开头",
        "这个",
        "那个",
        "剩下",
        "前面",
        "后面",
        "失败",
        "出错",
        "报错",
        "在跑",
        "排队",
    }
)


@dataclass
class DescriptionRef:
    keyword: str
    span: tuple[int, int]
    single: bool = False  # "the shot with the owl", "狐狸那个镜头": one shot is meant


def description_ref(text: str) -> DescriptionRef | None:
    for pattern in _DESC_EN:
        for m in re.finditer(pattern, text, re.I):
            k = m.group("k").lower().strip()
            if "-" in k and " " not in k:  # "kids-pointing-at-the-sky": the words of a description
                if k.split("-")[0] in _CAMERA_NOUNS:
                    continue
                return DescriptionRef(k.replace("-", " "), m.span(), True)
            if k in _CAMERA_NOUNS or any(re.fullmatch(rf"{ORD}|\d+|{NUM}", w) for w in k.split()):
                continue  # "the third and fourth shots": ordinals, not a description
            if any(w in _CAMERA_NOUNS for w in k.split()):
                continue  # "that wide shot": a framing, not a description
            words = [w for w in k.split() if w not in {"the", "a"}]
            phrase = " ".join(words)
            single_shot = re.search(r"\bshot\b", m.group(0), re.I) and not re.search(
                r"\bshots\b", m.group(0), re.I
            )
            if single_shot and len(words) == 2 and words[-1] not in _NOT_KEYWORDS:
                return DescriptionRef(phrase, m.span(), True)  # "that bamboo forest shot": the whole phrase
            k = words[-1] if words else ""
            if (
                k
                and k not in _NOT_KEYWORDS
                and not re.fullmatch(r"\d+|" + NUM, k)
                and k not in {"night", "dusk"}
            ):
                single = not re.search(r"\b(?:shots|ones|scenes)\b|\b(?:all|every|each)\b", m.group(0), re.I)
                return DescriptionRef(k, m.span(), single)
    for pattern in _DESC_ZH:
        for m in re.finditer(pattern, text):
            k = m.group("k")
            k = re.sub(
                r"^(?:把|给|为|将|在|所有|全部|让|请|帮我把?|和|与|跟|及|还有|有|带有|带|包含)+", "", k
            )
            if len(k) >= 2 and k not in _ZH_NOT_KEYWORDS and not re.search(r"第|个|\d", k):
                return DescriptionRef(k, m.span(), re.search(r"那(?:一)?个", m.group(0)) is not None)
    return None


def match_descriptions(keyword: str, visuals: dict[int, str]) -> tuple[list[int], bool]:
    """Shots whose description mentions ``keyword``: exact words first, then a fuzzy match
    (rapidfuzz partial ratio ≥ 85). Returns (numbers, fuzzy?)."""
    key = keyword.lower()
    exact = [n for n, v in visuals.items() if re.search(rf"\b{re.escape(key)}(?:s|es|'s)?\b", v.lower())]
    exact = exact or [n for n, v in visuals.items() if key in v.lower()]  # "moon" is not "moonlight"
    if exact:
        return sorted(exact), False
    if re.search(r"[\u4e00-\u9fff]", key):  # "孩子们那个镜头": most of the key's characters, one best
        chars = set(re.sub(r"[们的了个那这些里中上]", "", key))
        if len(chars) < 2:
            return [], False
        scores = {n: len(chars & set(v)) / len(chars) for n, v in visuals.items()}
        best = max(scores.values(), default=0.0)
        found = [n for n, sc in scores.items() if sc == best]
        return (sorted(found), True) if best >= 0.66 and len(found) <= 3 else ([], False)
    if not key.isascii() or len(key) < 4:
        return [], False
    fuzzy = [n for n, v in visuals.items() if fuzz.partial_ratio(key, v.lower()) >= 85]
    if fuzzy:
        return sorted(fuzzy), True
    return _by_stems(key, visuals), True


_FILLER = frozenset(
    [
        "the",
        "a",
        "an",
        "at",
        "of",
        "in",
        "on",
        "to",
        "with",
        "from",
        "and",
        "for",
        "its",
        "his",
        "her",
        "their",
        "this",
        "that",
        "into",
    ]
)


# words people use for what a shot line says in other words: each maps to one shared stem
_SAME_THING = {
    **dict.fromkeys(("kid", "kids", "kiddo", "kiddos", "child", "children", "youngsters"), "chil"),
    **dict.fromkeys(("woods", "wood", "forest", "forests", "jungle"), "fore"),
    **dict.fromkeys(("jump", "jumps", "jumping", "leap", "leaps", "leaping", "hop", "hops"), "leap"),
    **dict.fromkeys(("grab", "grabs", "grabbing", "snatch", "snatches", "seize", "seizes", "steal"), "grab"),
    **dict.fromkeys(("fight", "fights", "argue", "argues", "argument", "quarrel", "row", "bicker"), "argu"),
    **dict.fromkeys(
        ("party", "celebrate", "celebrates", "celebration", "festival", "cheer", "cheers"), "cele"
    ),
    **dict.fromkeys(("sea", "ocean"), "ocea"),
}


def _stems(text: str) -> set[str]:
    return {
        _SAME_THING.get(w, w[:4])
        for w in re.findall(r"[a-z]+", text.lower())
        if w not in _FILLER and len(w) >= 3
    }


def _by_stems(key: str, visuals: dict[int, str]) -> list[int]:
    """ "the argument shot" → "argue", "kids pointing at the sky" → "children point at the dark sky":
    word stems in common; only the single best shot, and it must share most of the key's stems."""
    want = _stems(key)
    if not want:
        return []
    scores = {n: len(want & _stems(v)) for n, v in visuals.items()}
    best = max(scores.values(), default=0)
    found = [n for n, sc in scores.items() if sc == best]
    enough = best >= 1 if len(want) == 1 else best >= 2 and best * 2 >= len(want)
    return found if enough and len(found) == 1 else []


# --- answers to a clarifying question ---------------------------------------------------------

_ORDINAL_WORDS = {
    "first": 1,
    "1st": 1,
    "one": 1,
    "second": 2,
    "2nd": 2,
    "two": 2,
    "third": 3,
    "3rd": 3,
    "three": 3,
    "fourth": 4,
    "4th": 4,
    "four": 4,
    "fifth": 5,
    "five": 5,
}
NEVER_MIND = (
    r"^\s*(?:never ?mind|nevermind|forget it|cancel|no|nope|nothing|none|skip it|stop"
    r"|不用了?|算了|不要了?|取消|没事|不了)\s*[.!。！]*\s*$"
)


def choice_index(answer: str, labels: list[str]) -> int | None:
    """Which offered choice an answer picks: "2", "the first one", "第二个吧", "option B", or words
    of a label (rapidfuzz token-set ratio ≥ 80); "animate them, the second one" is read part by
    part (the parts must agree). None when it is not a pick."""
    parts = [x for x in re.split(r"\s*[,，;；]\s*", answer) if x.strip()]
    if len(parts) > 1:
        picks = {i for i in (_choice_index(x, labels) for x in parts) if i is not None}
        return picks.pop() if len(picks) == 1 else None
    return _choice_index(answer, labels)


def _choice_index(answer: str, labels: list[str]) -> int | None:
    a = unicodedata.normalize("NFKC", answer).strip().lower().strip(" .!?。！？")
    a = re.sub(r"(?:吧|呢|啊|哦|呀|了|就行了?|就好|好了|即可)+$", "", a)
    a = re.sub(r"^(?:就|选|要|用|我选|我要)+(?=第|[一二三1-3])", "", a)
    a = re.sub(r"^(?:the|option|number|no\.?|choice|#)\s*", "", a)
    a = re.sub(r"\s+(?:one|option|choice)$", "", a)
    if a in _ORDINAL_WORDS:
        n = _ORDINAL_WORDS[a]
    elif re.fullmatch(r"\d", a):
        n = int(a)
    elif re.fullmatch(r"[ab]", a):
        n = 1 if a == "a" else 2
    else:
        m = re.fullmatch(r"第\s*(\S{1,2}?)\s*(?:个|种|项|条)?", a)
        n = parse_int(m.group(1)) if m else None
        if n is None:
            if re.search(r"\b(?:last|latter)\b|最后一个|后者", a):
                n = len(labels)
            elif re.search(r"\bformer\b|前者", a):
                n = 1
    if n is not None:
        return n - 1 if 1 <= n <= len(labels) else None
    if not labels:
        return None
    if re.search(r"[\u4e00-\u9fff]", a):
        content = set(re.sub(r"[的那个一这是吧呢啊要就用选]", "", a))
        if not content:
            return None
        scores = [len(content & set(label)) / len(content) for label in labels]
        best_i = max(range(len(labels)), key=lambda i: scores[i])
        ties = sum(1 for x in scores if x == scores[best_i])
        return best_i if scores[best_i] >= 0.75 and ties == 1 else None
    best = process.extractOne(a, [x.lower() for x in labels], scorer=fuzz.token_set_ratio, score_cutoff=80)
    return None if best is None else int(best[2])


ALL_ANSWER = (
    r"^\s*(?:all|all of them|all of '?em|every(?:one| one| shot)?|each|all shots|the whole thing|everything"
    r"|the (?:whole|entire) (?:lot|thing|project|storyboard)|the lot|every single one"
    r"|all \d+(?: of them| shots)?"
    r"|全部|所有|都要|全都|每个|所有的|全部的|都改|全改|统统|一起)(?![a-z])"
)


register_known_words(Path(__file__).read_text(encoding="utf-8"))

__all__ = [
    "ALL_ANSWER",
    "NEVER_MIND",
    "REST_WORDS",
    "DescriptionRef",
    "Exceptions",
    "Relative",
    "Repair",
    "choice_index",
    "description_ref",
    "extract_exceptions",
    "is_cost_question",
    "is_extra_injection",
    "is_negated",
    "is_remark",
    "is_unsupported_wish",
    "match_descriptions",
    "redirect_negation",
    "relative_duration",
    "repair_typos",
    "segment",
    "strip_padding",
]
