"""Code samples, step graphs and schema tables generated from metadata."""
from __future__ import annotations

import json
import shlex

import pytest

from services.catalog.graph import graph
from services.catalog.present import limit_rows, schema_rows, type_name
from services.catalog.samples import curl, javascript, python

SAMPLES = [{"text": "it's \"quoted\" $HOME `x`"}, {"n": 1, "ok": True, "none": None},
           {"nested": {"list": [1, "two"]}}, {}]


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_curl_sample_sends_exactly_the_sample(sample):
    words = shlex.split(curl("http://h:1", sample, auth=False).replace("\\\n", " "))
    assert words[:4] == ["curl", "-s", "-X", "POST"] and "http://h:1/predict" in words
    assert json.loads(words[words.index("-d") + 1]) == sample


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_python_sample_is_python_with_the_pipe_client(sample):
    code = python("sentiment", sample, auth=False)
    namespace: dict = {}
    exec(compile(code.split("answer =")[0], "<sample>", "exec"), namespace)  # noqa: S102
    assert namespace["sample"] == sample
    assert "from common.client import Client" in code
    assert "Client().algo('sentiment').pipe(sample)" in code


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_javascript_sample_posts_the_sample_as_json(sample):
    code = javascript("http://h:1", sample, auth=False)
    body = code.split("JSON.stringify(")[1].rsplit("),\n});", 1)[0]
    assert json.loads(body) == sample
    assert 'fetch("http://h:1/predict"' in code and 'method: "POST"' in code


def test_samples_name_a_key_placeholder_when_services_need_one():
    assert '"Authorization: Bearer $MODELCHAIN_API_KEY"' in curl("u", {}, auth=True)
    assert "MODELCHAIN_API_KEY" in python("a", {}, auth=True)
    assert 'const API_KEY = "<your key>"' in javascript("u", {}, auth=True)
    assert "Authorization" not in curl("u", {}, auth=False) + javascript("u", {}, auth=False)


def test_graph_nodes_for_every_step_kind():
    nodes = graph([{"service": "a", "take": ["text"]},
                   {"service": "b", "map": True, "over": "items", "as": "out"},
                   {"parallel": {"x": {"service": "a"}}}, {"weird": 1}], known={"a"})
    assert nodes[0] == {"kind": "service", "service": "a", "known": True,
                        "notes": ["takes text"]}
    assert nodes[1]["kind"] == "map" and nodes[1]["notes"] == ["for each of items → out"]
    assert nodes[2]["branches"][0]["label"] == "x" and nodes[2]["branches"][0]["node"]["known"]
    assert nodes[3]["kind"] == "unknown"


def test_deeply_nested_parallel_steps_are_cut_off():
    step = {"service": "leaf"}
    for _ in range(10):
        step = {"parallel": {"b": step}}
    depth, node = 0, graph([step], known=())[0]
    while node["kind"] == "parallel":
        depth, node = depth + 1, node["branches"][0]["node"]
    assert depth == 4 and node["kind"] == "unknown"


def test_schema_rows_and_type_names():
    rows = schema_rows({"required": ["a"], "properties": {
        "a": {"type": "string", "description": "The text.", "maxLength": 10},
        "b": {"type": "array", "items": {"type": "integer"}, "default": []},
        "c": {"enum": ["x", "y"]}}})
    assert rows[0] == {"name": "a", "type": "string", "required": "yes",
                       "notes": "The text.; max length 10"}
    assert rows[1]["type"] == "array of integer" and rows[1]["notes"] == "default []"
    assert type_name({"enum": ["x", "y"]}) == "one of: x, y"
    assert schema_rows({"properties": "junk"}) == []
    assert limit_rows({"max_batch_size": 64}) == [("Largest batch", "64")]
