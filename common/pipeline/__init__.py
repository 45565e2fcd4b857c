"""Declarative pipelines: a ``pipeline.yaml`` becomes a model, hence a service.

Steps are known by their published contracts (``deploy/contracts/<name>.json``), never
by importing their code."""
from .pipeline import (PipelineModel, PipelineSpec, Step, create_pipeline_app, load_spec,
                       parse_step, pipeline_model)

__all__ = ["PipelineModel", "PipelineSpec", "Step", "create_pipeline_app", "load_spec",
           "parse_step", "pipeline_model"]
