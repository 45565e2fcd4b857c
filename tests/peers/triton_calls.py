"""Run by the peers environment's python (tritonclient needs an ml-dtypes that our
TensorFlow does not allow): the real tritonclient HTTP client against one service.

    python triton_calls.py <host:port> <model> <inputs.json> <binary: 0|1>

``inputs.json`` maps input names to lists of values (one per batch item; "b64:" values
are sent as the raw bytes they encode). Prints one JSON document: health, readiness,
model metadata, and each output as a list.
"""
import base64
import json
import sys

import numpy as np
import tritonclient.http as httpclient


def numpy_of(values):
    if all(isinstance(v, str) for v in values):
        raw = [base64.b64decode(v[4:]) if v.startswith("b64:") else v.encode() for v in values]
        return np.array(raw, dtype=np.object_), "BYTES"
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool), "BOOL"
    if all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64), "INT64"
    return np.array(values, dtype=np.float64), "FP64"


def plain(value):
    """A numpy element as JSON: BYTES come back as bytes (binary) or str (JSON data)."""
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else value.item()


def main():
    url, model, path, binary = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    columns = json.loads(open(path).read())
    client = httpclient.InferenceServerClient(url=url)
    metadata = client.get_model_metadata(model)
    inputs = []
    for name, values in columns.items():
        array, kind = numpy_of(values)
        tensor = httpclient.InferInput(name, list(array.shape), kind)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput(o["name"], binary_data=binary)
               for o in metadata["outputs"]]
    result = client.infer(model, inputs, outputs=outputs)
    answer = {}
    for output in metadata["outputs"]:
        array = result.as_numpy(output["name"])
        answer[output["name"]] = [plain(v) for v in array.reshape(-1)]
    print(json.dumps({"live": client.is_server_live(), "ready": client.is_server_ready(),
                      "model_ready": client.is_model_ready(model),
                      "inputs": metadata["inputs"], "outputs": answer}))


if __name__ == "__main__":
    main()
