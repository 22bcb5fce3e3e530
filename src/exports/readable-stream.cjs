// Bundler alias target for the `readable-stream` package (see wrangler.toml): workerd's node:stream.
module.exports = require("node:stream");
