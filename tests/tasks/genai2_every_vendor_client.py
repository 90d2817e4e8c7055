"""Run by ``test_genai_every_vendor`` under google-genai 2.x (the 3.x line no longer sends
``generate_videos`` to the Gemini API): for every job, ``models.generate_videos`` at the gateway, then
``operations.get`` on each operation until all are done, then ``files.download`` of each video.

Arguments: the gateway's URL, the client key, a JSON list of jobs ``{model, prompt, seconds, aspect_ratio}``
and a folder; writes ``<folder>/<index>.mp4`` per job and prints ``[{model, done, uri, error}]`` as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from google import genai
from google.genai import types

base_url, key, jobs, folder = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4])
assert genai.__version__.startswith("2."), genai.__version__
client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url))
operations = [
    client.models.generate_videos(
        model=job["model"],
        prompt=job["prompt"],
        config=types.GenerateVideosConfig(duration_seconds=job["seconds"], aspect_ratio=job["aspect_ratio"]),
    )
    for job in jobs
]
for _ in range(600):
    if all(operation.done for operation in operations):
        break
    time.sleep(0.05)
    operations = [operation if operation.done else client.operations.get(operation) for operation in operations]
results = []
for index, (job, operation) in enumerate(zip(jobs, operations, strict=True)):
    result = {"model": job["model"], "done": operation.done, "uri": None, "error": operation.error}
    if operation.done and operation.response and operation.response.generated_videos:
        video = operation.response.generated_videos[0].video
        assert video is not None and video.uri is not None
        result["uri"] = video.uri
        # The SDK reads the file name out of an https:// URI only; the test gateway serves http, so do
        # what it does: keep ``files/<name>``.
        name = video.uri if video.uri.startswith("https://") else "files/" + video.uri.split("files/")[1].split(":")[0]
        (folder / f"{index}.mp4").write_bytes(client.files.download(file=name))
    results.append(result)
print(json.dumps(results))
