/// <reference lib="dom" />
/**
 * The page's view layer: a typed `h()` that builds DOM elements, and nothing else. The app has a handful of
 * views that re-render whole sections on change; a view library would add a dependency and a build plugin
 * (JSX) for no gain at this size.
 */
type Child = Node | string | number | false | null | undefined
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value)
    else if (value === true) el.setAttribute(key, '')
    else el.setAttribute(key, String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'object' ? child : String(child))
  }
  return el
}

/** Replaces the content of the element `id` (if it is on the page). */
export function mount(id: string, ...children: Array<Child | Child[]>): void {
  const el = document.getElementById(id)
  if (el === null) return
  el.replaceChildren()
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'object' ? child : String(child))
  }
}

export function short(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex
}
