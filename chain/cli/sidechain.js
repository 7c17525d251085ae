#!/usr/bin/env -S node --max-semi-space-size=64
// The CLI is TypeScript run by Node's type stripping (Node >= 22.18); this shim is the
// package's `bin` entry.
import { main } from './main.ts'

await main()
