"""Drives the official `openai` Python SDK (pinned in testkit/clients/requirements.txt) against Sluice's /v1.

Run (after scripts/lib/clients.sh's ensure_clients), from the repo root:
    target/clients/venv/bin/python testkit/clients/python/openai_sdk.py CASE
with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
CASE: stream | stream_async | stream_error | complete | errors | rate_limited | bad_params
Prints exactly one JSON object on stdout; exits non-zero with a traceback on stderr on failure.
"""

import sys

# Only the final JSON object goes to the real stdout; anything a library prints goes to stderr.
_OUT = sys.stdout
sys.stdout = sys.stderr

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import openai  # noqa: E402
from openai import AsyncOpenAI, OpenAI  # noqa: E402

BASE = os.environ["SLUICE_V1"]
KEY = os.environ["SLUICE_KEY"]
MODEL = os.environ["SLUICE_MODEL"]
PROMPT = os.environ["SLUICE_PROMPT"]
TIMEOUT = 30.0


def messages(system="Answer briefly."):
    return [{"role": "system", "content": system}, {"role": "user", "content": PROMPT}]


def client(api_key=KEY):
    return OpenAI(base_url=BASE, api_key=api_key, max_retries=0, timeout=TIMEOUT)


def emit(obj):
    _OUT.write(json.dumps(obj) + "\n")
    _OUT.flush()


def usage_dict(u):
    if u is None:
        return None
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def error_info(e):
    """Class, status and the parsed `error` object of an SDK exception (or of any other exception)."""
    info = {"class": type(e).__name__, "status": getattr(e, "status_code", None)}
    info["code"] = getattr(e, "code", None)
    info["param"] = getattr(e, "param", None)
    info["message"] = getattr(e, "message", None) or str(e)
    body = getattr(e, "body", None)
    info["body"] = body if isinstance(body, (dict, list, str, int, float, bool, type(None))) else repr(body)
    return info


def case_stream():
    text, chunks, finish, usage, ids = [], 0, None, None, set()
    stream = client().chat.completions.create(
        model=MODEL, messages=messages(), stream=True, stream_options={"include_usage": True}
    )
    for chunk in stream:
        chunks += 1
        ids.add(chunk.id)
        if chunk.usage is not None:
            usage = usage_dict(chunk.usage)
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                text.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    return {"text": "".join(text), "chunks": chunks, "finish_reason": finish, "usage": usage, "ids": sorted(ids)}


async def _stream_async():
    text, finish = [], None
    async with AsyncOpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=TIMEOUT) as c:
        stream = await c.chat.completions.create(model=MODEL, messages=messages(), stream=True)
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    text.append(choice.delta.content)
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
    return {"text": "".join(text), "finish_reason": finish}


def case_stream_error():
    """A stream that fails after some text: the SDK raises at the error chunk."""
    text = []
    try:
        stream = client().chat.completions.create(model=MODEL, messages=messages(), stream=True)
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    text.append(choice.delta.content)
    except openai.APIError as e:
        return {"text": "".join(text), "class": type(e).__name__, "code": e.code, "message": e.message}
    return {"text": "".join(text), "class": None}


def case_stream_async():
    return asyncio.run(_stream_async())


def case_complete():
    raw = client().chat.completions.with_raw_response.create(model=MODEL, messages=messages())
    completion = raw.parse()
    choice = completion.choices[0]
    return {
        "text": choice.message.content,
        "message_id": raw.headers.get("x-sluice-message-id"),
        "finish_reason": choice.finish_reason,
        "usage": usage_dict(completion.usage),
    }


def case_errors():
    out = {}
    try:
        client(api_key="sk-sluice-wrong").chat.completions.create(model=MODEL, messages=messages())
        out["bad_key"] = {"class": None, "status": 200}
    except openai.APIStatusError as e:
        out["bad_key"] = {"class": type(e).__name__, "status": e.status_code}
    try:
        client().chat.completions.create(model="no-such-model", messages=messages())
        out["unknown_model"] = {"class": None, "status": 200}
    except openai.APIStatusError as e:
        out["unknown_model"] = {
            "class": type(e).__name__,
            "status": e.status_code,
            "code": e.code,
            "param": e.param,
            "body": e.body,
        }
    out["models"] = [m.id for m in client().models.list()]
    return out


def case_rate_limited():
    try:
        completion = client().chat.completions.create(model=MODEL, messages=messages())
    except openai.APIStatusError as e:
        return {"class": type(e).__name__, "status": e.status_code, "code": e.code, "message": e.message}
    return {"class": None, "text": completion.choices[0].message.content}


def case_bad_params():
    c = client()
    cases = [
        ("max_tokens=-5", {"max_tokens": -5}),
        ("max_tokens=abc", {"max_tokens": "abc"}),
        ("max_completion_tokens=-1", {"max_completion_tokens": -1}),
        ("user=12345", {"user": 12345}),
        ("user={}", {"user": {}}),
        ("store=yes", {"store": "yes"}),
        ("parallel_tool_calls=x", {"parallel_tool_calls": "x"}),
        ("stream_options.include_usage=yes", {"stream": True, "stream_options": {"include_usage": "yes"}}),
        ("temperature=5", {"temperature": 5}),
        ("top_p=2", {"top_p": 2}),
        ("system_25000_chars", {"messages": messages(system="x" * 25000)}),
        ("model_4000_chars", {"model": "m" * 4000}),
    ]
    results = []
    for name, kwargs in cases:
        args = {"model": MODEL, "messages": messages()}
        args.update(kwargs)
        row = {"name": name}
        try:
            result = c.chat.completions.create(**args)
            if args.get("stream"):
                for _ in result:
                    pass
            row.update({"status": 200, "class": None, "param": None, "code": None, "message": None})
        except openai.APIStatusError as e:
            row.update(
                {"status": e.status_code, "class": type(e).__name__, "param": e.param, "code": e.code,
                 "message": e.message}
            )
        except Exception as e:  # a client-side rejection (no request sent) or a broken stream
            row.update({"status": None, "class": type(e).__name__, "param": None, "code": None, "message": str(e)})
        results.append(row)
    return {"cases": results}


CASES = {
    "stream": case_stream,
    "stream_async": case_stream_async,
    "stream_error": case_stream_error,
    "complete": case_complete,
    "errors": case_errors,
    "rate_limited": case_rate_limited,
    "bad_params": case_bad_params,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(f"usage: openai_sdk.py {{{'|'.join(CASES)}}}")
    emit(CASES[sys.argv[1]]())
