// The conformance suite's own CLI finds no test under node_modules (vitest excludes it by
// default): this config names the suite's runner file and excludes nothing.
export default {
  test: {
    include: ['node_modules/@durable-streams/server-conformance-tests/dist/test-runner.js'],
    exclude: [],
  },
};
