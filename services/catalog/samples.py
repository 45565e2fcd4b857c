"""Code samples for a service, generated from its metadata: curl, Python, JavaScript.

Samples never hold a key: where services need one, they read it from the caller's own
environment (``$MODELCHAIN_API_KEY``) or name a placeholder.
"""
from __future__ import annotations

import json
import shlex
from pprint import pformat
from typing import Any


def curl(url: str, sample: Any, auth: bool) -> str:
    """A ``curl`` call of ``POST /predict`` with the sample as body."""
    lines = [f"curl -s -X POST {shlex.quote(url + '/predict')}",
             "     -H 'Content-Type: application/json'"]
    if auth:
        lines.append('     -H "Authorization: Bearer $MODELCHAIN_API_KEY"')
    lines.append(f"     -d {shlex.quote(json.dumps(sample, ensure_ascii=False))}")
    return " \\\n".join(lines)


def python(name: str, sample: Any, auth: bool) -> str:
    """The pipe client: ``Client().algo(name).pipe(sample)``."""
    note = "# the client sends $MODELCHAIN_API_KEY from the environment\n" if auth else ""
    return (f"from common.client import Client\n\n{note}"
            f"sample = {pformat(sample, width=80, sort_dicts=False)}\n"
            f"answer = Client().algo({name!r}).pipe(sample)\n"
            "print(answer.result)")


def javascript(url: str, sample: Any, auth: bool) -> str:
    """A browser or Node ``fetch`` of ``POST /predict``."""
    headers = ['"Content-Type": "application/json"']
    if auth:
        headers.append('"Authorization": "Bearer " + API_KEY')
    body = json.dumps(sample, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    lines = ['const API_KEY = "<your key>";  // never ship a real key in page code\n'
             if auth else "",
             f"const response = await fetch({json.dumps(url + '/predict')}, {{\n",
             '  method: "POST",\n',
             f"  headers: {{{', '.join(headers)}}},\n",
             f"  body: JSON.stringify({body}),\n",
             "});\n",
             "const answer = await response.json();  // {result, metadata} or {error}\n",
             "console.log(answer.result);"]
    return "".join(lines)


def samples(name: str, url: str, sample: Any, auth: bool) -> dict[str, str]:
    """Every sample, by language."""
    return {"curl": curl(url, sample, auth), "python": python(name, sample, auth),
            "javascript": javascript(url, sample, auth)}
