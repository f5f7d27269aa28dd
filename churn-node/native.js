'use strict'
// Loads the native addon built from churn-node/src (napi-rs). `./dev test` builds it
// with `cargo build -p churn-node` and copies the library here as
// churnlens.<platform>.node.
const { platform, arch } = process
const name = `churnlens.${platform}-${arch}${platform === 'linux' ? '-gnu' : ''}.node`
try {
  module.exports = require(`./${name}`)
} catch (e) {
  throw new Error(
    `churnlens: cannot load the native addon ${name} (${e.message}); build it with ` +
      '`cargo build -p churn-node` and copy target/debug/libchurn_node.so to churn-node/' + name,
    { cause: e },
  )
}
