// Drives the official `openai` Node SDK (pinned in testkit/clients/package.json) against Sluice's /v1:
// a streamed chat completion with stream_options.include_usage.
//
// Run (after scripts/lib/clients.sh's ensure_clients, which copies this file beside node_modules):
//     node target/clients/node/openai_sdk.mjs        (any cwd; the repo root is fine)
// with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
// Prints exactly one JSON object, {"text","usage","finish_reason"}, on stdout; exits 1 with the stack on stderr
// on failure.
import OpenAI from "openai";

// Only the final JSON object goes to stdout.
console.log = console.info = console.debug = (...a) => console.error(...a);
const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

async function main() {
  const client = new OpenAI({ baseURL: env("SLUICE_V1"), apiKey: env("SLUICE_KEY"), maxRetries: 0, timeout: 30_000 });
  const stream = await client.chat.completions.create({
    model: env("SLUICE_MODEL"),
    messages: [
      { role: "system", content: "Answer briefly." },
      { role: "user", content: env("SLUICE_PROMPT") },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  let finish_reason = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      if (choice.delta?.content) text += choice.delta.content;
      if (choice.finish_reason != null) finish_reason = choice.finish_reason;
    }
  }
  return { text, usage, finish_reason };
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0)),
  (err) => {
    // Class name first (an error part of the AI SDK may be a plain object), then the stack.
    console.error(`${err?.constructor?.name ?? typeof err}${err?.status ? ` status=${err.status}` : ""}:`);
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
