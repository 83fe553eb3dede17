"""Drives LangChain's `langchain_openai.ChatOpenAI` (pinned in testkit/clients/requirements.txt) against Sluice's /v1.

Run (after scripts/lib/clients.sh's ensure_clients), from the repo root:
    target/clients/venv/bin/python testkit/clients/python/langchain_stream.py
with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
Prints exactly one JSON object, {"text": ...}, on stdout; exits non-zero with a traceback on stderr on failure.
"""

import os
import sys

# Only the final JSON object goes to the real stdout; anything a library prints goes to stderr.
_OUT = sys.stdout
sys.stdout = sys.stderr

# No LangSmith tracing (it would post runs to the internet).
for _var in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING_V2"):
    os.environ.pop(_var, None)

import json  # noqa: E402

from langchain_openai import ChatOpenAI  # noqa: E402


def main():
    llm = ChatOpenAI(
        base_url=os.environ["SLUICE_V1"],
        api_key=os.environ["SLUICE_KEY"],
        model=os.environ["SLUICE_MODEL"],
        max_retries=0,
        timeout=30,
    )
    text = []
    for chunk in llm.stream(os.environ["SLUICE_PROMPT"]):
        if isinstance(chunk.content, str):
            text.append(chunk.content)
        else:  # content blocks
            text.extend(b.get("text", "") for b in chunk.content if isinstance(b, dict))
    return {"text": "".join(text)}


if __name__ == "__main__":
    _OUT.write(json.dumps(main()) + "\n")
    _OUT.flush()
