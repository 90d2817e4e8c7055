"""The aiohttp application: provider routes plus the ``/_mock/*`` control endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from omnirouter.mock_upstream import (
    anthropic_messages,
    gemini,
    media_common,
    media_images,
    media_openai,
    media_openai_audio,
    media_rerank,
    media_speech,
    media_tasks,
    models,
    openai_chat,
    openai_responses,
    realtime,
    search_serper,
    tasks_images,
    tasks_midjourney,
    tasks_midjourney_plus,
    tasks_suno,
    tasks_video,
    tasks_video_a,
    tasks_video_b,
    tasks_video_b_vendors,
    vendor_anthropic,
    vendor_chat,
)
from omnirouter.mock_upstream.core import STATE_KEY, State, json_response, trickle_middleware
from omnirouter.mock_upstream.directives import DirectiveError, parse_directive


async def _root(request: web.Request) -> web.Response:
    return web.Response(text="omnirouter mock upstream\n")


async def _health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


async def _get_requests(request: web.Request) -> web.Response:
    entries = request.app[STATE_KEY].requests
    provider = request.query.get("provider")
    if provider:
        entries = [e for e in entries if e["provider"] == provider]
    return json_response(entries)


async def _clear_requests(request: web.Request) -> web.Response:
    log = request.app[STATE_KEY].requests
    count = len(log)
    log.clear()
    return json_response({"cleared": count})


async def _post_script(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        body: Any = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return json_response({"error": "body must be JSON"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("directive"), dict):
        return json_response({"error": 'expected {"directive": {...}, "times": K}'}, status=400)
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool):
        return json_response({"error": "`times` must be an integer"}, status=400)
    try:
        state.queue.push(parse_directive(body["directive"]), body["directive"], times)
    except DirectiveError as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response({"queued": len(state.queue)})


async def _release(request: web.Request) -> web.Response:
    """Let the streams held by ``hold_after`` go on."""
    return json_response({"released": request.app[STATE_KEY].release()})


async def _release_held(app: web.Application) -> None:
    """On shutdown, no stream stays held."""
    app[STATE_KEY].release()


async def _get_script(request: web.Request) -> web.Response:
    return json_response(request.app[STATE_KEY].queue.snapshot())


async def _clear_script(request: web.Request) -> web.Response:
    request.app[STATE_KEY].queue.clear()
    return json_response({"cleared": True})


async def _dashscope_task(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/tasks/{id}``: a video task (``tasks_video_b_vendors``) or an image task."""
    answer = await tasks_video_b_vendors.dashscope_video_task(request)
    return answer if answer is not None else await media_images.dashscope_task(request)


async def _root_post(request: web.Request) -> web.StreamResponse:
    """``POST /``: Volcengine's Jimeng (``?Action=…``) or Tencent Cloud (``X-TC-Action``: MPS images, VCLM video)."""
    if "Action" in request.query:
        return await tasks_video_a.jimeng(request)
    if tasks_images.is_mps_image(request):
        return await tasks_images.mps(request)
    return await tasks_video_b_vendors.tencent(request)


async def _stop_callbacks(app: web.Application) -> None:
    """Stop pushing vendor callbacks (``tasks_callbacks``)."""
    jobs = list(app[STATE_KEY].background)
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


def create_app(*, max_log: int = 10_000) -> web.Application:
    """Build the mock upstream application (state is per application)."""
    app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[trickle_middleware])
    app[STATE_KEY] = State(max_log=max_log)
    app.on_cleanup.append(_stop_callbacks)
    app.on_shutdown.append(_release_held)
    r = app.router
    r.add_get("/", _root)
    r.add_get("/_mock/health", _health)
    r.add_get("/_mock/requests", _get_requests)
    r.add_delete("/_mock/requests", _clear_requests)
    r.add_get("/_mock/script", _get_script)
    r.add_post("/_mock/script", _post_script)
    r.add_delete("/_mock/script", _clear_script)
    r.add_post("/_mock/release", _release)
    # OpenAI
    r.add_post("/v1/chat/completions", openai_chat.chat_completions)
    vendor_chat.add_vendor_routes(r)  # OpenAI-compatible vendors, each under /{provider}
    vendor_anthropic.add_vendor_anthropic_routes(r)  # and their Anthropic-compatible endpoints
    r.add_post("/v1/responses", openai_responses.responses)
    r.add_get("/v1/realtime", realtime.realtime)  # WebSocket: the Realtime API, GA and beta
    realtime.add_vendor_realtime_routes(r)  # and Azure's (deployment URL: preview events; v1: GA)
    r.add_post("/v1/embeddings", media_openai.embeddings)
    r.add_post("/v1/moderations", media_openai.moderations)
    r.add_post("/v1/images/generations", tasks_images.images_generations)  # OpenAI, or Kling by its JWT
    r.add_post("/v1/images/edits", media_openai.images_edits)
    r.add_post("/v1/audio/speech", media_openai_audio.speech)
    r.add_post("/v1/audio/transcriptions", media_openai_audio.transcriptions)
    r.add_post("/v1/audio/translations", media_openai_audio.translations)
    # Rerank: Cohere (also unprefixed), Jina and Voyage told apart by a path prefix; DashScope
    for prefix in ("", "/cohere"):
        r.add_post(prefix + "/v1/rerank", media_rerank.cohere_v1)
        r.add_post(prefix + "/v2/rerank", media_rerank.cohere_v2)
    r.add_post("/jina/v1/rerank", media_rerank.jina)
    r.add_post("/voyage/v1/rerank", media_rerank.voyage)
    r.add_post("/api/v1/services/rerank/text-rerank/text-rerank", media_rerank.dashscope)
    for path, serper in (("/search", search_serper.search), ("/images", search_serper.images),
                         ("/news", search_serper.news)):  # fmt: skip
        r.add_post(path, serper)
        r.add_get(path, serper)
    # Vendor speech
    r.add_post("/v1/t2a_v2", media_speech.minimax)
    r.add_post("/api/v1/tts", media_speech.volcengine_v1)
    r.add_post("/api/v3/tts/unidirectional", media_speech.volcengine_v3)
    r.add_post("/api/v1/services/aigc/multimodal-generation/generation", media_speech.dashscope_tts)
    r.add_post("/v1/text-to-speech/{voice_id}", media_speech.elevenlabs)
    r.add_post("/v1/text-to-speech/{voice_id}/stream", media_speech.elevenlabs)
    # Vendor images
    r.add_post("/api/v3/images/generations", media_images.ark)
    r.add_post(r"/v1/{model:flux[\w.-]*}", media_images.bfl_submit)
    r.add_get("/v1/get_result", media_images.bfl_result)
    r.add_post("/api/v1/services/aigc/text2image/image-synthesis", media_images.wanx_submit)
    # Midjourney (tasks_midjourney): the midjourney-proxy API
    tasks_midjourney.routes(r)
    tasks_midjourney_plus.routes(r)  # edits, video, face swap, upload, image-seed
    # Video tasks, part A (tasks_video_a): Kling, Vidu, MiniMax Hailuo, Ark Seedance, Jimeng
    for action in ("text2video", "image2video"):
        r.add_post(f"/v1/videos/{action}", tasks_video_a.kling_submit)
        r.add_get(f"/v1/videos/{action}/{{id}}", tasks_video_a.kling_query)
    for mode in ("text2video", "img2video", "start-end2video", "reference2video"):
        r.add_post(f"/ent/v2/{mode}", tasks_video_a.vidu_submit)
    r.add_get("/ent/v2/tasks/{id}/creations", tasks_video_a.vidu_creations)
    r.add_post("/v1/video_generation", tasks_video_a.minimax_submit)
    r.add_get("/v1/query/video_generation", tasks_video_a.minimax_query)
    r.add_get("/v1/files/retrieve", tasks_video_a.minimax_file)
    r.add_post("/api/v3/contents/generations/tasks", tasks_video_a.ark_submit)
    r.add_get("/api/v3/contents/generations/tasks", tasks_video_a.ark_list)
    r.add_get("/api/v3/contents/generations/tasks/{id}", tasks_video_a.ark_task)
    r.add_delete("/api/v3/contents/generations/tasks/{id}", tasks_video_a.ark_task)
    r.add_get("/api/v1/tasks/{task_id}", _dashscope_task)
    r.add_post("/api/v1/tasks/{task_id}/cancel", tasks_video_b_vendors.dashscope_cancel)
    # Video tasks, part B (tasks_video_b*): Sora, Veo, DashScope Wan, Tencent Hunyuan, PixVerse
    r.add_post("/v1/videos", tasks_video_b.sora_create)
    r.add_get("/v1/videos", tasks_video_b.sora_list)
    r.add_get("/v1/videos/{video_id}", tasks_video_b.sora_retrieve)
    r.add_delete("/v1/videos/{video_id}", tasks_video_b.sora_delete)
    r.add_get("/v1/videos/{video_id}/content", tasks_video_b.sora_content)
    r.add_post("/v1/videos/{video_id}/remix", tasks_video_b.sora_remix)
    r.add_post(r"/v1beta/models/{name:[^/]+:predictLongRunning}", tasks_video_b.veo_submit)
    r.add_get("/v1beta/models/{model}/operations/{op}", tasks_video_b.veo_operation)
    r.add_get("/v1beta/files/{name}", tasks_video_b.veo_file)
    r.add_post("/api/v1/services/aigc/video-generation/video-synthesis", tasks_video_b_vendors.wan_submit)
    r.add_post("/", _root_post)
    r.add_post("/openapi/v2/image/upload", tasks_video_b_vendors.pixverse_upload)
    r.add_post(r"/openapi/v2/video/{kind:text|img}/generate", tasks_video_b_vendors.pixverse_generate)
    r.add_get("/openapi/v2/video/result/{video_id}", tasks_video_b_vendors.pixverse_result)
    # Image tasks (tasks_images): Kling's image APIs (MPS's are on ``POST /``)
    for endpoint in ("generations", "omni-image"):
        r.add_get(f"/v1/images/{endpoint}/{{id}}", tasks_images.kling_query)
    r.add_post("/v1/images/omni-image", tasks_images.kling_submit)
    r.add_get("/media/task-images/{token}/{file}", tasks_images.task_image)
    # Music tasks: a Suno-API server (tasks_suno)
    tasks_suno.add_routes(r)
    r.add_get("/media/tasks/{token}/{file}", tasks_video.task_media)
    # Generated files behind the URLs media answers carry
    r.add_get("/media/{name}", media_common.serve_media)
    media_tasks.add_routes(r)
    # Anthropic
    r.add_post("/v1/messages", anthropic_messages.messages)
    r.add_post("/v1/messages/count_tokens", anthropic_messages.count_tokens)
    # Shared listings (dispatch on the auth header) and Gemini
    r.add_get("/v1/models", models.list_models)
    r.add_get("/v1/models/{name}", models.get_model)
    r.add_get("/v1beta/models", models.list_models)
    r.add_get("/v1beta/models/{name}", models.get_model)
    r.add_post("/v1beta/models/{name}", gemini.model_action)
    r.add_post("/v1/models/{name}", gemini.model_action)
    r.add_route("*", "/{tail:.*}", models.not_found)
    return app
