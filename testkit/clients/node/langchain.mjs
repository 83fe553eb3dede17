// Drives LangChain.js's `ChatOpenAI` (`@langchain/openai`, pinned in testkit/clients/package.json) against
// Sluice's /v1: `.stream(PROMPT)`.
//
// Run (after scripts/lib/clients.sh's ensure_clients, which copies this file beside node_modules):
//     node target/clients/node/langchain.mjs          (any cwd; the repo root is fine)
// with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
// Prints exactly one JSON object, {"text"}, on stdout; exits 1 with the stack on stderr on failure.

// No LangSmith tracing (it would post runs to the internet).
for (const k of ["LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING"]) {
  delete process.env[k];
}
const { ChatOpenAI } = await import("@langchain/openai");

// Only the final JSON object goes to stdout.
console.log = console.info = console.debug = (...a) => console.error(...a);
const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

async function main() {
  const llm = new ChatOpenAI({
    model: env("SLUICE_MODEL"),
    apiKey: env("SLUICE_KEY"),
    configuration: { baseURL: env("SLUICE_V1") },
    maxRetries: 0,
    timeout: 30_000,
  });
  let text = "";
  for await (const chunk of await llm.stream(env("SLUICE_PROMPT"))) {
    if (typeof chunk.content === "string") text += chunk.content;
    else for (const block of chunk.content ?? []) text += block?.text ?? "";
  }
  return { text };
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
