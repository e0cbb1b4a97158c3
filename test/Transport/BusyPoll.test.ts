import { afterEach, describe, expect, it, vi } from "vitest"
import { BusyPoll } from "../../src/Transport/internal/busyPoll.ts"

/** Resolves after `turns` turns of the event loop. */
const loopTurns = async (turns: number) => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

describe("BusyPoll", () => {
  const polls: Array<BusyPoll> = []
  const make = (micros: number) => {
    const poll = new BusyPoll(micros)
    polls.push(poll)
    return poll
  }
  afterEach(() => {
    for (const poll of polls.splice(0)) poll.stop()
  })

  it("does nothing with a window of 0", () => {
    const poll = make(0)
    poll.touch()
    expect(poll.active).toBe(false)
  })

  it("polls after activity, then stops once the window has passed without any", async () => {
    const poll = make(2_000)
    poll.touch()
    expect(poll.active).toBe(true)
    const touchedAt = performance.now()
    await vi.waitFor(() => expect(poll.active).toBe(false), { timeout: 2_000, interval: 1 })
    expect(performance.now() - touchedAt).toBeGreaterThanOrEqual(2)
  })

  it("keeps polling while activity goes on, one window at a time", async () => {
    const poll = make(5_000)
    poll.touch()
    const started = performance.now()
    // Activity on every loop turn for four windows: polling never lapses.
    while (performance.now() - started < 20) {
      poll.touch()
      await loopTurns(1)
      expect(poll.active).toBe(true)
    }
    await vi.waitFor(() => expect(poll.active).toBe(false), { timeout: 2_000, interval: 1 })
  })

  it("stops for good when stopped", async () => {
    const poll = make(1_000_000)
    poll.touch()
    poll.stop()
    await vi.waitFor(() => expect(poll.active).toBe(false), { timeout: 2_000, interval: 1 })
    poll.touch()
    expect(poll.active).toBe(false)
  })
})
