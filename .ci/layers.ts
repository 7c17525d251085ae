/**
 * Folder-level import cycle check (biome's noImportCycles works on files; a cycle between
 * folders is a layering bug even when no two files import each other). Areas are
 * `chain/<area>`, `bridge/<area>`, `genesis`, `contracts`, `test/<area>`; the files directly
 * in `chain/` (the composition root) form the area `chain`. Test files are left out: a test
 * may import across the layers it checks. Exit 1 with the cycle named.
 * Usage: node .ci/layers.ts [--graph]
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts'], {
  cwd: root,
  encoding: 'utf8',
})
  .trim()
  .split('\n')
  .filter((f) => f !== '' && !f.endsWith('.test.ts') && !f.startsWith('.ci/'))

function areaOf(file: string): string {
  const parts = file.split('/')
  if (['chain', 'bridge', 'test'].includes(parts[0]!) && parts.length > 2)
    return `${parts[0]}/${parts[1]}`
  return parts[0]!
}

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g
const edges = new Map<string, Map<string, string>>()
for (const file of files) {
  const source = readFileSync(path.join(root, file), 'utf8')
  for (const match of source.matchAll(IMPORT)) {
    const target = path.normalize(path.join(path.dirname(file), match[1]!))
    const from = areaOf(file)
    const to = areaOf(target)
    if (from === to) continue
    const out = edges.get(from) ?? new Map<string, string>()
    edges.set(from, out)
    if (!out.has(to)) out.set(to, `${file} -> ${target}`)
  }
}

if (process.argv.includes('--graph')) {
  for (const [from, out] of [...edges].sort())
    console.log(`${from} -> ${[...out.keys()].sort().join(' ')}`)
}

// Tarjan's strongly connected components: any component with more than one area is a cycle.
const index = new Map<string, number>()
const low = new Map<string, number>()
const stack: string[] = []
const onStack = new Set<string>()
const cycles: string[][] = []
let counter = 0
function visit(v: string): void {
  index.set(v, counter)
  low.set(v, counter++)
  stack.push(v)
  onStack.add(v)
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w)
      low.set(v, Math.min(low.get(v)!, low.get(w)!))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
  }
  if (low.get(v) === index.get(v)) {
    const component: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1) cycles.push(component.sort())
  }
}
for (const area of edges.keys()) if (!index.has(area)) visit(area)

if (cycles.length === 0) {
  console.log(`layers: ${edges.size} areas, 0 folder-level import cycles`)
} else {
  for (const cycle of cycles) {
    console.error(`layers: folder-level import cycle between ${cycle.join(', ')}`)
    for (const from of cycle)
      for (const [to, example] of edges.get(from) ?? [])
        if (cycle.includes(to)) console.error(`  ${from} -> ${to}  (${example})`)
  }
  process.exit(1)
}
