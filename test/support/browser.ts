/**
 * Headless Debian Chromium driven by playwright-core (a browser download does not work on
 * these machines; `.ci/run` installs the `chromium` package). Screenshots go to
 * `.test-artifacts/<suite>/` so a failing run can be looked at.
 */
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { REPO_ROOT } from './devnet.ts'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Saves numbered screenshots of one test suite under .test-artifacts/<suite>/. */
export function screenshots(suite: string): (page: Page, name: string) => Promise<void> {
  const dir = path.join(REPO_ROOT, '.test-artifacts', suite)
  mkdirSync(dir, { recursive: true })
  let n = 0
  return async (page, name) => {
    n++
    await page.screenshot({
      path: path.join(dir, `${String(n).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    })
  }
}
