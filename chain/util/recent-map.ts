/**
 * Bounded caches on a plain Map, which iterates in insertion order: a write makes its key
 * the newest, and once the map holds more than `maxEntries` the oldest entries go.
 */
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > maxEntries) {
    const oldest = map.keys().next()
    if (oldest.done === true) return
    map.delete(oldest.value)
  }
}
