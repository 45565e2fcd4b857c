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

Its input schema is the first step's, its output schema the last step's; its metadata
lists the steps and each answer's metadata carries every step's timing.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from marshmallow import Schema, fields

from .client import Client
from .context import add_response_metadata, bind_context
from .errors import DeadlineExceeded, NotReady, UpstreamError
from .model import Model
from .registry import load_registry, model_class
from .service import create_service_app


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
        if self.take is None or not isinstance(value, Mapping):
            return value
        return {k: value[k] for k in self.take if k in value}


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


def _step_models(step: Step, registry) -> list[type[Model]]:
    if step.kind == "parallel":
        return [m for b in step.branches.values() for m in _step_models(b, registry)]
    if step.service not in registry:
        raise ValueError(f"pipeline step names {step.service!r}, which is not registered")
    return [model_class(registry[step.service])]


def _list_of(field: str, inner: type[Schema], name: str) -> type[Schema]:
    """``{field: [inner, ...]}``: what a map step takes in or gives out."""
    return Schema.from_dict({field: fields.List(fields.Nested(inner), required=True)},
                            name=name)


def _input_schema(step: Step, registry) -> type[Schema]:
    first = _step_models(step, registry)[0]
    if step.kind == "map":
        return _list_of(step.over, first.input_schema, f"{first.__name__}MapInput")
    return first.input_schema


def _output_schema(step: Step, registry) -> type[Schema]:
    if step.kind == "parallel":
        return Schema.from_dict({n: fields.Nested(_output_schema(b, registry), required=True)
                                 for n, b in step.branches.items()}, name="ParallelOutput")
    model = _step_models(step, registry)[0]
    if step.kind == "map":
        return _list_of(step.into, model.output_schema, f"{model.__name__}MapOutput")
    return model.output_schema


def pipeline_model(path: str | Path, registry_file: str | Path | None = None) -> type[Model]:
    """The :class:`Model` subclass for the pipeline file at ``path``."""
    spec = load_spec(path)
    registry = load_registry(registry_file)
    first_model = _step_models(spec.steps[0], registry)[0]
    attributes = {
        "name": spec.name, "version": spec.version, "description": spec.description,
        "tags": spec.tags, "spec": spec, "deterministic": False, "batchable": False,
        "input_schema": _input_schema(spec.steps[0], registry),
        "output_schema": _output_schema(spec.steps[-1], registry),
        "sample_input": spec.sample_input or first_model.sample_input}
    return type(f"{spec.name.title().replace('_', '')}Pipeline", (PipelineModel,), attributes)


def create_pipeline_app(path: str | Path, config: Mapping[str, Any] | None = None):
    """The service app of the pipeline file at ``path``."""
    model = pipeline_model(path)
    prefix = model.name.upper() + "_"
    return create_service_app(model, prefix=prefix, config=config,
                              defaults={"WARMUP_TIMEOUT_S": 300.0})


class PipelineModel(Model):
    """Runs its steps by piping to their services; a batch goes through as a batch."""

    spec: PipelineSpec

    def load(self) -> None:
        """Build the pipe client the steps use."""
        self.client = Client(timeout=self.config.get("DEFAULT_TIMEOUT_S", 30.0))

    def warmup(self) -> None:
        """Ready only once every step answers: retry the sample until it goes through."""
        deadline = time.monotonic() + float(self.config.get("WARMUP_TIMEOUT_S", 300.0))
        while True:
            try:
                return super().warmup()
            except (NotReady, UpstreamError, DeadlineExceeded):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def metadata(self) -> dict[str, Any]:
        """The steps, for ``/metadata``."""
        return {"pipeline": {"steps": [s.describe() for s in self.spec.steps]}}

    def predict(self, inputs: list[dict[str, Any]]) -> list[Any]:
        """Each step on the whole batch in turn; per-step timings go into the answer."""
        values, timings = list(inputs), []
        for index, step in enumerate(self.spec.steps):
            started = time.perf_counter()
            values = self._run(step, values)
            timings.append({"step": index, **step.describe(),
                            "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
        add_response_metadata(steps=timings)
        return values

    def _run(self, step: Step, values: list[Any]) -> list[Any]:
        if step.kind == "service":
            return self.client.algo(step.service).pipe([step.select(v) for v in values]).result
        if step.kind == "map":
            return [self._map(step, value) for value in values]
        return self._parallel(step, values)

    def _map(self, step: Step, value: Mapping[str, Any]) -> dict[str, Any]:
        items = [step.select(v) for v in value[step.over]]
        outcomes = self.client.algo(step.service).pipe_many(
            items, mode="parallel", workers=step.concurrency)
        failed = next((o.error for o in outcomes if not o.ok), None)
        if failed is not None:
            raise failed
        return {step.into: [o.result for o in outcomes]}

    def _parallel(self, step: Step, values: list[Any]) -> list[dict[str, Any]]:
        names = list(step.branches)
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="branch") as pool:
            futures = [pool.submit(bind_context(self._run), step.branches[n], values)
                       for n in names]
            results = [f.result() for f in futures]
        return [{n: r[i] for n, r in zip(names, results)} for i in range(len(values))]

