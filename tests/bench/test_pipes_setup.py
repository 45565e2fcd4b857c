"""The pipes benchmark's chain can be built: its no-op stages are no registered
services, so it publishes their contracts itself, where the pipeline reads them."""
from __future__ import annotations

import pytest
import yaml

from bench.scenarios.pipes import CHAIN, GROUP, STAGES, _registry, contracts_for_stages


@pytest.mark.parametrize("grouped", [False, True])
def test_the_benchmark_registry_has_both_layouts(tmp_path, grouped):
    services = yaml.safe_load(_registry(tmp_path, grouped).read_text())["services"]
    groups = {services[n].get("group") for n in [*STAGES, CHAIN]}
    assert groups == ({GROUP} if grouped else {None})


def test_the_benchmark_chain_builds_from_the_stages_contracts(tmp_path, monkeypatch):
    registry = _registry(tmp_path, grouped=False)
    folder = contracts_for_stages(tmp_path / "contracts")
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(STAGES)
    monkeypatch.setenv("MODELCHAIN_REGISTRY", str(registry))
    monkeypatch.setenv("MODELCHAIN_CONTRACTS", str(folder))
    from common.pipeline import create_pipeline_app
    app = create_pipeline_app(tmp_path / "pipeline.yaml", {"LOAD_MODEL": "off"})
    metadata = app.test_client().get("/metadata").get_json()
    assert metadata["calls"] == list(STAGES) and "text" in metadata["input_schema"]["properties"]
