"""Declarative pipelines: a ``pipeline.yaml`` becomes a model, hence a service.

A pipeline sequences other services on the server side (server sequencing)::

    name: tweet_sentiment
    version: 1.0.0
    description: Cleans a tweet, then labels its sentiment.
    steps:
      - service: text_cleaner
      - service: sentiment
        take: [text]            # the fields of the previous output this step takes
      # - map: {service: sentiment, over: captions, as: scores, concurrency: 4}
      # - parallel: {sentiment: {service: sentiment}, clean: {service: text_cleaner}}

Its input schema is the first step's, its output schema the last step's, both rebuilt
from the steps' published contracts (``contracts.py``), never from their code. Its limits
are the tightest along its steps. Its metadata lists the steps and each answer's
metadata carries every step's timing.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from marshmallow import Schema, fields

from common.client import pipe_partial, select_fields
from common.core.context import add_response_metadata, bind_context
from common.core.errors import DeadlineExceeded, InvalidInput, NotReady, UpstreamError, stage_of
from common.core.versions import resolve_ref, split_ref
from common.serving import Model, create_service_app
from common.serving.model import Failed

from .contracts import ContractSource, contracts_in, schema_from_json

log = logging.getLogger(__name__)


@dataclass
class Step:
    """One step: a service call, a map over a list field, or parallel branches."""

    kind: str                                   # service | map | parallel
    service: str | None = None
    take: tuple[str, ...] | None = None         # fields of the previous output to send
    over: str | None = None                     # map: the list field to fan out over
    into: str = "results"                       # map: the output field of the results
    concurrency: int = 4                        # map: calls in flight at once
    branches: dict[str, "Step"] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """This step for ``/metadata`` (and the catalog's graph)."""
        if self.kind == "parallel":
            return {"parallel": {n: b.describe() for n, b in self.branches.items()}}
        out = {"service": self.service}
        if self.kind == "map":
            out.update({"map": True, "over": self.over, "as": self.into,
                        "concurrency": self.concurrency})
        if self.take is not None:
            out["take"] = list(self.take)
        return out

    def select(self, value: Any) -> Any:
        """The part of the previous output this step sends."""
        return select_fields(value, self.take)

    def services(self) -> list[str]:
        """The services this step calls, branches included, in order."""
        if self.kind == "parallel":
            return [s for b in self.branches.values() for s in b.services()]
        return [self.service]


def parse_step(spec: Mapping[str, Any]) -> Step:
    """A step from its YAML mapping; a malformed step raises ValueError."""
    if "service" in spec:
        take = spec.get("take")
        return Step("service", service=str(spec["service"]),
                    take=tuple(take) if take is not None else None)
    if "map" in spec:
        inner = spec["map"]
        return Step("map", service=str(inner["service"]), over=str(inner["over"]),
                    into=str(inner.get("as", "results")),
                    concurrency=int(inner.get("concurrency", 4)))
    if "parallel" in spec:
        return Step("parallel", branches={str(n): parse_step(b)
                                          for n, b in spec["parallel"].items()})
    raise ValueError(f"a step needs 'service', 'map' or 'parallel': {dict(spec)}")


@dataclass
class PipelineSpec:
    """A parsed ``pipeline.yaml``."""

    name: str
    version: str
    description: str
    steps: list[Step]
    tags: tuple[str, ...] = ()
    sample_input: dict[str, Any] | None = None


def load_spec(path: str | Path) -> PipelineSpec:
    """Parse and check a pipeline file."""
    document = yaml.safe_load(Path(path).read_text())
    steps = [parse_step(s) for s in document.get("steps") or []]
    if not steps:
        raise ValueError(f"{path}: a pipeline needs at least one step")
    return PipelineSpec(name=str(document["name"]), version=str(document.get("version", "0.1.0")),
                        description=str(document.get("description", "")), steps=steps,
                        tags=tuple(document.get("tags") or ()) + ("pipeline",),
                        sample_input=document.get("sample_input"))


def _first_contract(step: Step, contracts: ContractSource) -> Mapping[str, Any]:
    return contracts(step.services()[0])


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _list_of(field: str, inner: type[Schema], name: str) -> type[Schema]:
    """``{field: [inner, ...]}``: what a map step takes in or gives out."""
    return Schema.from_dict({field: fields.List(fields.Nested(inner), required=True)},
                            name=name)


def _input_schema(step: Step, contracts: ContractSource) -> type[Schema]:
    contract = _first_contract(step, contracts)
    schema = schema_from_json(f"{_camel(contract['name'])}StepInput",
                              contract["input_schema"])
    if step.kind == "map":
        return _list_of(step.over, schema, f"{_camel(contract['name'])}MapInput")
    return schema


def _output_schema(step: Step, contracts: ContractSource) -> type[Schema]:
    if step.kind == "parallel":
        return Schema.from_dict({n: fields.Nested(_output_schema(b, contracts), required=True)
                                 for n, b in step.branches.items()}, name="ParallelOutput")
    contract = contracts(step.service)
    schema = schema_from_json(f"{_camel(contract['name'])}StepOutput",
                              contract["output_schema"])
    if step.kind == "map":
        return _list_of(step.into, schema, f"{_camel(contract['name'])}MapOutput")
    return schema


def tightest_limits(spec: PipelineSpec, contracts: ContractSource) -> dict[str, Any]:
    """The pipeline's own limits: for each, the smallest of its steps' (so it never
    accepts what a step would refuse). Map steps fan out, so their batch limit is not
    the pipeline's."""
    steps = [(s, contracts(name)) for s in spec.steps for name in s.services()]
    texts = [c["limits"]["max_text_length"] for _, c in steps if "limits" in c]
    batches = [c["limits"]["max_batch_size"] for s, c in steps
               if "limits" in c and s.kind != "map"]
    limits = {"MAX_TEXT_LENGTH": min(texts)} if texts else {}
    return {**limits, **({"MAX_BATCH_SIZE": min(batches)} if batches else {})}


def by_deployment(contracts: ContractSource) -> ContractSource:
    """``contracts`` looked up by step reference: ``sentiment@1`` reads the contract of
    the deployment it reaches (``sentiment_v1_0_0``), as the call will."""
    return lambda ref: contracts(resolve_ref(ref))


def pipeline_model(path: str | Path,
                   contracts: ContractSource | None = None) -> type[Model]:
    """The :class:`Model` subclass for the pipeline file at ``path``; its steps are
    known by their contracts (default: ``deploy/contracts``)."""
    spec = load_spec(path)
    contracts = by_deployment(contracts or contracts_in())
    first = _first_contract(spec.steps[0], contracts)
    attributes = {
        "name": spec.name, "version": spec.version, "description": spec.description,
        "tags": spec.tags, "spec": spec, "deterministic": False,
        "calls": tuple(dict.fromkeys(split_ref(n)[0] for s in spec.steps
                                     for n in s.services())),
        "input_schema": _input_schema(spec.steps[0], contracts),
        "output_schema": _output_schema(spec.steps[-1], contracts),
        "limits": tightest_limits(spec, contracts),
        "sample_input": spec.sample_input or first.get("sample_input") or {}}
    return type(f"{_camel(spec.name)}Pipeline", (PipelineModel,), attributes)


def create_pipeline_app(path: str | Path, config: Mapping[str, Any] | None = None,
                        contracts: ContractSource | None = None):
    """The service app of the pipeline file at ``path``. Its steps' contracts come from
    ``contracts``, else the folder in ``config["CONTRACTS"]``, else ``MODELCHAIN_CONTRACTS``,
    else ``deploy/contracts``."""
    folder = (config or {}).get("CONTRACTS")
    model = pipeline_model(path, contracts or contracts_in(folder))
    return create_service_app(model, config=config,
                              defaults={"WARMUP_TIMEOUT_S": 300.0, **model.limits})


class PipelineModel(Model):
    """Runs its steps by piping to their services; a batch goes through as a batch."""

    spec: PipelineSpec
    kind = "pipeline"
    limits: dict[str, Any] = {}

    def warmup(self) -> None:
        """Ready only once every step answers: retry the sample until it goes through.
        With ``WAIT_FOR_DEPENDENTS`` off, one try: a step not up yet is not waited for."""
        deadline = time.monotonic() + float(self.config.get("WARMUP_TIMEOUT_S", 300.0))
        while True:
            try:
                return super().warmup()
            except (NotReady, UpstreamError, DeadlineExceeded) as e:
                if not self.config.get("WAIT_FOR_DEPENDENTS", True):
                    log.warning("%s: warm-up skipped, a step is not ready (%s)",
                                self.name, e.code)
                    return None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def metadata(self) -> dict[str, Any]:
        """The steps, for ``/metadata``."""
        return {"pipeline": {"steps": [s.describe() for s in self.spec.steps]}}

    def predict(self, inputs: list[dict[str, Any]]) -> list[Any]:
        """Each step on the whole batch in turn; per-step timings go into the answer.

        An item a step refuses stops there as a :class:`Failed`; the others go on."""
        values, timings = list(inputs), []
        for index, step in enumerate(self.spec.steps):
            started = time.perf_counter()
            # resolved once per step: ``sentiment@1`` is the newest deployment of 1.x,
            # which the answer's step timings name as ``reached``
            target = self._target(step)
            values = self._step(step, target, values)
            reached = {} if target is None else {"reached": target.name}
            timings.append({"step": index, **step.describe(), **reached,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
        add_response_metadata(steps=timings)
        return values

    def _target(self, step: Step) -> Any:
        """The service a step calls (none for parallel branches, each has its own)."""
        return None if step.kind == "parallel" else self.algo(step.service)

    def _step(self, step: Step, target: Any, values: list[Any]) -> list[Any]:
        """One step on the items still alive; failed ones are carried over as they are."""
        alive = [i for i, v in enumerate(values) if not isinstance(v, Failed)]
        merged = list(values)
        if alive:
            for index, output in zip(alive, self._run(step, target, [values[i] for i in alive])):
                merged[index] = output
        return merged

    def _run(self, step: Step, target: Any, values: list[Any]) -> list[Any]:
        if step.kind == "service":
            partial = pipe_partial(target, [step.select(v) for v in values])
            return [Failed(partial.errors[i]) if i in partial.errors else r
                    for i, r in enumerate(partial.results)]
        if step.kind == "map":
            return [self._map(step, target, value) for value in values]
        return self._parallel(step, values)

    def _map(self, step: Step, target: Any, value: Mapping[str, Any]) -> Any:
        items = [step.select(v) for v in value[step.over]]
        outcomes = target.pipe_many(
            items, mode="parallel", workers=step.concurrency)
        failed = next((o for o in outcomes if not o.ok), None)
        if failed is None:
            return {step.into: [o.result for o in outcomes]}
        if not isinstance(failed.error, InvalidInput):
            raise failed.error  # the service failed, not this item: the request fails
        return Failed(_inner_failure(step, failed.index, failed.error))

    def _parallel(self, step: Step, values: list[Any]) -> list[Any]:
        names = list(step.branches)
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="branch") as pool:
            branches = [step.branches[n] for n in names]
            futures = [pool.submit(bind_context(self._run), b, self._target(b), values)
                       for b in branches]
            results = [f.result() for f in futures]
        return [_merge_branches(names, [r[i] for r in results]) for i in range(len(values))]


def _merge_branches(names: list[str], outputs: list[Any]) -> Any:
    """One item's branch outputs as one object; a refusal by any branch fails it."""
    failed = next((o for o in outputs if isinstance(o, Failed)), None)
    return failed or dict(zip(names, outputs))


def _inner_failure(step: Step, index: int, error: InvalidInput) -> InvalidInput:
    """The error of an item whose list field had an element refused by a map step."""
    details = error.details if isinstance(error.details, dict) else {"error": error.details}
    return InvalidInput(f"{step.over}[{index}]: {error.message}",
                        {step.over: {str(index): details}, "stage": stage_of(error)},
                        service=error.service, request_id=error.request_id)
