/**
 * Busy-polling of the event loop for a short window after socket activity.
 *
 * A process that runs out of work sleeps in the kernel (`epoll_wait`) until the next packet; on a
 * virtual machine waking it up again costs tens of microseconds, paid on every hop of a request and
 * reply. While a window is open, this keeps one `setImmediate` pending, so libuv polls sockets with
 * a zero timeout instead of sleeping and a reply is read the moment it arrives. Every frame sent or
 * received reopens the window, so a node that is talking never sleeps between frames, and an idle
 * node stops polling one window after its last frame. It is what Erlang's schedulers do before
 * they sleep (`+sbwt`), and the price is the same: up to one window of CPU per burst of traffic.
 *
 * One instance per transport; it keeps the process alive for at most one window.
 *
 * @internal
 */
export class BusyPoll {
  private activity = 0
  private seen = 0
  private deadline = 0
  private polling = false
  private stopped = false
  private readonly windowMs: number

  /** `windowMicros` 0 disables polling: `touch` then does nothing. */
  constructor(windowMicros: number) {
    this.windowMs = windowMicros / 1000
  }

  /** Records socket activity: opens (or extends) the polling window. */
  touch(): void {
    this.activity++
    if (this.polling || this.stopped || this.windowMs <= 0) return
    this.polling = true
    this.seen = this.activity
    this.deadline = performance.now() + this.windowMs
    setImmediate(this.poll)
  }

  /** Whether the event loop is being kept polling right now. */
  get active(): boolean {
    return this.polling
  }

  /** Stops polling for good (the transport is shutting down). */
  stop(): void {
    this.stopped = true
  }

  private readonly poll = (): void => {
    const now = performance.now()
    if (this.activity !== this.seen) {
      this.seen = this.activity
      this.deadline = now + this.windowMs
    }
    if (now < this.deadline && !this.stopped) setImmediate(this.poll)
    else this.polling = false
  }
}
