'use strict'
// What `npm pack` ships: every local file a shipped entry point requires or imports
// (JavaScript and type definitions) is in the package, so `npm install churnlens` loads.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')

function packedFiles() {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  return new Set(JSON.parse(out)[0].files.map((f) => f.path))
}

// Local specifiers ('./x', './x.js') of require(), import ... from and export ... from.
function localRefs(file) {
  const text = fs.readFileSync(path.join(root, file), 'utf8')
  const refs = []
  for (const m of text.matchAll(/(?:require\(|from\s+)['"](\.\/[^'"]+)['"]/g)) refs.push(m[1].slice(2))
  return refs
}

function resolve(ref, from, files) {
  const candidates = from.endsWith('.d.ts') ? [ref, `${ref}.d.ts`, ref.replace(/\.js$/, '.d.ts')] : [ref, `${ref}.js`]
  return candidates.find((c) => files.has(c))
}

test('npm pack ships every file the entry points load', () => {
  const files = packedFiles()
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const entries = [pkg.main, pkg.types]
  for (const target of Object.values(pkg.exports)) {
    if (typeof target === 'object') entries.push(...Object.values(target).map((t) => t.replace(/^\.\//, '')))
  }
  const seen = new Set()
  const todo = entries.filter(Boolean)
  while (todo.length) {
    const f = todo.pop()
    if (seen.has(f)) continue
    seen.add(f)
    assert.ok(files.has(f), `${f} is loaded by the package but not in package.json "files"`)
    for (const ref of localRefs(f)) {
      const hit = resolve(ref, f, files)
      assert.ok(hit, `${f} loads ./${ref}, which npm pack does not ship`)
      todo.push(hit)
    }
  }
  for (const f of ['index.js', 'native.js', 'errors.js', 'decode.js', 'types.d.ts', 'errors.d.ts']) {
    assert.ok(seen.has(f), `${f} reached from the entry points`)
  }
  assert.ok([...files].some((f) => f.endsWith('.node')), 'the native addon is shipped')
})
