import { InvalidArgumentError } from 'commander'

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
