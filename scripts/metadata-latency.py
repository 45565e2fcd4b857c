"""``python scripts/metadata-latency.py <checkout>``: the in-process cost of
``GET /metadata`` (tweet_sentiment and object_detection, 300 calls each, after one warm
call), with the code of ``<checkout>``. Run it for two checkouts to compare them."""
import sys
import time

sys.path.insert(0, sys.argv[1])  # the checkout's packages before the installed ones

from services.object_detection import create_app as object_detection  # noqa: E402
from services.tweet_sentiment import create_app as tweet_sentiment  # noqa: E402

for name, factory in (("tweet_sentiment", tweet_sentiment),
                      ("object_detection", object_detection)):
    client = factory({"LOAD_MODEL": "off"}).test_client()
    client.get("/metadata")
    start = time.perf_counter()
    for _ in range(300):
        assert client.get("/metadata").status_code == 200
    print(f"{name} {(time.perf_counter() - start) / 300 * 1000:.3f} ms per call")
