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
from agent.planner import coverage
from agent.planner.offline import PlanningContext
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


# --------------------------------------------------------------------------------------------------
# Round 4: the failure classes of ``unseen_set_4`` (none of these sentences is in a set)
# --------------------------------------------------------------------------------------------------

ROUND4: dict[str, list[Case]] = {
    # relative lengths said with a verb: "lose / shave off / gain N seconds", 少一秒 / 多两秒
    "relative_length": [
        ("shot 4 should lose a second", "proj12", [upd([4], duration_s=3.0)]),
        ("shave off a second from shot 2", "proj12", [upd([2], duration_s=2.0)]),
        ("let shot 3 gain two seconds", "proj12", [upd([3], duration_s=7.0)]),
        ("shot 5 could drop 3 seconds", "proj12", [upd([5], duration_s=3.0)]),
        ("第四个镜头少一秒", "zh8", [upd([4], duration_s=3.0)]),
        ("第二个镜头多两秒", "zh8", [upd([2], duration_s=5.0)]),
        # 3 s less than 3 s is no shot: asked, never set to the number said
        ("shot 6 has to lose three seconds", "proj12", ASK),
        ("第六个镜头减掉两秒", "zh8", ASK),
    ],
    # "look like <weather/time>" is a shot setting, not a style; "look like <a style>" still is one
    "look_like_a_setting": [
        ("can shots 9 and 10 look like it's raining", "proj12", [upd([9, 10], weather="rain")]),
        ("make shot 2 look like dusk", "proj12", [upd([2], time_of_day="dusk")]),
        ("make the lake shots look like there's fog", "proj12", [upd([8, 9], weather="fog")]),
        (
            "make everything look like an oil painting",
            "proj12",
            [act("project.set_style", style="~oil painting")],
        ),
        ("第三个镜头看起来像下雪", "zh8", [upd([3], weather="snow")]),
    ],
    # option values said by name: resolutions, frame rates, voices, tags, total length, titles
    "named_options": [
        (
            "compose the final video, fhd, no subtitles",
            "proj12",
            [act("gen.compose", mode="final", resolution="1080p", subtitles=False)],
        ),
        ("render a preview in hd", "proj12", [act("gen.compose", mode="preview", resolution="720p")]),
        ("quick preview, 1280x720", "proj12", [act("gen.compose", mode="preview", resolution="720p")]),
        ("合成成片，全高清", "zh8", [act("gen.compose", mode="final", resolution="1080p")]),
        (
            "来一版带字幕的成片，标清就行",
            "zh8",
            [act("gen.compose", mode="final", resolution="480p", subtitles=True)],
        ),
        ("做个带配乐的小样", "zh8", [act("gen.compose", mode="preview", music=True)]),
        ("animate shot 2 at a frame rate of 30", "proj12", [act("gen.video", shots=[2], fps=30)]),
        ("第五个镜头生成视频，帧率设为30", "zh8", [act("gen.video", shots=[5], fps=30)]),
        ("voice shot 4 using the Juniper voice", "proj12", [act("gen.voice", shots=[4], voice="Juniper")]),
        ("第三个镜头配旁白，用Nova的声音", "zh8", [act("gen.voice", shots=[3], voice="Nova")]),
        ("star #5 and label it hero", "pro3", [act("node.favorite", cell=5, tags=["hero"])]),
        ("收藏第3张，打上封面标签", "zhpro", [act("node.favorite", cell=3, tags=["封面"])]),
        (
            "keep the video around 1.5 minutes total",
            "proj12",
            [act("project.update_meta", target_duration_s=90)],
        ),
        (
            "make the whole film a minute and a half",
            "proj12",
            [act("project.update_meta", target_duration_s=90)],
        ),
        ("总时长1分30秒", "zh8", [act("project.update_meta", target_duration_s=90)]),
        ("整个片子一分钟半", "zh8", [act("project.update_meta", target_duration_s=90)]),
        ("片名改叫《月亮去哪了》", "zh8", [act("project.update_meta", title="月亮去哪了")]),
        ("标题换成“狐狸与月亮”", "zh8", [act("project.update_meta", title="~狐狸与月亮")]),
    ],
    # structure verbs in more words: squash/collapse into one, 并在一起, bare ranges to delete,
    # "but keep N", the shot named by its event, "so it comes first", 插一个：…
    "structure": [
        ("mash shots 4 and 5 into one", "proj12", [act("shot.merge", shots=[4, 5])]),
        ("collapse 8 and 9 into a single shot", "proj12", [act("shot.merge", shots=[8, 9])]),
        ("第二和第三个镜头连在一起", "zh8", [act("shot.merge", shots=[2, 3])]),
        ("把三和四合在一起", "zh8", [act("shot.merge", shots=[3, 4])]),
        ("remove 7 and 8", "proj12", [act("shot.delete", shots=[7, 8])]),
        ("delete 2-6, but keep 3", "proj12", [act("shot.delete", shots=[2, 4, 5, 6])]),
        ("删掉二到四", "zh8", [act("shot.delete", shots=[2, 3, 4])]),
        ("删除2到4，保留第3个", "zh8", [act("shot.delete", shots=[2, 4])]),
        ("chop the argument into two shots", "proj12", [act("shot.split", shot=10, parts=2)]),
        ("right after the celebration, add a title card", "proj12", [act("shot.add", after=12)]),
        ("the shot before the leap should be a close-up", "proj12", [upd([4], camera={"size": "close-up"})]),
        ("move shot 9 so it's last", "proj12", [act("shot.reorder", shot=9, to=12)]),
        ("put the shot with the kids so that it comes first", "proj12", [act("shot.reorder", shot=7, to=1)]),
        (
            "insert one after 3: the owl lands on a branch",
            "proj12",
            [act("shot.add", after=3, spec={"visual": "~owl lands"})],
        ),
        (
            "第五个镜头前面加一个：小狐狸在睡觉",
            "zh8",
            [act("shot.add", after=4, spec={"visual": "~小狐狸在睡觉"})],
        ),
    ],
    # questions about failed jobs in more words, a task id with 咋样 / 跑完了没
    "tasks": [
        ("has something crashed?", "proj12", [act("task.list", status="failed")]),
        ("did any of them go wrong", "proj12", [act("task.list", status="failed")]),
        ("video-2-x9 跑完了没", "zh8", [act("task.status", task_id="video-2-x9")]),
        ("grid-5-c3 现在咋样", "zh8", [act("task.status", task_id="grid-5-c3")]),
    ],
    # references: "both / all of them" after several clauses, bare lists after "for" or a shot verb,
    # "<framing> shot for N", two camera clauses on one shot, typos of domain verbs
    "references": [
        (
            "make shot 4 rainy, shot 6 foggy, then narrate all of them",
            "proj12",
            [upd([4], weather="rain"), upd([6], weather="fog"), act("gen.voice", shots=[4, 6])],
        ),
        (
            "shot 1 at dawn and shot 5 at night, then animate both",
            "proj12",
            [upd([1], time_of_day="dawn"), upd([5], time_of_day="night"), act("gen.video", shots=[1, 5])],
        ),
        ("animate 10 and 11", "proj12", [act("gen.video", shots=[10, 11])]),
        ("record the narration for 3, 5 and 7", "proj12", [act("gen.voice", shots=[3, 5, 7])]),
        ("close-up shot for 3", "proj12", [upd([3], camera={"size": "close-up"})]),
        ("a low angle shot for 5 please", "proj12", [upd([5], camera={"angle": "low"})]),
        (
            "第二个镜头改成特写，再加个推镜头",
            "zh8",
            [upd([2], camera={"size": "close-up", "movement": "dolly in"})],
        ),
        ("insret a shot after 3: the owl sleeps", "proj12", [act("shot.add", after=3)]),
        ("shortne shot 2 by a second", "proj12", [upd([2], duration_s=2.0)]),
        (
            "lock the fox's outfit, it keeps changing",
            "proj12",
            [act("character.lock", name="Fox", locks=["outfit"])],
        ),
    ],
    # a line said after 说/喊 in quotes (no colon), a scene named by its title with 那场/这场
    "lines_and_scenes": [
        ("第二个镜头里猫头鹰喊“站住！”", "zh8", [upd([2], dialogue="~站住")]),
        ("第七个镜头让孩子们说“月亮去哪了？”", "zh8", [upd([7], dialogue="~月亮去哪了")]),
        ('in shot 4 the owl shouts "Stop, thief!"', "proj12", [upd([4], dialogue="~Stop, thief")]),
        ("清晨的森林那场挪到最后", "zh8", [act("scene.reorder", scene=1, to=2)]),
        ("偷月亮这场放到开头", "zh8", [act("scene.reorder", scene=2, to=1)]),
        ("put the frozen lake scene first", "proj12", [act("scene.reorder", scene=3, to=1)]),
        ("the theft scene should go last", "proj12", [act("scene.reorder", scene=2, to=3)]),
    ],
    # a new film with its story after a colon; an exception named as "the one where/with …"
    "stories_and_exceptions": [
        (
            "拍个动画：小猫学游泳，6个镜头，水彩风",
            "empty",
            [
                act("project.create", title="*", style="~水彩"),
                act("gen.storyboard", story="~小猫学游泳", shot_count=6),
            ],
        ),
        (
            "make me a short film: a lighthouse keeper befriends a whale, 10 shots",
            "empty",
            [
                act("project.create", title="*"),
                act("gen.storyboard", story="~lighthouse keeper", shot_count=10),
            ],
        ),
        (
            "narrate shots 1-6, skip the ones with the fox climbing",
            "proj12",
            [act("gen.voice", shots=[1, 2, 3, 5, 6])],
        ),
        (
            "animate shots 8 to 12 except the one where the owl blocks the path",
            "proj12",
            [act("gen.video", shots=[8, 10, 11, 12])],
        ),
        (
            "animate everything but not the ones with the owl",
            "proj12",
            [act("gen.video", shots=[1, 2, 3, 4, 5, 6, 7, 8, 11, 12])],
        ),
        ("第一到第五个都生成视频，狐狸爬树那个镜头除外", "zh8", [act("gen.video", shots=[1, 2, 3, 5])]),
    ],
    # a fact the picture gains, said as "add/mention that …" or 补充一句：…
    "added_facts": [
        ("for shot 2, mention that the grass is wet", "proj12", [upd([2], visual="~the grass is wet")]),
        ("in shot 11 add that the sky turns pink", "proj12", [upd([11], visual="~sky turns pink")]),
        ("第六个镜头补充一句：月亮变成血红色", "zh8", [upd([6], visual="~月亮变成血红色")]),
        ("第二个镜头写上：草地是湿的", "zh8", [upd([2], visual="~草地是湿的")]),
    ],
    # what the helper's own first batch after the set-4 fixes showed (same families, other words)
    "own_batch": [
        ("get rid of 11 and 12", "proj12", [act("shot.delete", shots=[11, 12])]),
        ("animate 2 at 12 fps", "proj12", [act("gen.video", shots=[2], fps=12)]),
        ("tag #4 as moody", "pro3", [act("node.favorite", cell=4, tags=["moody"])]),
        ("put the lake scene at the start", "proj12", [act("scene.reorder", scene=3, to=1)]),
        ("有没有任务挂了", "zh8", [act("task.list", status="failed")]),
        ("第一个到第四个都配旁白，用Luna的声音", "zh8", [act("gen.voice", shots=[1, 2, 3, 4], voice="Luna")]),
        (
            "hd preview w/o music",
            "proj12",
            [act("gen.compose", mode="preview", resolution="720p", music=False)],
        ),
        (
            "出个720p的预览，不要音乐",
            "zh8",
            [act("gen.compose", mode="preview", resolution="720p", music=False)],
        ),
        ("keep the runtime under 2 minutes", "proj12", [act("project.update_meta", target_duration_s=120)]),
        ("成片别超过两分钟", "zh8", [act("project.update_meta", target_duration_s=120)]),
        ("删掉第二到第四个，第三个留着", "zh8", [act("shot.delete", shots=[2, 4])]),
        (
            "第三个和第四个改成雨天，然后这两个都做成视频",
            "zh8",
            [upd([3, 4], weather="rain"), act("gen.video", shots=[3, 4])],
        ),
        (
            "第二个镜头改成夜景，第三个镜头改成雨天，然后这两个都生成视频",
            "zh8",
            [upd([2], time_of_day="night"), upd([3], weather="rain"), act("gen.video", shots=[2, 3])],
        ),
        ("what's failing right now?", "proj12", [act("task.list", status="failed")]),
        ("现在有失败的任务吗", "zh8", [act("task.list", status="failed")]),
        (
            "the video should run about a minute and a half",
            "proj12",
            [act("project.update_meta", target_duration_s=90)],
        ),
        ('give shot 6 the line "mine now"', "proj12", [upd([6], dialogue="~mine now")]),
        ("delete the last two but keep 12", "proj12", [act("shot.delete", shots=[11])]),
        ("删掉最后两个，第八个留着", "zh8", [act("shot.delete", shots=[7])]),
        (
            "第一个改成远景，第二个改成特写，然后它们都生成视频",
            "zh8",
            [
                upd([1], camera={"size": "wide"}),
                upd([2], camera={"size": "close-up"}),
                act("gen.video", shots=[1, 2]),
            ],
        ),
        ("swap 4 and 5", "proj12", [act("shot.reorder", shot=4, to=5)]),
        ("四和五换个位置", "zh8", [act("shot.reorder", shot=4, to=5)]),
        ("shot 10 needs more tension", "proj12", [upd([10], mood="tense")]),
        ("can we get a low angle on 6?", "proj12", [upd([6], camera={"angle": "low"})]),
        ("shot 2 loses its fog", "proj12", [upd([2], weather="clear")]),
        ("get rid of the rain on 4", "proj12", [upd([4], weather="clear")]),
        ("cut 3", "proj12", [act("shot.delete", shots=[3])]),
        ("make it look like it's raining", "pro3", [upd([3], weather="rain")]),
        (
            "ok now shots 1 through 3 need to lose a second each",
            "proj12",
            [upd([1], duration_s=3.0), upd([2], duration_s=2.0), upd([3], duration_s=4.0)],
        ),
        (
            "一到三每个都少一秒",
            "zh8",
            [upd([1], duration_s=3.0), upd([2], duration_s=2.0), upd([3], duration_s=4.0)],
        ),
        ("merge 9 & 10 please", "proj12", [act("shot.merge", shots=[9, 10])]),
        (
            "i want the whole video under a minute",
            "proj12",
            [act("project.update_meta", target_duration_s=60)],
        ),
        (
            "voice the dialogue on 6 with the Ember voice",
            "proj12",
            [act("gen.voice", shots=[6], kind="dialogue", voice="Ember")],
        ),
        ("move 12 to the front", "proj12", [act("shot.reorder", shot=12, to=1)]),
        ("有卡住或者失败的任务吗", "zh8", [act("task.list", status="failed")]),
        ("第五个镜头一分为三", "zh8", [act("shot.split", shot=5, parts=3)]),
        ("add rain to 5 and 6", "proj12", [upd([5, 6], weather="rain")]),
        ("add fog to 2, 3 and 4", "proj12", [upd([2, 3, 4], weather="fog")]),
        ("pls make shot4 nite", "proj12", [upd([4], time_of_day="night")]),
        ("vid for 11 pls", "proj12", [act("gen.video", shots=[11])]),
        (
            "Could you kindly render a 720p preview of the current cut?",
            "proj12",
            [act("gen.compose", mode="preview", resolution="720p")],
        ),
        ("把配音的任务停了", "zh8", [act("task.cancel", kind="voice")]),
        (
            "老师想要一个讲水循环的6个镜头的分镜",
            "empty",
            [act("project.create", title="*"), act("gen.storyboard", story="~水循环", shot_count=6)],
        ),
        ("make the lake shots look like a watercolor", "proj12", [upd([8, 9], style_override="watercolor")]),
        ("把时长改成一分半", "zh8", [act("project.update_meta", target_duration_s=90)]),
        ("把时长改成4秒", "zhpro", [upd([2], duration_s=4.0)]),  # a shot's length, not the film's
        ("给第五个镜头的视频再出一版", "zh8", [act("gen.video", shots=[5])]),
        # other shots are no style; taking an image out of the favorites is not in the DSL
        ("make the lake shots look like the forest ones", "proj12", ASK),
        ("make everything look like the first shot", "proj12", ASK),
        ("删掉收藏里的第2张", "zhpro", ASK),
        ("remove #2 from my favorites", "pro3", ASK),
        # a setting said to be disliked is taken away, never set; "先别" before the verb is no request
        ("i don't like the rain in shot 4", "proj12", [upd([4], weather="clear")]),
        ("i really don't want the fog in shot 2", "proj12", [upd([2], weather="clear")]),
        ("第四个镜头的雨我不喜欢", "zh8", [upd([4], weather="clear")]),
        ("不喜欢第二个镜头的雾", "zh8", [upd([2], weather="clear")]),
        ("第七个先别生成视频", "zh8", ASK),
        ("第三个镜头先不要配旁白", "zh8", ASK),
        # something new placed next to a shot is a new shot, never an edit of that shot
        (
            "put a close-up of the owl's eyes after shot 9",
            "proj12",
            [act("shot.add", after=9, spec={"visual": "~owl's eyes", "camera": {"size": "close-up"}})],
        ),
        ("add a wide shot of the village before shot 7", "proj12", [act("shot.add", after=6)]),
        (
            "在第六个后面加一个猫头鹰眼睛的特写",
            "zh8",
            [act("shot.add", after=6, spec={"visual": "~猫头鹰眼睛", "camera": {"size": "close-up"}})],
        ),
        ("第三个后面加一个远景", "zh8", [act("shot.add", after=3, spec={"camera": {"size": "wide"}})]),
        ("最后一个镜头出四张图给我挑", "zh8", [act("gen.grid", shots=[8], size=4)]),
        ("make shots 3-5 dreamier", "proj12", [upd([3, 4, 5], mood="dreamy")]),
        ("shot 9 creepier please", "proj12", [upd([9], mood="eerie")]),
        ("make shot 12 the opening", "proj12", [act("shot.reorder", shot=12, to=1)]),
        ("make shot 3 the ending", "proj12", [act("shot.reorder", shot=3, to=12)]),
        ("把第八个镜头放到开头", "zh8", [act("shot.reorder", shot=8, to=1)]),
        # several things named by what was done to them are never the focused shot
        ("animate the ones i favorited", "pro3", ASK),
        ("把收藏的都生成视频", "zhpro", ASK),
        (
            "画幅改成16:9，发B站",
            "zh8",
            [act("project.update_meta", aspect_ratio="16:9", platform="bilibili")],
        ),
        ("the owl has grey feathers and amber eyes", "proj12", [act("character.update", name="Owl")]),
        (
            "the fox has a bushy white tail",
            "proj12",
            [act("character.update", name="Fox", patch={"profile": "~tail"})],
        ),
        ("slow down shot 8 a bit and add some fog", "proj12", [upd([8], pacing="slower", weather="fog")]),
        ("shot 2 rainy, then grid it", "proj12", [upd([2], weather="rain"), act("gen.grid", shots=[2])]),
        ("第八个节奏慢一点，再加点雾", "zh8", [upd([8], pacing="slower", weather="fog")]),
        # removing a recording is asked, whatever the verb (and a bare "on 3" names the shot)
        ("lose the narration on 3", "proj12", ASK),
        ("ditch the voiceover on 5", "proj12", ASK),
        # a question about the film is no request to compose it
        ("成片有多长", "zh8", ASK),
        ("how long is the final cut?", "proj12", ASK),
    ],
}
ROUND4_FLAT = [(cat, s, ctx, exp) for cat, rows in ROUND4.items() for s, ctx, exp in rows]


@pytest.mark.parametrize(
    ("category", "sentence", "ctx", "expected"), ROUND4_FLAT, ids=[f"{c}:{s}" for c, s, _, _ in ROUND4_FLAT]
)
def test_round_4_phrasing_families(category: str, sentence: str, ctx: str, expected: Any) -> None:
    test_round_3_phrasing_families(category, sentence, ctx, expected)


def test_every_round_4_class_is_tested_in_both_languages() -> None:
    for category, rows in ROUND4.items():
        langs = {"zh" if any("\u4e00" <= ch <= "\u9fff" for ch in s) else "en" for s, _, _ in rows}
        assert langs == {"en", "zh"}, category


GATE_CTX = PlanningContext.model_validate(CONTEXTS["proj12"])
GATE_CTX_ZH = PlanningContext.model_validate(CONTEXTS["zh8"])


@pytest.mark.parametrize(
    ("sentence", "actions", "ctx"),
    [  # a plan that drops an option the sentence names: resolution, frame rate, tag, voice, total length
        ("compose the final cut in 4k", [act("gen.compose", mode="final")], GATE_CTX),
        ("preview at full hd please", [act("gen.compose", mode="preview")], GATE_CTX),
        ("animate shot 2 at 30 fps", [act("gen.video", shots=[2])], GATE_CTX),
        ("fav #2 and tag it cover", [act("node.favorite", cell=2)], GATE_CTX),
        ("narrate shot 5 with the Juniper voice", [act("gen.voice", shots=[5])], GATE_CTX),
        ("合成成片，要超清的", [act("gen.compose", mode="final")], GATE_CTX_ZH),
        ("第二个镜头生成视频，帧率30", [act("gen.video", shots=[2])], GATE_CTX_ZH),
        ("成片控制在两分钟以内", [act("gen.compose", mode="final")], GATE_CTX_ZH),
        # a Chinese prompt cut out of the middle of a phrase, or ending on a dangling 第
        ("第二个镜头来个四宫格，要俯视的机位", [act("gen.grid", shots=[2], prompt="要 的机位")], GATE_CTX_ZH),
        ("参照第3张再来一组", [act("gen.grid", shots=[2], prompt="参照第")], GATE_CTX_ZH),
        # a place next to a shot planned as an edit of that shot
        ("put a close-up of the owl's eyes after shot 9", [upd([9], camera={"size": "close-up"})], GATE_CTX),
        ("在第六个后面加一个特写", [upd([6], camera={"size": "close-up"})], GATE_CTX_ZH),
        # a platform the sentence names that the plan drops
        ("画幅改成16:9，发小红书", [act("project.update_meta", aspect_ratio="16:9")], GATE_CTX_ZH),
    ],
)
def test_the_precision_gate_sees_a_dropped_option_or_a_prompt_fragment(
    sentence: str, actions: list[dict[str, Any]], ctx: PlanningContext
) -> None:
    """Round 4's wrong executions came from plans that read the verb but dropped a named option or
    kept the leftovers of a phrase as a prompt: the coverage check reports both, so such a plan is
    proposed, not run."""
    assert coverage.measure(sentence, actions, ctx).gaps > 0


@pytest.mark.parametrize(
    ("sentence", "actions", "ctx"),
    [  # the same options carried by the plan: no gap
        (
            "compose the final cut in full hd",
            [act("gen.compose", mode="final", resolution="1080p")],
            GATE_CTX,
        ),
        ("animate shot 2 at 30 fps", [act("gen.video", shots=[2], fps=30)], GATE_CTX),
        ("第二个镜头来个四宫格，要更多雾气", [act("gen.grid", shots=[2], prompt="要更多雾气")], GATE_CTX_ZH),
        ("the shot after 7 should be darker", [upd([8], mood="dark")], GATE_CTX),
    ],
)
def test_the_precision_gate_passes_a_plan_that_carries_them(
    sentence: str, actions: list[dict[str, Any]], ctx: PlanningContext
) -> None:
    gaps = coverage.measure(sentence, actions, ctx)
    assert not gaps.dropped and not gaps.unanswered, gaps.evidence()


@pytest.mark.parametrize(
    ("sentence", "ctx"),
    [
        ("final render, 4k please", "proj12"),
        ("render the preview at 60fps", "proj12"),
        ("合成成片，4K的", "zh8"),
        ("出一版超清的成片", "zh8"),
    ],
)
def test_an_option_the_dsl_has_no_value_for_is_never_run_on_a_guess(sentence: str, ctx: str) -> None:
    """4K, 60 fps for a compose, 超清: the planner composes but cannot carry the option; the plan is
    proposed (or asked), never executed as if the option had been honoured."""
    turn = PLANNER.plan(sentence, CONTEXTS[ctx])
    assert not turn.actions or turn.mode == "propose", (_dumped(turn), turn.evidence)
