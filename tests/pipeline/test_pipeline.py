"""Pipelines: parsing, schemas, and map / parallel steps over the in-process transport."""
from __future__ import annotations

import pytest

from common.client import Client
from common.core.context import open_response_extras, response_extras
from common.pipeline import load_spec, parse_step, pipeline_model
from services.text_cleaner import create_app as text_cleaner_app


@pytest.fixture(scope="module")
def cleaner():
    return text_cleaner_app({"LOAD_MODEL": "sync"})


def write_pipeline(tmp_path, steps: str):
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"name: demo\nversion: 2.0.0\ndescription: A demo.\nsteps:\n{steps}")
    return path


def model_for(path, cleaner):
    model = pipeline_model(path)({"DEFAULT_TIMEOUT_S": 10})
    model.load()
    model.client = Client(urls={}, local={"text_cleaner": cleaner})
    return model


def test_a_sequence_takes_fields_and_records_step_timings(tmp_path, cleaner):
    path = write_pipeline(tmp_path, "  - service: text_cleaner\n"
                                    "  - service: text_cleaner\n    take: [text]\n")
    model = model_for(path, cleaner)
    open_response_extras()
    outputs = model.predict([{"text": "#HappyDays @bob"}, {"text": "a  b"}])
    assert [o["text"] for o in outputs] == ["Happy Days", "a b"]
    steps = response_extras()["steps"]
    assert [s["step"] for s in steps] == [0, 1] and steps[1]["take"] == ["text"]


def test_map_fans_out_over_a_list_field(tmp_path, cleaner):
    path = write_pipeline(tmp_path, "  - map: {service: text_cleaner, over: texts, as: "
                                    "cleaned, concurrency: 3}\n")
    model = model_for(path, cleaner)
    inputs = [{"texts": [{"text": f"#Tag{i} @x"} for i in range(5)]}, {"texts": []}]
    outputs = model.predict(model.input_schema().load(inputs, many=True))
    assert [o["text"] for o in outputs[0]["cleaned"]] == [f"Tag{i}" for i in range(5)]
    assert outputs[1] == {"cleaned": []}
    assert set(model.output_schema().fields) == {"cleaned"}


def test_parallel_merges_branch_outputs(tmp_path, cleaner):
    path = write_pipeline(tmp_path, "  - parallel:\n"
                                    "      plain: {service: text_cleaner}\n"
                                    "      again: {service: text_cleaner}\n")
    model = model_for(path, cleaner)
    outputs = model.predict([{"text": "x #Y"}])
    assert outputs[0]["plain"] == outputs[0]["again"] and outputs[0]["plain"]["text"] == "x Y"
    assert set(model.output_schema().fields) == {"plain", "again"}


def test_a_refused_map_element_fails_its_own_item_only(tmp_path, cleaner):
    from common.core.errors import InvalidInput
    from common.serving import Failed
    path = write_pipeline(tmp_path, "  - map: {service: text_cleaner, over: texts}\n")
    model = model_for(path, cleaner)
    bad, good = model.predict([{"texts": [{"text": "ok"}, {"text": ""}]},
                               {"texts": [{"text": "fine"}]}])
    assert isinstance(bad, Failed) and isinstance(bad.error, InvalidInput)
    assert bad.error.details["stage"] == "text_cleaner" and "1" in bad.error.details["texts"]
    assert [r["text"] for r in good["results"]] == ["fine"]


def test_an_item_a_later_step_refuses_fails_alone_and_names_the_step(tmp_path, cleaner):
    from common.serving import Failed
    path = write_pipeline(tmp_path, "  - service: text_cleaner\n"
                                    "  - service: text_cleaner\n    take: [text]\n")
    model = model_for(path, cleaner)
    first, refused, last = model.predict([{"text": "a #B"}, {"text": "@acme https://t.co/x"},
                                          {"text": "c"}])
    assert (first["text"], last["text"]) == ("a B", "c")
    assert isinstance(refused, Failed) and refused.error.service == "text_cleaner"
    assert "blank" in refused.error.message


def test_metadata_lists_the_steps(tmp_path, cleaner):
    path = write_pipeline(tmp_path, "  - service: text_cleaner\n")
    model = model_for(path, cleaner)
    assert model.metadata() == {"pipeline": {"steps": [{"service": "text_cleaner"}]}}
    assert (model.name, model.version, model.description) == ("demo", "2.0.0", "A demo.")


@pytest.mark.parametrize("steps,message", [
    ("  - nothing: here\n", "needs 'service'"),
    ("", "at least one step"),
])
def test_malformed_pipelines_are_refused(tmp_path, steps, message):
    with pytest.raises(ValueError, match=message):
        load_spec(write_pipeline(tmp_path, steps) if steps else write_pipeline(tmp_path, "  []\n"))


def test_a_step_without_a_published_contract_is_refused(tmp_path):
    with pytest.raises(LookupError, match="No contract for 'nowhere'"):
        pipeline_model(write_pipeline(tmp_path, "  - service: nowhere\n"))


def test_parse_step_kinds():
    assert parse_step({"service": "a", "take": ["x"]}).take == ("x",)
    assert parse_step({"map": {"service": "a", "over": "l"}}).into == "results"
    assert set(parse_step({"parallel": {"p": {"service": "a"}}}).branches) == {"p"}
