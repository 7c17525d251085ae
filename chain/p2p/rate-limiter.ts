/**
 * Token buckets per key (peer): `capacity` tokens, refilled at `refillPerSecond`. A request
 * costs tokens (one per status request, one per block asked for in a range request).
 */
export interface RateLimit {
  capacity: number
  refillPerSecond: number
}

interface Bucket {
  tokens: number
  updatedAt: number
}

export class RateLimiter {
  private readonly limit: RateLimit
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()

  constructor(limit: RateLimit, now: () => number) {
    this.limit = limit
    this.now = now
  }

  /** Takes `cost` tokens if available; false (and nothing taken) otherwise. */
  tryConsume(key: string, cost: number): boolean {
    const bucket = this.refill(key)
    if (cost > bucket.tokens) return false
    bucket.tokens -= cost
    return true
  }

  available(key: string): number {
    return this.refill(key).tokens
  }

  forget(key: string): void {
    this.buckets.delete(key)
  }

  /** Drops buckets that are full again (idle peers), bounding memory. */
  prune(): void {
    for (const key of [...this.buckets.keys()]) {
      if (this.refill(key).tokens >= this.limit.capacity) this.buckets.delete(key)
    }
  }

  private refill(key: string): Bucket {
    const now = this.now()
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.limit.capacity, updatedAt: now }
      this.buckets.set(key, bucket)
      return bucket
    }
    const elapsed = Math.max(0, now - bucket.updatedAt) / 1000
    bucket.tokens = Math.min(
      this.limit.capacity,
      bucket.tokens + elapsed * this.limit.refillPerSecond,
    )
    bucket.updatedAt = now
    return bucket
  }
}
