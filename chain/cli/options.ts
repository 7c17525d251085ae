import { InvalidArgumentError } from 'commander'
import type { z } from 'zod'

/** Commander parser for a bounded whole number flag. */
export function parseIntegerOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`)
    const n = Number(value)
    if (n < min || n > max)
      throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`)
    return n
  }
}

/**
 * A flag's help text with the default its schema field applies. Flags carry no default of
 * their own: an absent flag stays undefined and the component's schema fills it in, so each
 * default is written once.
 */
export function describeDefault(description: string, field: z.ZodType): string {
  const value: unknown = field.parse(undefined)
  const shown = Array.isArray(value) && value.length === 0 ? 'none' : JSON.stringify(value)
  return `${description} (default: ${shown})`
}
