"""Run by ``test_mock_upstream_tasks_b`` under google-genai 2.x (the 3.x line no longer sends
``generate_videos`` to the Gemini API): generate a video at the mock, poll the operation, download it.
Prints ``{"done", "uri", "size"}`` as JSON."""

from __future__ import annotations

import json
import sys
import time

from google import genai
from google.genai import types

base_url = sys.argv[1]
client = genai.Client(api_key="gm-sdk", http_options=types.HttpOptions(base_url=base_url))
assert genai.__version__.startswith("2."), genai.__version__
operation = client.models.generate_videos(
    model="veo-3.0-generate-001",
    prompt="a lighthouse at dawn",
    config=types.GenerateVideosConfig(aspect_ratio="16:9", duration_seconds=6, resolution="720p"),
)
for _ in range(20):
    if operation.done:
        break
    time.sleep(0.01)
    operation = client.operations.get(operation)
video = operation.response.generated_videos[0].video
# The SDK reads the file name out of an https:// URI only; the mock serves http, so do what it does.
name = video.uri if video.uri.startswith("https://") else "files/" + video.uri.split("files/")[1].split(":")[0]
data = client.files.download(file=name)
print(json.dumps({"done": operation.done, "uri": video.uri, "size": len(data), "version": genai.__version__}))
sys.stdout.flush()
with open(sys.argv[2], "wb") as out:
    out.write(data)
