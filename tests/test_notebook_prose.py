"""Numbers in the notebooks' prose: a markdown cell may not state a result, a data count or a duration that the
code does not produce.

What it checks: every number in a markdown cell that carries a unit of a measurement or a count of data (dB, %,
seconds / minutes / hours, steps, epochs, faces, images, photos, people, views, cameras, "N x faster", ...,
spelled-out numbers too: "ten people") must be one of

- CONSTANTS: a constant of the course or the method, with the reason it cannot drift;
- CHECKED: a setting of the code, recomputed here for every profile the text covers (a changed preset makes the
  prose fail, not silently lie), or a count of things a code cell draws, checked against that code;
- PENDING: known violations, per cell, in cells other helpers own, with the fix to make. A cell must flag exactly
  the numbers listed: a new one fails, and so does a fixed one still listed (the list can only shrink).

Anything else (PSNRs, NMEs, timings, dataset counts) depends on the data or the profile: print it from a code
cell. Code spans (`...`) and display maths ($$...$$) are not prose and are skipped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cs180utils.machinery.config import PROFILES

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))

_WORDS = ("two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
          "a hundred|hundred|a thousand|thousand|a dozen|dozens of|hundreds of|thousands of")
_WORD_VALUES = dict(two=2, three=3, four=4, five=5, six=6, seven=7, eight=8, nine=9, ten=10, eleven=11, twelve=12,
                    fifteen=15, twenty=20, thirty=30, forty=40, fifty=50)
_NUMBER = (r"(?:\d[\d,]*(?:\.\d+)?(?:\s*[×x]\s*10[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?|10[⁰¹²³⁴⁵⁶⁷⁸⁹]+|"
           rf"(?:{_WORDS})\b)")
_QUALIFIER = (r"(?:(?:training|train|test|validation|val|held-out|unseen|seen|more|fewer|extra|annotated|"
              r"labelled|different|IMM|frontal)\s+){0,2}")
_UNIT = (r"(?:dB|%|ms|s|sec|seconds?|min|minutes?|h|hours?|steps?|epochs?|iterations?|faces?|images?|photos?|"
         r"people|persons?|views?|cameras?|occasions?|subjects?|samples?|rays?|evaluations?|"
         r"[×x]\s*(?:faster|slower|denser|fewer|more|less|smaller|larger|speed-?up))")
PATTERN = re.compile(rf"(?<![\w.^/×{{-])(?:[~≈]\s*)?{_NUMBER}\s*{_QUALIFIER}{_UNIT}(?!\w)"
                     r"|\b(?:about|under|in|within|over) (?:a|an|half an?) (?:minute|hour)s?\b", re.IGNORECASE)


def prose(text: str) -> str:
    """A markdown cell's text with runs of white space as one space (phrases span line breaks)."""
    return re.sub(r"\s+", " ", text).strip()


def flagged(text: str) -> list[tuple[int, int, str]]:
    """(start, end, phrase) of every number with a unit of measurement or a data count in ``prose(text)``,
    outside code spans and display maths."""
    text = prose(text)
    masked = re.sub(r"`[^`]*`|\$\$.*?\$\$", lambda m: " " * len(m.group(0)), text)
    return [(m.start(), m.end(), m.group(0)) for m in PATTERN.finditer(masked)]


def _in_code(number: str, snippet: str, n: int):
    """``n`` when ``snippet`` (the code that fixes how many things are drawn) is in notebook ``number``'s code."""
    def value(profile):
        path = next(p for p in NOTEBOOKS if p.name.startswith(number))
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        return n if snippet in code else None
    return value


def _fast(attr):
    from cs180utils.machinery.nerf import experiment  # noqa: PLC0415
    return lambda p: getattr(experiment.config("fast", p).fast, attr)


def _course_nerf(attr):
    """``attr`` of the course's NeRF recipe (the vanilla model's ``course`` preset) laid over profile ``p``."""
    from cs180utils.machinery.nerf import experiment  # noqa: PLC0415
    return lambda p: getattr(experiment.config("vanilla", p, preset="course"), attr)


# (notebook number, phrase) -> why the number is a constant of the course or the method
CONSTANTS: dict[tuple[str, str], str] = {
    ("07", "its area up to 10 % (AUC) and the failure rate (NME > 10 %)"):
        "the definition of the reported metric (AUC@10 %, failure rate at 10 % NME), as in the 300-W papers",
}

# (notebook number, phrase, the profiles the phrase speaks of, the code's value of its number per profile)
CHECKED: list[tuple[str, str, tuple[str, ...], object]] = [
    ("03", "10,000 rays a step", PROFILES, _course_nerf("batch_size")),
    ("10", "evaluated at 32 samples", PROFILES, _course_nerf("n_samples")),
    ("10", "each of 10,000 rays per step", PROFILES, _course_nerf("batch_size")),
    ("05", "The two validation faces with the smallest", PROFILES, _in_code("05", "best_and_worst(errors, k=2)", 2)),
    ("08", "the sum of the 68 maps of three faces", PROFILES, _in_code("08", "data.train.keypoints[:3]", 3)),
    ("08", "Top: three test faces with the annotation", PROFILES, _in_code("08", "data.val.images[:3]", 3)),
]

# (notebook number, cell id) -> (the numbers that cell still states, the fix): cells owned by other helpers
PENDING: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}


def _cells(path: Path):
    nb = json.loads(path.read_text())
    return [(c.get("id", str(i)), prose("".join(c["source"]))) for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "markdown"]


def _number(phrase: str) -> float:
    hits = flagged(phrase)
    assert len(hits) == 1, f"a CHECKED phrase must hold exactly one flagged number: {phrase!r} holds {hits}"
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", hits[0][2])
    if digits:
        return float(digits.group(0).replace(",", ""))
    word = hits[0][2].split()[0].lower()
    assert word in _WORD_VALUES, f"add {word!r} to _WORD_VALUES"
    return float(_WORD_VALUES[word])


def _allowed_phrases(number: str) -> list[str]:
    return [ph for (nb, ph) in CONSTANTS if nb == number] + [ph for (nb, ph, _, _) in CHECKED if nb == number]


def _unexplained(number: str, text: str) -> list[tuple[int, int, str]]:
    """The flagged numbers of one cell that no CONSTANTS / CHECKED phrase covers."""
    covered = [(m.start(), m.start() + len(prose(ph))) for ph in _allowed_phrases(number)
               for m in re.finditer(re.escape(prose(ph)), text)]
    return [h for h in flagged(text) if not any(a <= h[0] and h[1] <= b for a, b in covered)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_states_no_number_the_code_does_not_produce(path):
    number = path.name[:2]
    problems = []
    for cell_id, text in _cells(path):
        hits = _unexplained(number, text)
        pending = PENDING.get((number, cell_id))
        if pending is not None:
            found = [ph for _, _, ph in hits]
            if sorted(found) != sorted(pending[0]):
                problems.append(f"cell {cell_id} is PENDING with {list(pending[0])} but states {found}: a fixed number "
                                f"leaves the list, a new one is not allowed")
            continue
        for start, end, phrase in hits:
            problems.append(f"cell {cell_id}: {phrase!r} in '...{text[max(0, start - 50):end + 30]}...'")
    assert not problems, (
        f"{path.name}: the prose states numbers that depend on the data or the profile:\n  " + "\n  ".join(problems)
        + "\nPrint them from a code cell (or describe the result without the number). A constant of the course or"
          " method goes into CONSTANTS (with the reason), a preset's value into CHECKED, in tests/test_notebook_prose.py.")


@pytest.mark.parametrize("kind", ["constants", "checked", "pending"])
def test_every_listed_entry_is_still_needed(kind):
    cells = {(p.name[:2], cid): text for p in NOTEBOOKS for cid, text in _cells(p)}
    texts = {p.name[:2]: " ".join(t for _, t in _cells(p)) for p in NOTEBOOKS}
    if kind == "pending":
        gone = [key for key in PENDING if key not in cells]
        assert not gone, f"PENDING cells no longer in their notebooks (delete the entries): {gone}"
        return
    entries = list(CONSTANTS) if kind == "constants" else [(nb, ph) for nb, ph, _, _ in CHECKED]
    stale = [(nb, ph) for nb, ph in entries if prose(ph) not in texts.get(nb, "")]
    assert not stale, f"{kind}: these phrases are no longer in their notebooks (fixed? delete the entry): {stale}"
    for nb, ph in entries:
        assert flagged(ph), f"{kind} entry {nb}: {ph!r} holds no number the check flags; it is not needed"


@pytest.mark.parametrize("entry", CHECKED, ids=lambda e: f"{e[0]}:{e[1][:30]}")
@pytest.mark.parametrize("profile", PROFILES)
def test_checked_numbers_are_the_code_s(entry, profile):
    nb, phrase, profiles, value = entry
    if profile not in profiles:
        pytest.skip(f"notebook {nb}'s phrase speaks of the {', '.join(profiles)} profile(s) only")
    got = value(profile)
    assert got is not None, f"notebook {nb}: {phrase!r} counts what a code cell draws, and that code changed"
    assert _number(phrase) == pytest.approx(float(got)), \
        f"notebook {nb}: {phrase!r} but the {profile} profile's code gives {got}"


@pytest.mark.parametrize("text, expected", [
    ("reaches 26.6 dB on Grace Hopper", ["26.6 dB"]),
    ("with only ten people to learn from", ["ten people"]),
    ("the 100 test faces of the file", ["100 test faces"]),
    ("about 6,666 / 1,008 faces", ["1,008 faces"]),
    ("in about a minute on the same CPU", ["about a minute"]),
    ("~1.6× faster than", ["~1.6× faster"]),
    ("12.0 % without", ["12.0 %"]),
    ("on five occasions", ["five occasions"]),
    ("trained for 480 s", ["480 s"]),
])
def test_flagged_finds_results_and_counts(text, expected):
    assert [p for _, _, p in flagged(text)] == expected


@pytest.mark.parametrize("text", [
    "frequencies as high as $2^{59}\\pi$", "the 160×120 image", "`--max-seconds 480`", "a second image",
    "fit one photo", "the rays of one camera", "$$\\hat D = \\sum_i w_i t_i, 3 s$$", "only ones and zeros",
    "tens of seconds", "68 points", "a 5×5 kernel",
])
def test_flagged_leaves_code_maths_and_plain_words(text):
    assert flagged(text) == []
