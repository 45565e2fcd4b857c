"""Run by the kserve environment's python (the kserve SDK brings its own server stack,
kept apart from ours): kserve's InferenceRESTClient (v2 protocol) against one service.

    python kserve_calls.py <base url> <model> <inputs.json>

``inputs.json`` maps input names to lists of values, one per batch item (strings go as
BYTES, numbers as FP64). Prints one JSON document: health, readiness and the outputs of
one infer.
"""
import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


def tensor_of(name, values):
    if all(isinstance(v, str) for v in values):
        array, kind = np.array([v.encode() for v in values], dtype=np.object_), "BYTES"
    else:
        array, kind = np.array(values, dtype=np.float64), "FP64"
    tensor = InferInput(name=name, shape=[len(values)], datatype=kind)
    tensor.set_data_from_numpy(array, binary_data=False)
    return tensor


async def main():
    url, model, path = sys.argv[1], sys.argv[2], sys.argv[3]
    columns = json.loads(open(path).read())
    client = InferenceRESTClient(config=RESTConfig(protocol="v2", timeout=60))
    try:
        tensors = [tensor_of(name, values) for name, values in columns.items()]
        response = await client.infer(url, InferRequest(model_name=model, infer_inputs=tensors),
                                      model_name=model)
        outputs = {o.name: [v.decode() if isinstance(v, bytes) else v
                            for v in o.as_numpy().reshape(-1).tolist()]
                   for o in response.outputs}
        print(json.dumps({"live": await client.is_server_live(url),
                          "ready": await client.is_server_ready(url),
                          "model_ready": await client.is_model_ready(url, model),
                          "outputs": outputs}))
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
