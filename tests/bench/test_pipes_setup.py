"""The pipes benchmark's chain can be built: its no-op stages are no registered
services, so it publishes their contracts itself, where the pipeline reads them."""
from __future__ import annotations

from bench.scenarios.pipes import STAGES, _registry, contracts_for_stages


def test_the_benchmark_chain_builds_from_the_stages_contracts(tmp_path, monkeypatch):
    registry = _registry(tmp_path)
    folder = contracts_for_stages(tmp_path / "contracts")
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(STAGES)
    monkeypatch.setenv("MODELCHAIN_REGISTRY", str(registry))
    monkeypatch.setenv("MODELCHAIN_CONTRACTS", str(folder))
    from common.pipeline import create_pipeline_app
    app = create_pipeline_app(tmp_path / "pipeline.yaml", {"LOAD_MODEL": "off"})
    metadata = app.test_client().get("/metadata").get_json()
    assert metadata["calls"] == list(STAGES) and "text" in metadata["input_schema"]["properties"]
