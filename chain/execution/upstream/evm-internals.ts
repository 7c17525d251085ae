/**
 * Classes of @ethereumjs/evm that its entry point does not export (the interpreter, its
 * stack and memory), loaded from the files beside that entry point: the same module
 * instances the EVM itself uses. A missing file or class comes back as undefined, and the
 * patch that needed it stays out.
 */

/** A class as far as the patches look at it: its prototype's methods by name. */
export interface ClassLike {
  prototype: Record<PropertyKey, unknown>
}

export interface EvmInternals {
  Interpreter: ClassLike | undefined
  Stack: ClassLike | undefined
  Memory: ClassLike | undefined
}

export async function loadEvmInternals(): Promise<EvmInternals> {
  const entry = import.meta.resolve('@ethereumjs/evm')
  const load = async (file: string, name: string): Promise<ClassLike | undefined> => {
    try {
      const module = (await import(new URL(file, entry).href)) as Record<string, unknown>
      const value = module[name]
      return typeof value === 'function' ? (value as unknown as ClassLike) : undefined
    } catch {
      return undefined
    }
  }
  const [Interpreter, Stack, Memory] = await Promise.all([
    load('./interpreter.js', 'Interpreter'),
    load('./stack.js', 'Stack'),
    load('./memory.js', 'Memory'),
  ])
  return { Interpreter, Stack, Memory }
}

/** The names in `methods` that `type`'s prototype lacks (all of them without `type`). */
export function missingMethods(
  type: ClassLike | undefined,
  methods: readonly string[],
): readonly string[] {
  return methods.filter((name) => typeof type?.prototype[name] !== 'function')
}
