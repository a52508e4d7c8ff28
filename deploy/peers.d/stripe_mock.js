// Runs stripe-stateful-mock on one address only (started by deploy/peers).
//
// The package's own command listens on every interface; its README's
// "Custom" usage builds the Express app, which we bind to HOST:PORT here.
//
// Usage: NODE_PATH=<prefix>/node_modules node stripe_mock.js --listen 127.0.0.1:52111
// LOG_LEVEL (silent, error, warn, info, debug) is honoured as by the package.
"use strict";

const log = require("loglevel");
const { createExpressApp } = require("stripe-stateful-mock");

const i = process.argv.indexOf("--listen");
const listen = i > 0 ? process.argv[i + 1] || "" : "127.0.0.1:52111";
const match = /^(.+):(\d+)$/.exec(listen);
if (!match) {
  console.error(`stripe_mock.js: --listen wants HOST:PORT, got '${listen}'`);
  process.exit(2);
}
const [, host, port] = match;

log.setLevel(process.env.LOG_LEVEL || "info");
const server = createExpressApp().listen(Number(port), host, () => {
  log.info(`stripe-stateful-mock listening on http://${host}:${port}`);
});
server.on("error", (err) => {
  console.error(`stripe_mock.js: ${err.message}`);
  process.exit(1);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    // Idle keep-alive connections would hold close() open.
    server.closeIdleConnections();
  });
}
