"""Phrase tables for the offline planner (English and Chinese side by side).

Rule: a table is an ordered list of ``(regex, canonical value)``; the first match wins, so put the
more specific phrase first ("midnight" before "night", "extreme close-up" before "close-up").
Regexes run on NFKC-normalised, lower-cased text. Canonical values are English, because they are
data for the Action DSL, not words for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Table = list[tuple[str, str]]

TIME_OF_DAY: Table = [
    (r"golden hour|magic hour|黄金时刻|黄金时段", "golden hour"),
    (r"midnight|午夜|深夜|半夜", "midnight"),
    (r"\bdawn\b|sunrise|daybreak|黎明|清晨|日出|拂晓", "dawn"),
    (r"\bdusk\b|sunset|twilight|黄昏|傍晚|日落", "dusk"),
    (r"\bnight(?:time|-time)?\b|\bnights\b|夜景|夜晚|夜里|晚上|夜间|夜色|黑夜|夜", "night"),
    (r"\bmorning\b|早上|上午|早晨", "morning"),
    (r"\bafternoon\b|下午", "afternoon"),
    (r"\bnoon\b|midday|中午|正午", "noon"),
    (r"\bevening\b", "evening"),
    (r"\bdaytime\b|\bday\b|broad daylight|白天|日景|白昼", "day"),
]

LIGHTING: Table = [
    (r"neon|霓虹", "neon"),
    (r"candle ?light|candlelit|\bcandles?\b|烛光", "candlelight"),
    (r"moonlight|moonlit|月光", "moonlight"),
    (r"back ?lit|backlight(?:ing)?|silhouette|逆光|剪影", "backlight"),
    (r"rim light(?:ing)?|轮廓光", "rim light"),
    (r"soft (?:light|lighting)|柔光", "soft"),
    (r"(?:hard|harsh) (?:light|lighting)|硬光", "hard"),
    (r"high[- ]key|\bbrighter\b|\bbrighten\b|明亮|更亮|亮一点|亮一些", "high-key"),
    (r"low[- ]key|昏暗|暗调", "low-key"),
    (r"sunlight|sunlit|阳光", "sunlight"),
    (r"lantern[- ]?(?:light|lit)|lanterns? (?:glow|light)|灯笼(?:光|的光)|灯笼照明", "lantern light"),
    (r"fire ?light|campfire|火光|篝火", "firelight"),
    (r"dramatic (?:light|lighting)|戏剧性光|戏剧光", "dramatic"),
]

WEATHER: Table = [
    (r"thunderstorm|\bstorm(?:y|ier)?\b|暴风雨|雷雨|雷电", "storm"),
    (
        r"\brain(?:y|ier|ing)?\b|下雨|雨天|雨夜|雨中|大雨|小雨|[点些]雨|雨景|(?<=的)雨|雨(?=去掉|拿掉|停|不要|下|再|更)",
        "rain",
    ),
    (r"\bsnow(?:y|ier|ing)?\b|下雪|雪天|雪景|大雪|[点些]雪|(?<=的)雪|雪(?=去掉|拿掉|停|不要)", "snow"),
    (r"\bfog(?:gy|gier)?\b|\bmist(?:y|ier)?\b|\bhaz(?:e|y|ier)\b|大雾|雾气|薄雾|雾", "fog"),
    (r"\bovercast\b|\bcloudy\b|\bgr[ae]y skies\b|阴天|多云|阴沉", "overcast"),
    (r"\bclear (?:sky|skies|weather)\b|晴天|晴朗|放晴", "clear"),
]

MOODS: Table = [
    (r"\btense(?:r)?\b|\btension\b|suspenseful|紧张|悬疑", "tense"),
    (r"\bdream(?:y|ier)\b|dreamlike|梦幻", "dreamy"),
    (r"cheerful|\bhapp(?:y|ier)\b|joyful|upbeat|欢快|开心|快乐|愉快", "cheerful"),
    (r"melanchol(?:y|ic)|\bsad(?:der)?\b|wistful|忧郁|悲伤|伤感|忧伤", "melancholic"),
    (r"mysterious|\bmore mystery\b|神秘", "mysterious"),
    (r"romantic|浪漫", "romantic"),
    (r"\beerie(?:r)?\b|creep(?:y|ier)|spook(?:y|ier)|诡异|阴森|恐怖", "eerie"),
    (r"\bepic\b|grand|史诗|宏大", "epic"),
    (
        r"\bcalm(?:er)?\b|peaceful|serene|tranquil|soothing|\brelax(?:ed|ing)\b|laid[- ]back"
        r"|舒缓|宁静|平静|安静|轻松",
        "calm",
    ),
    (
        r"\bchill(?:ed)?(?: ?out)?\b|\blo-?fi\b|\bmellow\b|放松|慵懒|松弛",
        "chill",
    ),
    (r"\bcoz(?:y|ier)\b|\bcosy\b|\bwarm(?:er)?\b|温馨|温暖|暖色调|暖色|暖调|暖一点|暖一些", "warm"),
    (r"\bcold(?:er)?\b|\bchilly\b|\bicy\b|\bfrosty\b|冷色调|冷色|冷调|冷一点|冰冷|寒冷|清冷", "cold"),
    (r"\bmood(?:y|ier)\b|brooding|压抑|阴郁", "moody"),
    (r"playful|whimsical|俏皮|童趣", "playful"),
    (r"nostalgic|怀旧", "nostalgic"),
    (r"hopeful|uplifting|希望|励志", "hopeful"),
    (r"\bdark(?:er)?\b|\bgrim\b|黑暗|暗黑", "dark"),
    (r"\bdramatic\b|戏剧性|戏剧化", "dramatic"),
]

CAMERA_SIZE: Table = [
    (r"extreme close[- ]?ups?|\becu\b|大特写", "extreme close-up"),
    (r"medium close[- ]?ups?|\bmcu\b|近景", "medium close-up"),
    (r"close[- ]?ups?|\bcu\b|\bup close\b|特写|近距离", "close-up"),
    (r"extreme wide(?: shot)?|establishing shot|大远景", "extreme wide"),
    (r"wide shot|long shot|\bwider?\b|\bwiden\b|远景|全景", "wide"),
    (r"full shot|full body|全身", "full"),
    (r"medium shot|mid shot|\bmedium\b|中景", "medium"),
]

CAMERA_ANGLE: Table = [
    (r"worm'?s[- ]eye|虫视", "worm's eye"),
    (
        r"low[- ]angle|from (?:a |the )?low|from below|lower the camera|仰拍|仰视|低角度|低机位|低视角"
        r"|从下往上|从下面(?:往上)?拍|放低机位|机位放低",
        "low",
    ),
    (
        r"straight down|directly (?:above|overhead|from above|down)|正上方|垂直(?:俯拍|向下|往下)|\bdrone\b",
        "overhead",
    ),
    (
        r"high[- ]angle|from (?:a |the )?high|from above|raise the camera|俯拍|俯视|高角度|高机位|高视角"
        r"|从上往下|从上面(?:往下)?拍|抬高机位|机位抬高",
        "high",
    ),
    (r"bird'?s[- ]eye|overhead|top[- ]down|aerial|鸟瞰|顶视|航拍|顶拍", "overhead"),
    (r"eye[- ]level|平视", "eye level"),
    (r"dutch(?: angle| tilt)?|canted|tilted angle|倾斜|斜角", "dutch"),
    (r"over[- ]the[- ]shoulder|\bots\b|过肩", "over the shoulder"),
]

CAMERA_MOVEMENT: Table = [
    (
        r"static|locked[- ]off|(?:camera|shot) (?:still|steady)|(?:still|steady|fixed) camera"
        r"|固定镜头|固定机位|静止镜头",
        "static",
    ),
    (r"dolly in|push[- ]in|push in|推镜|推进|推近", "dolly in"),
    (r"dolly out|pull[- ]?(?:back|out)|拉镜|拉远", "dolly out"),
    (r"zoom in|放大镜头|变焦推进", "zoom in"),
    (r"zoom out|变焦拉远", "zoom out"),
    (r"tracking|follow(?:ing)? shot|跟拍|跟随|跟镜", "tracking"),
    (r"handheld|hand-held|手持", "handheld"),
    (r"\bcrane\b|升降", "crane"),
    (r"\borbit(?:ing)?\b|\barc shot\b|环绕", "orbit"),
    (r"\bpan(?:ning)?\b|摇镜|横摇", "pan"),
    (r"\btilt(?:ing)? (?:up|down)\b|\btilt\b|纵摇|上摇|下摇", "tilt"),
]

LOOKS: Table = [
    (r"black[- ](?:and|&)[- ]white|\bb&w\b|\bb/w\b|monochrome|greyscale|grayscale|黑白", "black and white"),
    (r"\bsepia\b|棕褐色|老照片色调", "sepia"),
]

PACING: Table = [
    (
        r"too slow|faster|quicker|speed (?:it |them )?up|snappier|more quickly|pick up the pace"
        r"|tighten(?: it| them)?(?: up)?|"
        r"太慢|拖沓|快一点|快一些|快些|更快|加快|加速|节奏快|节奏更快|快节奏|紧凑|(?:搞|弄|调|剪|节奏)快点",
        "faster",
    ),
    (
        r"too fast|too quick|slower|slow (?:it |them )?down|more slowly|太快"
        r"|\bslow\b(?!\s+(?:motion|mo|zoom|push|pan|dolly|tracking|tilt|orbit|crane|pull|fade|reveal)\b)"
        r"|慢一点|慢一些|慢些|更慢|放慢|减速|节奏慢|节奏更慢|慢节奏",
        "slower",
    ),
]

TASK_KIND: Table = [
    (r"\bvideos?\b|\bclips?\b|animations?|视频|动画|短片", "video"),
    (r"\bgrids?\b|\bimages?\b|pictures?|宫格|图片|出图|图像", "grid"),
    (r"\bvoices?\b|narration|voice-?over|\btts\b|配音|旁白|语音", "voice"),
    (r"\bmusic\b|soundtrack|配乐|音乐", "music"),
    (r"compos(?:e|ing|ition)|\brender(?:s|ing)?\b|合成", "compose"),
    (r"storyboards?|故事板|分镜脚本", "storyboard"),
    (r"exports?|导出", "export"),
]

# export.package formats named in a sentence (several may match: "an EDL and subtitles")
EXPORT_FORMAT_WORDS: Table = [
    (r"premiere|\bfcp ?7\b|final cut (?:pro )?7|\bxml\b", "fcp7xml"),
    (r"final cut pro(?! ?7)|\bfcpx(?:ml)?\b", "fcpxml"),
    (r"\bedls?\b|cmx ?3600", "edl"),
    (r"\botio\b|opentimelineio|davinci|\bresolve\b", "otio"),
    (r"\bsrt\b", "srt"),
    (r"\b(?:web)?vtt\b", "vtt"),
    (r"capcut|jianying|剪映|草稿", "capcut"),
]
SUBTITLE_WORDS = r"\bsubtitles?\b|\bcaptions?\b|\bsubs\b|字幕"
TIMELINE_WORDS = r"\btimelines?\b|\bnle\b|editing software|时间线"

TASK_STATUS: Table = [
    (
        r"\bfail(?:s|ed|ing|ures?)?\b|errors?|\berrored\b|\bcrash(?:ed|es)?\b|\bbroke(?:n)?\b|\bbreak\b"
        r"|\b(?:go|gone|went) wrong\b|失败|出错|报错|挂了|崩了",
        "failed",
    ),
    (r"queued|waiting|pending|in (?:the )?queue|排队|等待", "queued"),
    (
        r"\brunning\b|\brendering\b|in progress|going on|在跑|正在运行|运行中|进行中|正在进行|正在跑|在运行"
        r"|在渲染|渲染中|在生成|生成中",
        "running",
    ),
    (r"cancel(?:l)?ed|已取消|被取消", "canceled"),
    (r"\bdone\b|finished|completed|succeeded|已完成|完成了|成功", "succeeded"),
]

LOCKS: Table = [
    (r"\bfaces?\b|facial|\blooks\b|脸|面部|长相|五官", "face"),
    (r"\bhair(?:style)?\b|发型|头发", "hair"),
    (r"outfits?|costumes?|cloth(?:es|ing)|wardrobe|服装|衣服|穿着|服饰", "outfit"),
    (r"palette|colou?rs?|配色|颜色|色彩", "palette"),
]

REFERENCE_ROLE: Table = [
    (r"\bstyle\b|风格|画风", "style"),
    (r"\bcharacters?\b|角色|人物", "character"),
    (r"\bscenes?\b|\bbackground\b|\bsetting\b|场景|背景", "scene"),
]

ASPECT: Table = [
    (r"vertical|portrait|竖屏|竖版|竖向", "9:16"),
    (r"horizontal|landscape|widescreen|横屏|横版|横向", "16:9"),
    (r"\bsquare\b|方形|正方形", "1:1"),
]

VOICE: Table = [
    (r"\bfemale\b|\bwoman'?s?\b|女声|女生", "female"),
    (r"\bmale\b|\bman'?s?\b|男声|男生", "male"),
    (r"\bdeep\b|低沉", "deep"),
    (r"\bwarm\b|温暖", "warm"),
]

# compose resolutions said by name ("full hd", 全高清); digits ("1080p") are read in offline.py
RESOLUTION: Table = [
    (r"\bfull[- ]?hd\b|\bfhd\b|\b1920\s*[x×*]\s*1080\b|全高清|\bhd\s*1080\b", "1080p"),
    (r"(?<!full )(?<!full-)(?<!full)\bhd\b(?![- ]?ready)|\b1280\s*[x×*]\s*720\b|\bhd\s*720\b", "720p"),
    (r"\bsd\b|\bstandard def(?:inition)?\b|标清|\b854\s*[x×*]\s*480\b", "480p"),
]

PLATFORMS: Table = [
    (r"tiktok|douyin|抖音", "tiktok"),
    (r"youtube shorts|shorts", "youtube shorts"),
    (r"youtube|油管", "youtube"),
    (r"instagram|reels", "instagram"),
    (r"bilibili|b站|哔哩哔哩", "bilibili"),
    (r"xiaohongshu|小红书", "xiaohongshu"),
]

# Words that describe a style slot but are not a style themselves ("the same style", "整体风格").
STYLE_STOPWORDS = {
    "a",
    "an",
    "the",
    "same",
    "this",
    "that",
    "new",
    "overall",
    "whole",
    "project",
    "art",
    "visual",
    "its",
    "my",
    "our",
    "your",
    "in",
    "with",
    "and",
    "of",
    "to",
    "it",
    "make",
    "use",
    "set",
    "change",
    "global",
    "整体",
    "统一",
    "画面",
    "整个",
    "项目",
    "所有",
    "全部",
    "视觉",
    "这个",
    "那个",
    "新",
    "的",
}

# Text that tries to leave the DSL: instructions override, SQL, shell, other tenants, secrets.
INJECTION: list[str] = [
    r"\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:previous|prior|above|earlier|all|any|your|system)\b.{0,20}"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|messages)\b",
    r"\bsystem prompt\b|\byour (?:instructions|prompt|rules)\b|\bjailbreak\b|\bdeveloper mode\b|\bdan mode\b",
    r"\bdrop\s+(?:table|database|schema)\b|\btruncate\s+table\b|\bunion\s+select\b|\bselect\s+\*\s+from\b",
    r"\binsert\s+into\b|\bdelete\s+from\s+[a-z_]+\s*(?:;|where\b|$)|\balter\s+table\b|\bupdate\s+[a-z_]+\s+set\s+[a-z_]+\s*=",
    r";\s*--|'\s*or\s+'?1'?\s*=\s*'?1",
    r"\brm\s+-[a-z]*[rf]|\bsudo\b|\bchmod\b|\bchown\b|/etc/passwd|\bos\.system\b|\bsubprocess\b|__import__|\beval\s*\(",
    r"\bexec\s*\(|\b(?:bash|sh|zsh|powershell|cmd)\s+-c\b|\bcurl\s+(?:-|https?://)|\bwget\s+https?://",
    r"\b(?:run|execute|open|spawn)\s+(?:a\s+|the\s+|this\s+)?(?:shell|terminal|command|script)\b"
    r"|\bshell commands?\b",
    r"\b(?:other|another)\s+(?:users?|tenants?|customers?|accounts?)\b|\bsomeone else'?s\b|\bwhoami\b",
    r"\b(?:all|every|everyone'?s?)\s+(?:users?|tenants?|customers?)'?s?\s+(?:workspaces?|projects?|data|files|accounts?)",
    r"\bother people'?s?\s+(?:workspaces?|projects?|data|files|accounts?)",
    r"\b(?:show|give me|print|reveal|list|dump|leak|expose|display|what(?:'s| is| are))\b.{0,30}"
    r"\b(?:api[- _]?keys?|passwords?|credentials?|secret keys?|access tokens?|"
    r"env(?:ironment)? var(?:iable)?s?)\b",
    r"\b(?:database|db) (?:dump|credentials|password)\b|\bdump (?:the )?(?:database|db|tables?)\b",
    r"忽略.{0,10}(?:指令|指示|提示|规则|设定)|无视.{0,10}(?:指令|规则)|系统提示|越狱",
    r"删除数据库|删库|清空数据库|数据库密码|执行命令|运行命令|执行脚本|终端命令|shell命令",
    r"其他用户|别人的(?:项目|工作区|数据|文件)|所有用户|其它用户|他人的(?:项目|工作区|数据)",
    r"(?:显示|告诉|给我|输出|泄露|查看|打印|列出).{0,10}(?:密码|密钥|令牌|凭证|环境变量)",
]
INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in INJECTION), re.I)


@dataclass(frozen=True)
class FamilyHint:
    """One supported family as shown in "closest supported" suggestions."""

    family: str
    en: str
    zh: str
    keywords: tuple[str, ...]


FAMILY_HINTS: tuple[FamilyHint, ...] = (
    FamilyHint(
        "project.create",
        'start a project ("Make a 12-shot storyboard about …")',
        "新建项目（“做一个关于……的12个分镜的故事板”）",
        (
            "story",
            "storyboard",
            "project",
            "about",
            "make",
            "create",
            "new",
            "故事",
            "故事板",
            "项目",
            "做",
            "新建",
        ),
    ),
    FamilyHint(
        "shot.update",
        'change shots ("Change shots 8 to 12 to night")',
        "修改分镜（“把第8到12个分镜改成夜景”）",
        (
            "change",
            "shot",
            "shots",
            "make",
            "set",
            "night",
            "duration",
            "seconds",
            "angle",
            "camera",
            "faster",
            "改",
            "改成",
            "分镜",
            "镜头",
            "时长",
            "秒",
        ),
    ),
    FamilyHint(
        "gen.grid",
        'generate a grid ("Generate a 9-grid for shot 3")',
        "生成宫格（“给第3个分镜生成九宫格”）",
        (
            "image",
            "images",
            "picture",
            "grid",
            "draw",
            "generate",
            "photo",
            "variation",
            "图",
            "图片",
            "宫格",
            "生成",
            "画",
        ),
    ),
    FamilyHint(
        "gen.video",
        'animate shots ("Animate all shots")',
        "生成视频（“把所有分镜生成视频”）",
        ("video", "animate", "clip", "motion", "movie", "film", "视频", "动", "动画"),
    ),
    FamilyHint(
        "gen.voice",
        'add narration ("Add narration to every shot")',
        "配旁白（“给每个分镜配旁白”）",
        ("voice", "narration", "speak", "audio", "read", "tts", "旁白", "配音", "语音", "声音"),
    ),
    FamilyHint(
        "gen.music",
        'add music ("Add calm background music")',
        "加背景音乐（“加一段舒缓的背景音乐”）",
        ("music", "song", "sound", "soundtrack", "audio", "音乐", "配乐", "歌", "声音"),
    ),
    FamilyHint(
        "gen.compose",
        'compose the video ("Compose a preview")',
        "合成视频（“合成一个预览版”）",
        ("compose", "preview", "final", "render", "export", "mp4", "video", "合成", "预览", "成片", "导出"),
    ),
    FamilyHint(
        "export.package",
        'download favorites ("Export my favorites")',
        "导出收藏（“导出收藏的图片”）",
        (
            "export",
            "download",
            "package",
            "zip",
            "favorites",
            "save",
            "premiere",
            "edl",
            "subtitles",
            "capcut",
            "导出",
            "下载",
            "打包",
            "收藏",
            "字幕",
            "剪映",
        ),
    ),
    FamilyHint(
        "task.cancel",
        'cancel jobs ("Cancel all video jobs")',
        "取消任务（“取消所有视频任务”）",
        ("cancel", "stop", "abort", "kill", "halt", "job", "jobs", "task", "取消", "停止", "任务"),
    ),
    FamilyHint(
        "task.list",
        'see running jobs ("What is running?")',
        "查看任务（“现在有哪些任务在跑”）",
        ("running", "status", "progress", "jobs", "tasks", "queue", "what", "任务", "进度", "状态", "在跑"),
    ),
    FamilyHint(
        "version.rollback",
        'go back to a version ("Go back to before the neon change")',
        "回到旧版本（“回到改霓虹之前的版本”）",
        (
            "undo",
            "back",
            "revert",
            "restore",
            "rollback",
            "version",
            "previous",
            "回到",
            "撤销",
            "版本",
            "恢复",
        ),
    ),
    FamilyHint(
        "character.create",
        'add a character ("Create a character named Mia, a red fox")',
        "新建角色（“新建角色小狐：一只红狐狸”）",
        ("character", "person", "hero", "cast", "actor", "角色", "人物", "主角"),
    ),
    FamilyHint(
        "scene.add",
        'add a scene ("Add a scene after scene 2: a rooftop at night")',
        "添加场景（“在第2场后加一个场景：夜晚的屋顶”）",
        ("scene", "location", "place", "act", "场景", "场", "地点"),
    ),
    FamilyHint(
        "project.set_style",
        'set the style ("Set the style to watercolor")',
        "设置风格（“整体风格改成水彩”）",
        ("style", "look", "aesthetic", "palette", "color", "风格", "画风", "色调"),
    ),
    FamilyHint(
        "node.commit",
        'pick an image ("Use #4 for shot 3")',
        "选定图片（“把第4张设为第3个分镜”）",
        ("use", "pick", "select", "choose", "commit", "keep", "this", "one", "选", "用", "设为", "这张"),
    ),
    FamilyHint(
        "track.fork",
        'branch from an image ("Start a new branch from #7")',
        "另起方案（“从第7张另起一个方案”）",
        ("branch", "fork", "variant", "alternative", "idea", "方案", "分支", "另起"),
    ),
    FamilyHint(
        "shot.delete",
        'delete shots ("Delete shot 5")',
        "删除分镜（“删除第5个分镜”）",
        ("delete", "remove", "cut", "drop", "删除", "删掉", "去掉"),
    ),
)


_ALL_TABLES: tuple[Table, ...] = (
    TIME_OF_DAY,
    LIGHTING,
    WEATHER,
    MOODS,
    CAMERA_SIZE,
    CAMERA_ANGLE,
    CAMERA_MOVEMENT,
    PACING,
    TASK_KIND,
    TASK_STATUS,
    LOCKS,
    REFERENCE_ROLE,
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def zh_label(value: str) -> str:
    """A Chinese word for a canonical value (the first Chinese phrase of its table entry)."""
    for table in _ALL_TABLES:
        for pattern, canonical in table:
            if canonical == value:
                m = _CJK_RUN.search(pattern)
                if m:
                    return m.group(0)
    return value
