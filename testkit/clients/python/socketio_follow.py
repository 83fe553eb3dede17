"""Follows one answer through Sluice's Socket.IO namespace `/chat` with the unmodified
`python-socketio` client (pinned in testkit/clients/requirements.txt), as an app would.

Run: target/clients/venv/bin/python testkit/clients/python/socketio_follow.py
with SLUICE_URL (http://127.0.0.1:PORT), SLUICE_KEY (an access token or API key),
SLUICE_CONVERSATION, SLUICE_MESSAGE (unset: the first answer that starts), and SLUICE_DROP_EVERY (drop the connection after every N
`message:stream` events and reconnect, joining again with the last id seen; 0: never).
Prints one JSON object: {"message_id", "text", "status", "reconnects", "events", "join"}, or
{"connect_error"} when the server refuses the connection; exits non-zero on
failure.
"""

import sys

_OUT = sys.stdout
sys.stdout = sys.stderr

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import socketio  # noqa: E402

URL = os.environ["SLUICE_URL"]
KEY = os.environ["SLUICE_KEY"]
CONVERSATION = os.environ["SLUICE_CONVERSATION"]
# Unset: the first answer that starts in the conversation.
MESSAGE = os.environ.get("SLUICE_MESSAGE")
DROP_EVERY = int(os.environ.get("SLUICE_DROP_EVERY", "0"))
NS = "/chat"


async def follow():
    state = {"message_id": MESSAGE, "text": "", "status": None, "last_id": None, "events": 0, "since_drop": 0}
    reconnects = 0
    dropped = asyncio.Event()
    finished = asyncio.Event()
    join_replies = []

    while not finished.is_set():
        sio = socketio.AsyncClient(reconnection=False)

        def mine(data):
            if state["message_id"] is None:
                state["message_id"] = data.get("messageId")
            return data.get("messageId") == state["message_id"]

        @sio.on("message:stream", namespace=NS)
        async def on_stream(data):
            if not mine(data):
                return
            state["text"] += data["delta"]
            state["last_id"] = data["id"]
            state["events"] += 1
            state["since_drop"] += 1
            if DROP_EVERY and state["since_drop"] >= DROP_EVERY:
                state["since_drop"] = 0
                dropped.set()

        @sio.on("message:update", namespace=NS)
        async def on_update(data):
            if mine(data) and data.get("reset"):
                state["text"] = data["content"]
                state["last_id"] = data["id"]

        @sio.on("message:done", namespace=NS)
        async def on_done(data):
            if mine(data):
                state["status"] = data["status"]
                state["last_id"] = data["id"]
                finished.set()

        refusals = []

        @sio.on("connect_error", namespace=NS)
        async def on_refused(data):
            refusals.append(data)

        try:
            await sio.connect(URL, namespaces=[NS], auth={"token": KEY}, transports=["websocket"])
        except socketio.exceptions.ConnectionError as e:
            return {"connect_error": str(e), "refusals": refusals}
        join = {"conversationId": CONVERSATION}
        if state["last_id"] is not None:
            join["lastEventId"] = state["last_id"]
        join_replies.append(await sio.call("join", join, namespace=NS, timeout=20))
        done = asyncio.ensure_future(finished.wait())
        drop = asyncio.ensure_future(dropped.wait())
        await asyncio.wait([done, drop], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
        drop.cancel()
        await sio.disconnect()
        if finished.is_set():
            break
        if not dropped.is_set():
            raise TimeoutError(f"no end within 60 s: {state}")
        dropped.clear()
        reconnects += 1

    return {
        "message_id": state["message_id"],
        "text": state["text"],
        "status": state["status"],
        "reconnects": reconnects,
        "events": state["events"],
        "join": join_replies,
    }


def main():
    printed = False

    async def run():
        nonlocal printed
        result = await follow()
        _OUT.write(json.dumps(result) + "\n")
        _OUT.flush()
        printed = True

    try:
        asyncio.run(run())
    except RuntimeError as e:
        # The client library's background tasks may outlive the loop at exit; once the result
        # is out, that teardown noise is not what is tested.
        if not (printed and "Event loop is closed" in str(e)):
            raise


if __name__ == "__main__":
    main()
