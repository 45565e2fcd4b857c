"""deploy/alexa: the skill manifest and interaction model agree with the service."""
import json
import re

import pytest

from common.core.registry import ROOT
from services.alexa_skill.dialogue import BUILT_IN, load_dialogue

PACKAGE = ROOT / "deploy" / "alexa" / "skill-package"


@pytest.fixture(scope="module")
def language_model():
    path = PACKAGE / "interactionModels" / "custom" / "en-US.json"
    return json.loads(path.read_text())["interactionModel"]["languageModel"]


def test_the_model_declares_exactly_the_intents_the_service_handles(language_model):
    declared = {intent["name"] for intent in language_model["intents"]}
    assert declared == BUILT_IN | set(load_dialogue()["intents"])


def test_configured_intents_fill_the_slots_the_service_reads(language_model):
    slots = {i["name"]: {s["name"] for s in i.get("slots", [])}
             for i in language_model["intents"]}
    for name, intent in load_dialogue()["intents"].items():
        assert set(intent.inputs.values()) <= slots[name], name


def test_every_sample_uses_declared_slots_and_carrier_phrases(language_model):
    for intent in language_model["intents"]:
        declared = {s["name"] for s in intent.get("slots", [])}
        search = {s["name"] for s in intent.get("slots", []) if s["type"] == "AMAZON.SearchQuery"}
        for sample in intent["samples"]:
            used = set(re.findall(r"\{(\w+)\}", sample))
            assert used <= declared, sample
            # AMAZON.SearchQuery needs a carrier phrase: the slot never stands alone
            if used & search:
                assert re.sub(r"\{\w+\}", "", sample).strip(), sample
        if declared:
            assert len(intent["samples"]) >= 5 and len(set(intent["samples"])) == \
                len(intent["samples"])


def test_invocation_name_follows_alexa_rules(language_model):
    name = language_model["invocationName"]
    assert name == name.lower() and len(name.split()) >= 2
    assert re.fullmatch(r"[a-z ]+", name) and "alexa" not in name


def test_the_manifest_points_at_our_https_endpoint():
    manifest = json.loads((PACKAGE / "skill.json").read_text())["manifest"]
    endpoint = manifest["apis"]["custom"]["endpoint"]
    assert endpoint["uri"].startswith("https://") and endpoint["uri"].endswith("/alexa")
    assert endpoint["sslCertificateType"] in {"Trusted", "Wildcard", "SelfSigned"}
    assert "en-US" in manifest["publishingInformation"]["locales"]
