"""The family report's section on the papers' tables (incprof.report.papers)."""

from incprof.report.papers import papers_sections, step_answer, xception_sentence
from incprof.analysis.papers import factorized_step


def test_the_section_answers_the_step_with_numbers():
    text = "\n".join(papers_sections())
    for heading in ("## The papers' tables as data", "### The v3 paper's Table 3",
                    "### 3.8 -> 4.8", "### Receptive fields", "### Xception against Inception V3"):
        assert heading in text
    answer = step_answer(factorized_step())
    assert "616,627,296 MACs for the three 3x3 convs against 203,297,472" in answer
    assert f"{1_000_000_000 - 413_329_824:,} MACs of it come from no change" in answer


def test_xception_within_3_5_percent_between_its_own_figures():
    """22,855,952 / 23,626,728 - 1 = -3.26% (Xception paper, Table 3's two figures)."""
    assert "= -3.26%, within 3.5%" in xception_sentence()
    assert round((22_855_952 / 23_626_728 - 1) * 100, 2) == -3.26
