

def test_a_headline_never_rounds_a_figure_up_to_the_threshold_that_judges_it() -> None:
    """89.96 % is 基本符合; the system page's headline said "90.0%" beside it (and a 密评 score of 59.996 "60.0"). The
    headline writes two decimals, as the derivation does."""
    from compliance.reports.html import _card_verdict
    from compliance.results import ScoreCard

    rate = ScoreCard("等保", "基本符合", ("基本符合", "基本符合"), 0.8996, (0.8996, 0.8996), True, (), ())
    assert "89.96%" in _card_verdict(rate, 1, "") and "90.0" not in _card_verdict(rate, 1, "")
    score = ScoreCard("密评", "不符合", ("不符合", "不符合"), 59.996, (59.996, 59.996), True, (), ())
    assert "59.99" in _card_verdict(score, 100, " 分")
    exact = ScoreCard("等保", "符合", ("符合", "符合"), 0.29, (0.29, 0.9), True, (), ())
    assert "29.00%–90.00%" in _card_verdict(exact, 1, "")  # binary noise (28.999…) is not cut to 28.99
