"""The team consistency score: spread of conversion, response time and satisfaction across agents."""

import math
from decimal import Decimal

import pytest

from analytics.selectors.consistency import consistency_of
from analytics.selectors.team import Totals


def agent(won=0, lost=0, responded=0, minutes=0, ratings=0, points=0) -> Totals:
    return Totals(leads_converted=won, leads_lost=lost, leads_responded=responded, response_minutes=minutes,
                  satisfaction_ratings=ratings, satisfaction_points=Decimal(points))


def test_identical_agents_score_100():
    same = agent(won=5, lost=5, responded=10, minutes=100, ratings=4, points=16)
    result = consistency_of({1: same, 2: same, 3: same})
    assert result.score == pytest.approx(100)
    assert all(item.share == 0 for item in result.agents)


def test_the_score_is_the_mean_of_100_over_one_plus_cv_per_metric():
    # conversion 0.2 and 0.6: mean 0.4, population std 0.2, CV 0.5 → 66.7; response 10 and 10 → 100;
    # satisfaction 4 and 4 → 100. Team: (66.7 + 100 + 100) / 3.
    result = consistency_of({
        1: agent(won=2, lost=8, responded=5, minutes=50, ratings=3, points=12),
        2: agent(won=6, lost=4, responded=5, minutes=50, ratings=3, points=12)})
    by_metric = {metric.metric: metric for metric in result.metrics}
    assert by_metric["conversion_rate"].score == pytest.approx(100 / 1.5)
    assert result.score == pytest.approx((100 / 1.5 + 200) / 3)


def test_the_agent_furthest_from_the_mean_contributes_most_and_is_called_worse():
    result = consistency_of({
        1: agent(responded=10, minutes=100), 2: agent(responded=10, minutes=120),
        3: agent(responded=10, minutes=110), 4: agent(responded=10, minutes=900)})
    assert result.agents[0].agent_id == 4
    # minutes per lead 10, 12, 11, 90: mean 30.75; squared deviations 430.6, 351.6, 390.1, 3510.6
    assert result.agents[0].share == pytest.approx(3510.5625 / 4682.75)
    assert all(item.share < 0.1 for item in result.agents[1:])
    assert result.agents[0].values["response_time_minutes"] == (90.0, "worse")
    assert math.isclose(sum(item.share for item in result.agents), 1.0)


def test_one_agent_is_not_a_team():
    result = consistency_of({1: agent(won=5, lost=5, responded=10, minutes=50, ratings=5, points=20)})
    assert result.score is None
    assert "at least two agents" in result.reason
    assert all(metric.score is None for metric in result.metrics)


def test_agents_with_too_little_data_are_left_out_of_a_metric_not_counted_as_zero():
    result = consistency_of({
        1: agent(won=3, lost=2, responded=5, minutes=50), 2: agent(won=3, lost=2, responded=5, minutes=50),
        3: agent(won=0, lost=1, responded=1, minutes=5000)})  # one closed lead, one contact: not enough
    assert result.score == pytest.approx(100)
    assert {metric.metric: metric.agents for metric in result.metrics}["conversion_rate"] == 2


def test_no_data_gives_a_reason_not_a_zero():
    result = consistency_of({})
    assert result.score is None and result.reason
