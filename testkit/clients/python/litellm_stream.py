"""Drives LiteLLM as a client (`litellm.completion`, pinned in testkit/clients/requirements.txt) against Sluice's /v1.

Run (after scripts/lib/clients.sh's ensure_clients), from the repo root:
    target/clients/venv/bin/python testkit/clients/python/litellm_stream.py
with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
Prints exactly one JSON object, {"text": streamed text, "complete_text": non-streamed text}, on stdout;
exits non-zero with a traceback on stderr on failure.
"""

import os
import sys

# Only the final JSON object goes to the real stdout; LiteLLM prints banners and hints to stdout.
_OUT = sys.stdout
sys.stdout = sys.stderr

# Offline: these must be set before `import litellm`.
# - the model price map is otherwise downloaded at import;
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
# - tiktoken encodings come from the files bundled inside litellm (its default; a CUSTOM_ dir would override it);
os.environ.pop("CUSTOM_TIKTOKEN_CACHE_DIR", None)
# - no telemetry / callbacks to hosted services.
os.environ["LITELLM_TELEMETRY"] = "False"
os.environ.pop("LITELLM_LOG", None)

import json  # noqa: E402

import litellm  # noqa: E402

litellm.telemetry = False
litellm.num_retries = 0
litellm.suppress_debug_info = True


def main():
    common = dict(
        model="openai/" + os.environ["SLUICE_MODEL"],
        api_base=os.environ["SLUICE_V1"],
        api_key=os.environ["SLUICE_KEY"],
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": os.environ["SLUICE_PROMPT"]},
        ],
        timeout=30,
        max_retries=0,
        num_retries=0,
    )
    text = []
    for chunk in litellm.completion(stream=True, **common):
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                text.append(choice.delta.content)
    response = litellm.completion(**common)
    return {"text": "".join(text), "complete_text": response.choices[0].message.content}


if __name__ == "__main__":
    _OUT.write(json.dumps(main()) + "\n")
    _OUT.flush()
