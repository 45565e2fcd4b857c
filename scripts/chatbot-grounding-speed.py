"""Serving time of the chatbot answerer with and without the grounding check, in one
process, alternating the two (5 rounds of 40 calls each; medians).

    PYTHONPATH=$PWD .venv/bin/python scripts/chatbot-grounding-speed.py
"""
import time, statistics
from services.chatbot import answerer as am
from services.chatbot.evaluate import shifted_items
a = am.Answerer.load()
items = shifted_items()
qs = [it.question for it in items][:25]; cs = [it.context for it in items][:25]
real = am.unsupported_names
def run(fn, batch):
    am.unsupported_names = fn
    t = []
    for _ in range(40):
        s = time.perf_counter()
        if batch: a.answer(qs, cs)
        else: a.answer(qs[:1], cs[:1])
        t.append(time.perf_counter() - s)
    return statistics.median(t) * 1000
for batch in (False, True):
    base, new = [], []
    for _ in range(5):
        base.append(run(lambda q, c: [], batch)); new.append(run(real, batch))
    b, n = statistics.median(base), statistics.median(new)
    print("batch of 25" if batch else "one question", f"without {b:.2f} ms, with {n:.2f} ms, ratio {n/b:.3f}")
