"""The price table: costs only where a price is configured, a clear coded error for a bad file,
and the providers get their prices from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.pricing import PriceTable, load_price_table
from activities.providers.choice import choose_providers
from infra.settings import Settings
from schema.errors import BadInputError

TABLE = {
    "tokens": {"gemini-3-flash-preview": {"input": 0.30, "output": 2.50}},
    "images": {"gemini-2.5-flash-image": 0.039},
    "gpu_second": 0.0011,
}


def test_no_table_prices_nothing() -> None:
    empty = load_price_table(None)
    assert empty == PriceTable()
    assert empty.task_cost(12.0, [{"prompt_tokens": 900}]) is None
    assert empty.token_prices() is None and empty.image_prices() is None


def test_task_cost_adds_priced_usage_and_gpu_time(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(TABLE))
    table = load_price_table(path)
    assert table.task_cost(10.0) == pytest.approx(0.011)
    assert table.task_cost(None, [{"cost_usd": 0.039}, {"cost_usd": 0.039}, None]) == pytest.approx(0.078)
    assert table.task_cost(2.0, [{"cost_usd": 0.5}]) == pytest.approx(0.5022)
    assert table.task_cost(None, [{"prompt_tokens": 10}]) is None  # used, but not priced
    assert table.token_prices() == {"gemini-3-flash-preview": {"input": 0.30, "output": 2.50}}
    assert table.image_prices() == {"gemini-2.5-flash-image": 0.039}


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"gpu_second": -1}), json.dumps({"tokens": {"m": {"input": 1}}}), '{"x": 1}'],
)
def test_a_bad_table_is_a_coded_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(BadInputError) as err:
        load_price_table(path)
    assert err.value.code == "price_table_invalid" and str(path) in err.value.message


def test_a_missing_table_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as err:
        choose_providers(Settings(data_dir=tmp_path, price_table=tmp_path / "absent.json"))
    assert err.value.code == "price_table_invalid"


def test_workers_carry_the_configured_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(TABLE))
    chosen = choose_providers(Settings(data_dir=tmp_path, price_table=path))
    assert chosen.prices.gpu_second == 0.0011 and chosen.prices.images == TABLE["images"]
