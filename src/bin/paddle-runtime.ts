#!/usr/bin/env node
/**
 * paddle-runtime: the cache runtime server of one cache pod, and its `clean-cache`
 * preStop command. See src/api/runtime-cli.ts for the flags; the token comes from PADDLE_RUNTIME_TOKEN.
 */
import { runtimeMain } from '../runtime/main.js';

runtimeMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`paddle-runtime: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
