"""Round 3 of issue 13: the failure classes of ``unseen_set_3`` fixed as phrasing families, not sentences.

Every case here is a sentence written for this test (none is copied from an evaluation set), grouped
by the class of failure it guards: a verb phrasing the planner lacked, polite padding and greetings,
bare numbers and colloquial counts, project-setting words, structure verbs, references, exceptions,
multi-part requests and follow-ups. Each is planned against a named context of
``tests/agent/eval/contexts.json`` and compared with the evaluation harness's own matcher, exactly
as ``test_planner_generalises.py`` does (its helpers are reused, not copied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.eval import load_cases, match_actions, offline_plan_fn, run_eval
from tests.agent.test_planner_generalises import ASK, CONTEXTS, PLANNER, _dumped, act, upd

Case = tuple[str, str, Any]

CASES: dict[str, list[Case]] = {
    # a verb or noun of a supported family that the grammar did not know
    "verb_family": [
        ("make vids for shots 2 thru 5", "proj12", [act("gen.video", shots=[2, 3, 4, 5])]),
        ("render vids for 6-8 pls", "proj12", [act("gen.video", shots=[6, 7, 8])]),
        ("七到九都转成视频", "proj12", [act("gen.video", shots=[7, 8, 9])]),
        ("二到四 每个出四张图", "zh8", [act("gen.grid", shots=[2, 3, 4], size=4)]),
        ("第五个来九张图", "zh8", [act("gen.grid", shots=[5], size=9)]),
        ("could you be generating pictures for shot 4", "proj12", [act("gen.grid", shots=[4])]),
        ("第三个镜头的口播生成一下", "zh8", [act("gen.voice", shots=[3])]),
        ("先合个样片出来看看", "zh8", [act("gen.compose", mode="preview")]),
        ("做个demo小样", "zh8", [act("gen.compose", mode="preview")]),
        (
            "render the final at 720 with captions",
            "proj12",
            [act("gen.compose", mode="final", resolution="720p", subtitles=True)],
        ),
        ("render the preview with the music", "proj12", [act("gen.compose", mode="preview", music=True)]),
        ("merge 6 and 7 together", "proj12", [act("shot.merge", shots=[6, 7])]),
        ("join 2, 3 into a single shot", "proj12", [act("shot.merge", shots=[2, 3])]),
        ("把5和6并成一个", "zh8", [act("shot.merge", shots=[5, 6])]),
        ("combine the last two shots into one", "proj12", [act("shot.merge", shots=[11, 12])]),
        ("第二个镜头一拆二", "zh8", [act("shot.split", shot=2, parts=2)]),
        ("did any of the grid jobs fail?", "proj12", [act("task.list", status="failed", kind="grid")]),
        ("have the video tasks finished yet", "proj12", [act("task.list", kind="video")]),
        ("查一下有哪些任务失败了", "zh8", [act("task.list", status="failed")]),
        ("看看任务都有哪些", "zh8", [act("task.list")]),
        ("give me a status overview of the jobs", "proj12", [act("task.status")]),
        ("任务整体情况怎么样", "zh8", [act("task.status")]),
        ("save a chekpoint", "proj12", [act("version.snapshot")]),
        (
            "make a snapshot and name it pre-review",
            "proj12",
            [act("version.snapshot", note="~pre-review")],
        ),
        ("存个档，叫做初稿", "zh8", [act("version.snapshot", note="~初稿")]),
    ],
    # greetings, who is speaking, interjections and sentence-final particles around a request
    "padding": [
        ("ugh, undo the neon change", "proj12", [act("version.rollback", before="~neon")]),
        ("hmm make shot 4 foggy", "proj12", [upd([4], weather="fog")]),
        ("Good afternoon! Please animate shot 2.", "proj12", [act("gen.video", shots=[2])]),
        ("hey there, would you mind making shot 5 rainy?", "proj12", [upd([5], weather="rain")]),
        (
            "I'm a youtuber. Can you add narration to shot 3? Thanks!",
            "proj12",
            [act("gen.voice", shots=[3])],
        ),
        ("您好，第二个镜头改成夜景，麻烦了", "zh8", [upd([2], time_of_day="night")]),
        ("我这边想把第四个镜头改成下雪", "zh8", [upd([4], weather="snow")]),
        ("第六个镜头改成黄昏吧", "zh8", [upd([6], time_of_day="dusk")]),
        ("把第一个镜头删掉哈", "zh8", [act("shot.delete", shots=[1])]),
    ],
    # exceptions: a scene as the exception, no comma after 除了, "everything" mid-sentence, typos
    "exceptions": [
        (
            "make everything rainy except scene 2",
            "proj12",
            [upd([1, 2, 3, 8, 9, 10, 11, 12], weather="rain")],
        ),
        (
            "all shots dusk apart from the theft scene",
            "proj12",
            [upd([1, 2, 3, 8, 9, 10, 11, 12], time_of_day="dusk")],
        ),
        (
            "turn everything to night but not shots 3 and 4",
            "proj12",
            [upd([1, 2, 5, 6, 7, 8, 9, 10, 11, 12], time_of_day="night")],
        ),
        (
            "animate evrything except the very first shot",
            "proj12",
            [act("gen.video", shots=[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])],
        ),
        ("remove all the shots in the theft scene", "proj12", [act("shot.delete", shots=[4, 5, 6, 7])]),
        (
            "delete everything from the forest at dawn scene except the first shot",
            "proj12",
            [act("shot.delete", shots=[2, 3])],
        ),
        ("除了第二个 其余都改成雪景", "zh8", [upd([1, 3, 4, 5, 6, 7, 8], weather="snow")]),
        ("除了第一场都配上旁白", "zh8", [act("gen.voice", shots=[5, 6, 7, 8])]),
        ("除了最后一个其他全部转成视频", "zh8", [act("gen.video", shots=[1, 2, 3, 4, 5, 6, 7])]),
        ("删除第1场", "zh8", [act("scene.delete", scene=1)]),
    ],
    # project settings said the way creators say them
    "project": [
        (
            "change the overall look to paper cutout",
            "proj12",
            [act("project.set_style", style="~paper cutout")],
        ),
        (
            "hey, switch the entire aesthetic into cyberpunk please",
            "proj12",
            [act("project.set_style", style="~cyberpunk")],
        ),
        ("风格想要宫崎骏那种手绘的", "zh8", [act("project.set_style", style="~宫崎骏")]),
        ("画风要日漫的", "zh8", [act("project.set_style", style="~日漫")]),
        (
            "from now on nobody drinks alcohol on screen, also no brand logos",
            "proj12",
            [act("project.set_rules", rules=["~alcohol", "~logo"])],
        ),
        ("以后镜头里不准出现香烟", "zh8", [act("project.set_rules", rules=["~香烟"])]),
        ("片名就叫《月亮去哪了》", "zh8", [act("project.update_meta", title="月亮去哪了")]),
        (
            "这条要发小红书 时长限制在45秒",
            "zh8",
            [act("project.update_meta", platform="*", target_duration_s=45)],
        ),
        ("新开个项目《春节特辑》", "empty", [act("project.create", title="春节特辑")]),
        (
            "storyboard this: a robot learns to paint. 5 shots",
            "empty",
            [
                act("project.create", title="*", shot_count=5),
                act("gen.storyboard", story="~robot learns to paint", shot_count=5),
            ],
        ),
        (
            "做个4个镜头的分镜 讲猫咪第一次看雪 水彩风",
            "empty",
            [
                act("project.create", title="*", style="水彩"),
                act("gen.storyboard", story="~猫咪", shot_count=4),
            ],
        ),
        (
            "I need a blank canvas to play around in",
            "empty",
            [act("project.create", workspace_type="draft_space")],
        ),
        ("来个草稿本随便试试", "empty", [act("project.create", workspace_type="draft_space")]),
    ],
    # multi-part requests: a request after free text, after an adverb, lists without a separator
    "multi": [
        (
            "shot 4 dialogue: Give it back! then record it",
            "proj12",
            [upd([4], dialogue="~Give it back"), act("gen.voice", shots=[4], kind="dialogue")],
        ),
        (
            "narration for shot 9: The owl had waited a hundred winters. and then narrate it",
            "proj12",
            [upd([9], narration="~hundred winters"), act("gen.voice", shots=[9], kind="narration")],
        ),
        (
            "第二个镜头旁白改成：月亮不见了。然后生成配音",
            "zh8",
            [upd([2], narration="~月亮不见了"), act("gen.voice", shots=[2])],
        ),
        (
            "第二张就用它 然后马上生成视频",
            "zhpro",
            [act("node.commit", shot=2, cell=2), act("gen.video", shots=[2])],
        ),
        ("第三第五个镜头改成夜景", "zh8", [upd([3, 5], time_of_day="night")]),
        ("第二到第四个镜头都改成雨天", "zh8", [upd([2, 3, 4], weather="rain")]),
        ("第一第二", "asked_shots_zh", [upd([1, 2], weather="rain")]),
    ],
    # wrong arguments that used to run: naming pattern, hair, export
    "arguments": [
        (
            "export the selected shots with file names like {scene}_{shot}",
            "proj12",
            [act("export.package", selection="selected", naming="{scene}_{shot}")],
        ),
        (
            "导出收藏的图，文件名用{shot}-{kind}",
            "zh8",
            [act("export.package", selection="favorites", naming="{shot}-{kind}")],
        ),
        ("猫头鹰换个发型，短一点", "zh8", [act("character.update", name="猫头鹰", patch={"hair": "~短"})]),
        (
            "Mia gets a new haircut, short and spiky",
            "proj12",
            [act("character.update", name="Mia", patch={"hair": "~spiky"})],
        ),
    ],
    # structure: inserts, title cards, scenes reordered or dropped, shots named by what they show
    "structure": [
        (
            "before shot 3 pop in a short 2 sec shot of falling leaves",
            "proj12",
            [act("shot.add", after=2, spec={"visual": "~falling leaves", "duration_s": 2})],
        ),
        (
            "open with an intro card that says 'Chapter One'",
            "proj12",
            [act("shot.add", after=0, spec={"visual": "~Chapter One"})],
        ),
        (
            "第三个后面插一个小狐狸回头看的镜头",
            "zh8",
            [act("shot.add", after=3, spec={"visual": "~小狐狸回头看"})],
        ),
        (
            "最后再加一个特写，月亮的倒影",
            "zh8",
            [act("shot.add", spec={"visual": "~倒影", "camera": {"size": "close-up"}})],
        ),
        ("scene 2 after scene 3 please", "proj12", [act("scene.reorder", scene=2, to=3)]),
        ("把第二场挪到前面", "zh8", [act("scene.reorder", scene=2, to=1)]),
        ("remove scene 1 but keep its shots", "proj12", [act("scene.delete", scene=1)]),
        ("第二场删了，镜头都保留", "zh8", [act("scene.delete", scene=2)]),
        ("cut the climb shot into two parts", "proj12", [act("shot.split", shot=4, parts=2)]),
        ("move the celebration shot to the front", "proj12", [act("shot.reorder", shot=12, to=1)]),
        ("record the dialogue for the argue shot", "proj12", [act("gen.voice", shots=[10], kind="dialogue")]),
        (
            "put the owl-blocks-the-path shot first, stronger hook",
            "proj12",
            [act("shot.reorder", shot=9, to=1)],
        ),
        ("make the wide shot darker", "proj12", ASK),
    ],
    # vocabulary: camera words, light named after a time, moods, grid sizes said in passing
    "vocabulary": [
        ("shot 5 should look straight down on the lake", "proj12", [upd([5], camera={"angle": "overhead"})]),
        ("第七个镜头从正上方拍", "zh8", [upd([7], camera={"angle": "overhead"})]),
        ("give shots 2 and 3 sunset lighting", "proj12", [upd([2, 3], lighting="dusk")]),
        ("第四个镜头改成黄金时刻", "zh8", [upd([4], time_of_day="golden hour")]),
        (
            "some mellow lofi music please, a minute long",
            "proj12",
            [act("gen.music", mood="chill", duration_s=60)],
        ),
        ("来一段慵懒的背景音乐", "zh8", [act("gen.music", mood="chill")]),
        ("regenerate the grid for shot 4 but 9 this time", "proj12", [act("gen.grid", shots=[4], size=9)]),
        ("第八个镜头鸟瞰", "zh8", [upd([8], camera={"angle": "overhead"})]),
    ],
    # Pro mode, versions and follow-ups: choices restated, images named bare, tracks as "versions"
    "followup_pro": [
        ("make them move", "asked_choice", [act("gen.video", shots="all")]),
        ("set the platform", "asked_choice", [act("project.update_meta", platform="tiktok")]),
        ("都生成视频吧", "asked_choice_zh", [act("gen.video", shots="all")]),
        ("第一场的", "asked_shots_zh", [upd([1, 2, 3, 4], weather="rain")]),
        ("第一第二", "asked_shots_zh", [upd([1, 2], weather="rain")]),
        ("#4 is the winner, go with that one", "pro3", [act("node.commit", shot=3, cell=4)]),
        ("i love 3 and 5, star them", "pro3", [act("node.favorite", cell=3), act("node.favorite", cell=5)]),
        ("我喜欢2和4，都收藏", "zhpro", [act("node.favorite", cell=2), act("node.favorite", cell=4)]),
        ("switch to the B take for this shot", "pro3", [act("track.switch", shot=3, track="B")]),
        ("还是A方案好，换过去", "zhpro", [act("track.switch", shot=2, track="A")]),
        ("把霓虹灯的修改改回去", "zh8", [act("version.rollback", before="~霓虹")]),
        ("霓虹那个改动撤了吧", "zh8", [act("version.rollback", before="~霓虹")]),
    ],
    # slang verbs and words that look like another family ("kill" a shot, "别的" is not "别")
    "slang": [
        ("kill shot 7 pls", "proj12", [act("shot.delete", shots=[7])]),
        ("nuke shots 2 and 3", "proj12", [act("shot.delete", shots=[2, 3])]),
        ("kill the video jobs", "proj12", [act("task.cancel", kind="video")]),
        ("lose scene 3 but keep the shots", "proj12", [act("scene.delete", scene=3)]),
        ("can we get some vids going for the whole thing", "proj12", [act("gen.video", shots="all")]),
        ("除了第三个，别的都改成黄昏", "zh8", [upd([1, 2, 4, 5, 6, 7, 8], time_of_day="dusk")]),
        ("别的镜头都加点雾", "zh8", ASK),
        (
            "开头加一个片头字幕卡，写着《狐狸偷月亮》",
            "zh8",
            [act("shot.add", after=0, spec={"visual": "~狐狸偷月亮"})],
        ),
    ],
    # second batch of own sentences: "cut … down by", bare shot numbers after a verb, 别改 exceptions,
    # 配个音乐 (music, not a voice), 再来个 after a change, 画面整体, 从第N张再出一组
    "second_batch": [
        ("cut shot 6 down by a second", "proj12", [upd([6], duration_s=2)]),
        ("trim shot 12 by two seconds", "proj12", [upd([12], duration_s=4)]),
        ("don't animate shot 5, just animate 6", "proj12", [act("gen.video", shots=[6])]),
        ("pls narrate 4", "proj12", ASK),
        (
            "delete shot 2 and then delete 9",
            "proj12",
            [act("shot.delete", shots=[2]), act("shot.delete", shots=[9])],
        ),
        ("第5个别改，其他的都加上霓虹灯", "zh8", [upd([1, 2, 3, 4, 6, 7, 8], lighting="neon")]),
        ("第二个保持不变，其余都改成阴天", "zh8", [upd([1, 3, 4, 5, 6, 7, 8], weather="overcast")]),
        ("给第一场配个音乐，要悬疑一点的", "zh8", [act("gen.music", mood="tense")]),
        ("配音乐吧，欢快一点", "zh8", [act("gen.music", mood="cheerful")]),
        (
            "最后一个镜头改成特写 再来个九宫格",
            "zh8",
            [upd([8], camera={"size": "close-up"}), act("gen.grid", shots=[8], size=9)],
        ),
        ("画面整体暖一点", "zh8", [upd("all", mood="warm")]),
        ("从第三张再出一组", "zhpro", [act("gen.grid", shots=[2], from_cell=3)]),
        ("can you lock shot 2 so nothing changes it", "proj12", ASK),
    ],
    # third batch: quoted titles keep no quotes, character locks said as "can't change"
    "third_batch": [
        ("change the title to 'Moonfall'", "proj12", [act("project.update_meta", title="Moonfall")]),
        ('rename the project to "Night Thief"', "proj12", [act("project.update_meta", title="Night Thief")]),
        ("给小狐狸加个角色锁，外貌不能变", "zh8", [act("character.lock", name="小狐狸")]),
        ("猫头鹰的衣服别变", "zh8", [act("character.lock", name="猫头鹰", locks=["outfit"])]),
        (
            "keep Mia's face the same in every shot",
            "proj12",
            [act("character.lock", name="Mia", locks=["face"])],
        ),
    ],
    # fourth batch: "between N and M", "as clips", multi-word "the … shots", 除…外都, bare ZH ranges,
    # retrying "the failed one", "就这张了" needs an image to point at
    "fourth_batch": [
        (
            "add a scene between 2 and 3 where the owl wakes up",
            "proj12",
            [act("scene.add", after=2, spec={"description": "~owl wakes up"})],
        ),
        ("在第一场和第二场之间加一场", "zh8", [act("scene.add", after=1)]),
        ("shots 1 and 2 as video clips please", "proj12", [act("gen.video", shots=[1, 2])]),
        ("the old owl shots should be slower", "proj12", [upd([9, 10], pacing="slower")]),
        ("除第二场外都改成晴天", "zh8", [upd([1, 2, 3, 4], weather="clear")]),
        (
            "everything except scene 1 should be snowy",
            "proj12",
            [upd([4, 5, 6, 7, 8, 9, 10, 11, 12], weather="snow")],
        ),
        ("三到五重新出图", "zh8", [act("gen.grid", shots=[3, 4, 5])]),
        ("失败的那个宫格重新生成一下", "zh8", [act("task.retry")]),
        ("regenerate the failed video", "proj12", [act("task.retry")]),
        ("就这张了", "zhpro", ASK),
    ],
    # fifth batch: a complaint with the wish after it, "the one with …", two project settings at once
    "fifth_batch": [
        ("shot 4 is too dark, brighten it up", "proj12", [upd([4], lighting="high-key")]),
        ("第七个镜头太暗了，调亮一点", "zh8", [upd([7], lighting="high-key")]),
        ("the one with the owl blocking the path, make it stormy", "proj12", [upd([9], weather="storm")]),
        (
            "make the style watercolor and the format vertical",
            "proj12",
            [act("project.set_style", style="~watercolor"), act("project.update_meta", aspect_ratio="9:16")],
        ),
        (
            "风格改成水彩，画幅改成竖屏",
            "zh8",
            [act("project.set_style", style="~水彩"), act("project.update_meta", aspect_ratio="9:16")],
        ),
        (
            "set the title to Moon and the platform to youtube",
            "proj12",
            [act("project.update_meta", title="Moon"), act("project.update_meta", platform="youtube")],
        ),
        ("make the style anime", "proj12", [act("project.set_style", style="anime")]),
    ],
}

FLAT = [(cat, s, ctx, exp) for cat, rows in CASES.items() for s, ctx, exp in rows]


@pytest.mark.parametrize(
    ("category", "sentence", "ctx", "expected"), FLAT, ids=[f"{c}:{s[:40]}" for c, s, _, _ in FLAT]
)
def test_round_3_phrasing_families(category: str, sentence: str, ctx: str, expected: Any) -> None:
    turn = PLANNER.plan(sentence, CONTEXTS[ctx])
    if expected == ASK:
        assert not turn.actions, (turn.intent, _dumped(turn))
        assert turn.message
        return
    total = (CONTEXTS[ctx].get("workspace") or {}).get("shots")
    ok, why = match_actions(expected, _dumped(turn), total)
    assert ok, (why, _dumped(turn), turn.evidence)
    assert turn.mode == "propose" or turn.mode == turn.decide_mode()


def test_every_class_is_tested_in_both_languages() -> None:
    for category, rows in CASES.items():
        langs = {"zh" if any("\u4e00" <= ch <= "\u9fff" for ch in s) else "en" for s, _, _ in rows}
        assert langs == {"en", "zh"}, category


OWN_SENTENCES = Path(__file__).parent / "eval" / "round3_own_sentences.jsonl"


def test_the_helpers_own_probe_sentences_stay_read() -> None:
    """The 31 batches of new sentences written during round 3 (80.4 % on first contact, see
    RESULTS.md), kept as a regression net in the evaluation format: every one is read right now."""
    cases = load_cases(OWN_SENTENCES)
    results = run_eval(cases, offline_plan_fn())
    wrong = [(r.case.sentence, r.outcome, r.why) for r in results if r.outcome != "correct"]
    assert len(cases) >= 450 and not wrong, wrong
    assert {c.lang for c in cases} == {"en", "zh"}


@pytest.mark.parametrize("sentence", ["make shot 6 a wide shot from above", "shoot shot 2 from above"])
def test_a_camera_word_people_use_for_two_angles_is_confirmed_first(sentence: str) -> None:
    """ "from above" reads as a high angle, but people also mean straight overhead: the plan is
    proposed (a confirm card), never executed on a guess."""
    turn = PLANNER.plan(sentence, CONTEXTS["proj12"])
    assert [a.type for a in turn.actions] == ["shot.update"]
    assert _dumped(turn)[0]["args"]["patch"]["camera"]["angle"] == "high"
    assert turn.mode == "propose"
