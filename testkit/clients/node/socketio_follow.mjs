// Follows one answer through Sluice's Socket.IO namespace `/chat` with the unmodified
// `socket.io-client` (pinned in testkit/clients/package.json), the way an app written for it does:
// join on every (re)connect with the last id seen, and let the client reconnect by itself.
//
// Run (after scripts/lib/clients.sh's ensure_clients, which copies this file beside node_modules):
//     node target/clients/node/socketio_follow.mjs
// with SLUICE_URL (http://127.0.0.1:PORT), SLUICE_KEY (an access token or API key),
// SLUICE_CONVERSATION, SLUICE_MESSAGE, and SLUICE_DROP_EVERY (close the underlying connection
// after every N `message:stream` events, as a network drop would; 0: never).
// Prints one JSON object, {"text","status","reconnects","joins"}; exits 1 on failure.
import { io } from "socket.io-client";

console.log = console.info = console.debug = (...a) => console.error(...a);
const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

const message = env("SLUICE_MESSAGE");
const dropEvery = Number(process.env.SLUICE_DROP_EVERY ?? "0");

function follow() {
  return new Promise((resolve, reject) => {
    const socket = io(`${env("SLUICE_URL")}/chat`, {
      auth: { token: env("SLUICE_KEY") },
      transports: ["websocket"],
      reconnectionDelay: 100,
      reconnectionDelayMax: 200,
    });
    let text = "";
    let lastId;
    let sinceDrop = 0;
    let connects = 0;
    const joins = [];
    const timer = setTimeout(() => reject(new Error(`no end within 60 s: ${text.length} chars`)), 60_000);
    socket.on("connect", () => {
      connects += 1;
      const join = { conversationId: env("SLUICE_CONVERSATION") };
      if (lastId !== undefined) join.lastEventId = lastId;
      // A drop can come before the ack (events may arrive first): then the ack is lost, and
      // the next connect joins again.
      socket.emitWithAck("join", join).then(
        (reply) => joins.push(reply),
        () => joins.push({ lost: true }),
      );
    });
    socket.on("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
    socket.on("message:stream", ({ messageId, delta, id }) => {
      if (messageId !== message) return;
      text += delta;
      lastId = id;
      sinceDrop += 1;
      if (dropEvery && sinceDrop >= dropEvery) {
        sinceDrop = 0;
        // The transport dies as on a lost network; socket.io-client reconnects by itself.
        socket.io.engine.close();
      }
    });
    socket.on("message:update", ({ messageId, content, reset, id }) => {
      if (messageId !== message || !reset) return;
      text = content;
      lastId = id;
    });
    socket.on("message:done", ({ messageId, status, id }) => {
      if (messageId !== message) return;
      lastId = id;
      clearTimeout(timer);
      socket.disconnect();
      resolve({ text, status, reconnects: connects - 1, joins });
    });
  });
}

try {
  process.stdout.write(JSON.stringify(await follow()) + "\n");
} catch (e) {
  console.error(e?.stack ?? e);
  process.exit(1);
}
