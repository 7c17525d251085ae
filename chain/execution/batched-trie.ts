/**
 * Batched update of a Merkle Patricia trie: many key changes applied in one walk, each
 * touched node encoded and hashed once, bottom-up.
 *
 * ethereumjs' `put` walks the path of one key, then re-encodes and rehashes every node on
 * it and writes them all. A block that changes 300 accounts and 600 storage slots thus
 * hashes the upper levels of the trie once per key and writes every intermediate version
 * of them, although only the last is ever referenced. Here the changes are sorted by
 * path, the trie is rewritten once, untouched subtrees keep their stored references, and
 * only the nodes of the new root are written. The resulting root is the one a sequence of
 * `put`/`del` calls gives (the tests check it against ethereumjs).
 *
 * Works on tries without a DB key prefix (the state manager's default).
 */
import type { CheckpointDB, MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { type BatchDBOp, bytesToHex, equalsBytes } from '@ethereumjs/util'
import { encodeRlp } from '../util/rlp-encode.ts'
import { ExecutionError } from './errors.ts'

/** A change to the trie: `value` null or empty deletes the key. */
export interface TrieChange {
  key: Uint8Array
  value: Uint8Array | null
}

export interface TrieBatchOptions {
  /** keccak256, as the trie uses it. */
  hash: (data: Uint8Array) => Uint8Array
  /** The trie hashes its keys (a "secure" trie, as the state and storage tries are). */
  hashKeys: boolean
}

/** A decoded RLP node as stored: a list of byte strings and nested (inline) nodes. */
type RawNode = Array<Uint8Array | RawNode>
/** A child as stored in its parent: the hash of a node in the DB, or an inline node. */
type StoredRef = Uint8Array | RawNode

interface LeafNode {
  kind: 'leaf'
  path: number[]
  value: Uint8Array
}
interface ExtensionNode {
  kind: 'extension'
  path: number[]
  child: NodeRef
}
interface BranchNode {
  kind: 'branch'
  children: Array<NodeRef | null>
  value: Uint8Array | null
}
/** A node rewritten by this batch (not encoded yet). */
type MemNode = LeafNode | ExtensionNode | BranchNode
type NodeRef = StoredRef | MemNode

/** A change addressed by the nibbles of its (applied) key. */
interface PathChange {
  path: Uint8Array
  value: Uint8Array | null
}

const EMPTY = new Uint8Array(0)

/**
 * Applies `changes` (in order: a later change to the same key wins) to `trie`, writes the
 * new nodes through the trie's DB and moves the trie to the new root, which it returns.
 */
export async function applyTrieBatch(
  trie: MerklePatriciaTrie,
  changes: readonly TrieChange[],
  options: TrieBatchOptions,
): Promise<Uint8Array> {
  if (changes.length === 0) return trie.root()
  const db = trie.database()
  const byKey = new Map<string, PathChange>()
  for (const change of changes) {
    const key = options.hashKeys ? options.hash(change.key) : change.key
    const value = change.value === null || change.value.length === 0 ? null : change.value
    byKey.set(bytesToHex(key), {
      path: bytesToNibbles(key),
      value,
    })
  }
  const sorted = [...byKey.values()].sort((a, b) => compareNibbles(a.path, b.path))
  const rewriter = new TrieRewriter(db, options.hash)
  const rootRef = equalsEmptyRoot(trie) ? null : trie.root()
  const updated = await rewriter.update(rootRef, sorted, 0, sorted.length, 0)
  const writes: BatchDBOp<Uint8Array, Uint8Array>[] = []
  const root = updated === null ? trie.EMPTY_TRIE_ROOT : rewriter.encodeRoot(updated, writes)
  await db.batch(writes)
  trie.root(root)
  return root
}

function equalsEmptyRoot(trie: MerklePatriciaTrie): boolean {
  return equalsBytes(trie.root(), trie.EMPTY_TRIE_ROOT)
}

/** One batch's walk over the stored trie. */
class TrieRewriter {
  private readonly db: CheckpointDB
  private readonly hash: (data: Uint8Array) => Uint8Array

  constructor(db: CheckpointDB, hash: (data: Uint8Array) => Uint8Array) {
    this.db = db
    this.hash = hash
  }

  /**
   * The subtree at `ref` with `changes[lo, hi)` applied; every change in the range
   * shares the first `depth` nibbles (the subtree's position). Returns `ref` itself when
   * the range is empty, null when the subtree ends up empty.
   */
  async update(
    ref: NodeRef | null,
    changes: PathChange[],
    lo: number,
    hi: number,
    depth: number,
  ): Promise<NodeRef | null> {
    if (lo === hi) return ref
    if (ref === null) return buildSubtree(puts(changes, lo, hi), depth)
    return this.updateNode(await this.resolve(ref), changes, lo, hi, depth)
  }

  private async updateNode(
    node: MemNode,
    changes: PathChange[],
    lo: number,
    hi: number,
    depth: number,
  ): Promise<NodeRef | null> {
    if (node.kind === 'leaf') {
      // A leaf is one key: merge it with the changes (unless one of them replaces it) and
      // build the subtree afresh.
      const leafPath = concatPath(changes[lo]!.path.subarray(0, depth), node.path)
      const merged = puts(changes, lo, hi)
      let replaced = false
      for (let i = lo; i < hi; i++) {
        if (compareNibbles(changes[i]!.path, leafPath) === 0) replaced = true
      }
      if (!replaced) {
        merged.push({ path: leafPath, value: node.value })
        merged.sort((a, b) => compareNibbles(a.path, b.path))
      }
      return buildSubtree(merged, depth)
    }
    if (node.kind === 'extension') {
      const path = node.path
      // Changes are sorted, so the prefix all of them share with the extension is the
      // shorter of the first's and the last's.
      const shared = Math.min(
        sharedLength(path, changes[lo]!.path, depth),
        sharedLength(path, changes[hi - 1]!.path, depth),
      )
      if (shared === path.length) {
        const child = await this.update(node.child, changes, lo, hi, depth + path.length)
        return this.prefixed(path, child)
      }
      // The changes leave the extension's path at nibble `shared`: split it there.
      const split: BranchNode = { kind: 'branch', children: new Array(16).fill(null), value: null }
      split.children[path[shared]!] =
        shared + 1 === path.length
          ? node.child
          : { kind: 'extension', path: path.slice(shared + 1), child: node.child }
      const updated = await this.updateNode(split, changes, lo, hi, depth + shared)
      return shared === 0 ? updated : this.prefixed(path.slice(0, shared), updated)
    }
    const children = node.children.slice()
    let value = node.value
    let i = lo
    // Sorted: a key that ends at this branch comes before the longer ones.
    if (changes[i]!.path.length === depth) {
      value = changes[i]!.value
      i++
    }
    while (i < hi) {
      const nibble = changes[i]!.path[depth]!
      let j = i + 1
      while (j < hi && changes[j]!.path[depth] === nibble) j++
      children[nibble] = await this.update(children[nibble] ?? null, changes, i, j, depth + 1)
      i = j
    }
    return this.normalizeBranch(children, value)
  }

  /** A branch left with one child and no value folds into that child. */
  private async normalizeBranch(
    children: Array<NodeRef | null>,
    value: Uint8Array | null,
  ): Promise<NodeRef | null> {
    let count = 0
    let only = -1
    for (let k = 0; k < 16; k++) {
      if (children[k] !== null) {
        count++
        only = k
      }
    }
    if (count === 0) return value === null ? null : { kind: 'leaf', path: [], value }
    if (count === 1 && value === null) return this.prefixed([only], children[only]!)
    return { kind: 'branch', children, value }
  }

  /** `ref` placed under `prefix`: leaves and extensions absorb it, a branch gets an extension. */
  private async prefixed(prefix: number[], ref: NodeRef | null): Promise<NodeRef | null> {
    if (ref === null) return null
    const node = await this.resolve(ref)
    if (node.kind === 'leaf')
      return { kind: 'leaf', path: [...prefix, ...node.path], value: node.value }
    if (node.kind === 'extension') {
      return { kind: 'extension', path: [...prefix, ...node.path], child: node.child }
    }
    return { kind: 'extension', path: prefix, child: ref }
  }

  private async resolve(ref: NodeRef): Promise<MemNode> {
    if (ref instanceof Uint8Array) {
      const stored = (await this.db.get(ref)) as Uint8Array | undefined
      if (stored === undefined) {
        throw new ExecutionError('EXEC_PARENT_STATE_MISSING', 'a trie node is missing', {
          details: { node: bytesToHex(ref) },
        })
      }
      return fromRaw(RLP.decode(stored) as RawNode)
    }
    if (Array.isArray(ref)) return fromRaw(ref)
    return ref
  }

  /** The root is always stored by hash, even when its encoding is short. */
  encodeRoot(ref: NodeRef, writes: BatchDBOp<Uint8Array, Uint8Array>[]): Uint8Array {
    if (ref instanceof Uint8Array) return ref
    const raw = Array.isArray(ref) ? ref : this.toRaw(ref, writes)
    return this.store(encodeRlp(raw), writes)
  }

  /** Nodes of 32 bytes or more are stored by hash; shorter ones are inlined in the parent. */
  private encode(ref: NodeRef, writes: BatchDBOp<Uint8Array, Uint8Array>[]): StoredRef {
    if (ref instanceof Uint8Array || Array.isArray(ref)) return ref
    const raw = this.toRaw(ref, writes)
    const encoded = encodeRlp(raw)
    return encoded.length >= 32 ? this.store(encoded, writes) : raw
  }

  private store(encoded: Uint8Array, writes: BatchDBOp<Uint8Array, Uint8Array>[]): Uint8Array {
    const key = this.hash(encoded)
    writes.push({ type: 'put', key, value: encoded })
    return key
  }

  private toRaw(node: MemNode, writes: BatchDBOp<Uint8Array, Uint8Array>[]): RawNode {
    if (node.kind === 'leaf') return [compactPath(node.path, true), node.value]
    if (node.kind === 'extension') {
      return [compactPath(node.path, false), this.encode(node.child, writes)]
    }
    const raw: RawNode = node.children.map((child) =>
      child === null ? EMPTY : this.encode(child, writes),
    )
    raw.push(node.value ?? EMPTY)
    return raw
  }
}

/** A subtree holding exactly `changes` (all puts, sorted, distinct), below `depth` nibbles. */
function buildSubtree(changes: PathChange[], depth: number): MemNode | null {
  return build(changes, 0, changes.length, depth)
}

function build(changes: PathChange[], lo: number, hi: number, depth: number): MemNode | null {
  if (hi === lo) return null
  const first = changes[lo]!
  if (hi - lo === 1)
    return { kind: 'leaf', path: Array.from(first.path.subarray(depth)), value: first.value! }
  const last = changes[hi - 1]!.path
  let shared = 0
  while (
    depth + shared < first.path.length &&
    depth + shared < last.length &&
    first.path[depth + shared] === last[depth + shared]
  ) {
    shared++
  }
  if (shared > 0) {
    return {
      kind: 'extension',
      path: Array.from(first.path.subarray(depth, depth + shared)),
      child: build(changes, lo, hi, depth + shared)!,
    }
  }
  const children: Array<NodeRef | null> = new Array(16).fill(null)
  let value: Uint8Array | null = null
  let i = lo
  if (first.path.length === depth) {
    value = first.value
    i++
  }
  while (i < hi) {
    const nibble = changes[i]!.path[depth]!
    let j = i + 1
    while (j < hi && changes[j]!.path[depth] === nibble) j++
    children[nibble] = build(changes, i, j, depth + 1)
    i = j
  }
  return { kind: 'branch', children, value }
}

/** The puts among `changes[lo, hi)` (deletes of absent keys have nothing to remove). */
function puts(changes: PathChange[], lo: number, hi: number): PathChange[] {
  const out: PathChange[] = []
  for (let i = lo; i < hi; i++) if (changes[i]!.value !== null) out.push(changes[i]!)
  return out
}

function fromRaw(raw: RawNode): MemNode {
  if (raw.length === 17) {
    const children: Array<NodeRef | null> = []
    for (let k = 0; k < 16; k++) {
      const child = raw[k]!
      children.push(child instanceof Uint8Array && child.length === 0 ? null : child)
    }
    const value = raw[16] as Uint8Array
    return { kind: 'branch', children, value: value.length === 0 ? null : value }
  }
  if (raw.length === 2) {
    const { path, leaf } = decodeCompactPath(raw[0] as Uint8Array)
    return leaf
      ? { kind: 'leaf', path, value: raw[1] as Uint8Array }
      : { kind: 'extension', path, child: raw[1]! }
  }
  throw new ExecutionError('EXEC_PARENT_STATE_MISSING', 'a trie node does not decode', {
    details: { items: raw.length },
  })
}

/** Hex-prefix ("compact") encoding of a node's path (Yellow Paper appendix C). */
function compactPath(path: number[], leaf: boolean): Uint8Array {
  const odd = path.length % 2
  const flag = (leaf ? 2 : 0) + odd
  const out = new Uint8Array(1 + (path.length >> 1))
  let p = 0
  if (odd === 1) {
    out[0] = (flag << 4) | path[0]!
    p = 1
  } else {
    out[0] = flag << 4
  }
  for (let b = 1; b < out.length; b++, p += 2) out[b] = (path[p]! << 4) | path[p + 1]!
  return out
}

function decodeCompactPath(bytes: Uint8Array): { path: number[]; leaf: boolean } {
  const flag = bytes[0]! >> 4
  const path: number[] = []
  if (flag & 1) path.push(bytes[0]! & 0x0f)
  for (let b = 1; b < bytes.length; b++) path.push(bytes[b]! >> 4, bytes[b]! & 0x0f)
  return { path, leaf: (flag & 2) !== 0 }
}

function bytesToNibbles(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length * 2)
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i]! >> 4
    out[2 * i + 1] = key[i]! & 0x0f
  }
  return out
}

function concatPath(prefix: Uint8Array, rest: number[]): Uint8Array {
  const out = new Uint8Array(prefix.length + rest.length)
  out.set(prefix)
  out.set(rest, prefix.length)
  return out
}

/** Nibbles `path` shares with `key` from `depth` on. */
function sharedLength(path: number[], key: Uint8Array, depth: number): number {
  let k = 0
  while (k < path.length && depth + k < key.length && path[k] === key[depth + k]) k++
  return k
}

/** Lexicographic, a prefix first. */
function compareNibbles(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
