// Drives the Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`, pinned in testkit/clients/package.json)
// against Sluice's /v1.
//
// Run (after scripts/lib/clients.sh's ensure_clients, which copies this file beside node_modules):
//     node target/clients/node/vercel_ai.mjs CASE     (any cwd; the repo root is fine)
// with SLUICE_V1 (e.g. http://127.0.0.1:41234/v1), SLUICE_KEY, SLUICE_MODEL, SLUICE_PROMPT in the environment.
// CASE: stream  (streamText)   -> {"text","usage"}
//       generate (generateText) -> {"text"}
// Prints exactly one JSON object on stdout; exits 1 with the stack on stderr on failure (streamText's
// in-stream errors are rethrown, not just logged).
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText } from "ai";

// Only the final JSON object goes to stdout.
console.log = console.info = console.debug = (...a) => console.error(...a);
globalThis.AI_SDK_LOG_WARNINGS = false;
const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

function setup() {
  const provider = createOpenAICompatible({
    name: "sluice",
    baseURL: env("SLUICE_V1"),
    apiKey: env("SLUICE_KEY"),
    includeUsage: true,
  });
  return {
    model: provider(env("SLUICE_MODEL")),
    system: "Answer briefly.",
    prompt: env("SLUICE_PROMPT"),
    maxRetries: 0,
    abortSignal: AbortSignal.timeout(30_000),
  };
}

async function stream() {
  // Errors arrive as `error` parts of fullStream (rethrown below); the default onError would only log them.
  const result = streamText({ ...setup(), onError: () => {} });
  let text = "";
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") text += part.text ?? part.textDelta ?? "";
    else if (part.type === "error") throw part.error;
  }
  const usage = await result.usage;
  return { text, usage };
}

async function generate() {
  const result = await generateText(setup());
  return { text: result.text };
}

const CASES = { stream, generate };
const name = process.argv[2];
if (!CASES[name]) {
  console.error(`usage: vercel_ai.mjs {${Object.keys(CASES).join("|")}}`);
  process.exit(2);
}
CASES[name]().then(
  (out) => process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0)),
  (err) => {
    // Class name first (an error part of the AI SDK may be a plain object), then the stack.
    console.error(`${err?.constructor?.name ?? typeof err}${err?.status ? ` status=${err.status}` : ""}:`);
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
