/** Listening and closing a node:http server as promises: the one copy every small HTTP service uses. */
import type { Server } from 'node:http'

/** Resolves once `server` listens on host:port; rejects with the listen error (port taken, ...). */
export function listenHttp(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Drops open (keep-alive) connections and resolves once the server is closed. */
export function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise<void>((resolve) => server.close(() => resolve()))
}
