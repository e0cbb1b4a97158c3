/**
 * Accepted connections that have not completed their handshakes yet, oldest first, at most `max`:
 * one more closes the oldest.
 *
 * @internal
 */

/** A pending connection: how to close it (replaced once its TLS socket takes over). */
export interface PendingConnection {
  readonly remote: string
  close: () => void
}

export class PendingConnections {
  /** Insertion order is age order. */
  private readonly entries = new Set<PendingConnection>()

  constructor(
    private readonly max: number,
    /** Told about a connection closed to make room, just before it is closed. */
    private readonly onEvicted: (connection: PendingConnection) => void
  ) {}

  get size(): number {
    return this.entries.size
  }

  /** Adds a connection, closing the oldest ones beyond the limit first. */
  add(remote: string, close: () => void): PendingConnection {
    while (this.entries.size >= this.max) {
      const oldest: PendingConnection = this.entries.values().next().value!
      this.entries.delete(oldest)
      this.onEvicted(oldest)
      oldest.close()
    }
    const connection = { remote, close }
    this.entries.add(connection)
    return connection
  }

  /** The connection completed its handshake, or closed: it no longer counts. */
  delete(connection: PendingConnection): void {
    this.entries.delete(connection)
  }
}
