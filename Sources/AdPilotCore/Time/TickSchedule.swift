/// When ticks run: on a fixed grid of the controller's clock, every `tick_seconds` from the
/// Unix epoch (10:00, 10:10, ... for 600 s). A tick decides as of its slot, so the time between two
/// decisions is an exact multiple of `tick_seconds` however late each tick woke: a
/// 3,600 s cooldown is exactly six 600 s ticks. A tick that ran late (a stall, a slow
/// platform) is followed by the next slot still ahead, never by a catch-up tick; missed
/// slots are skipped, not made up.
package enum TickSchedule {
    /// The slot `now` falls in: the latest multiple of `tickSeconds` at or before it.
    package static func slot(_ now: Instant, tickSeconds: Int64) -> Instant {
        precondition(tickSeconds > 0)
        let step = tickSeconds * Instant.microsPerSecond
        return Instant(microsSinceEpoch: now.microsSinceEpoch - now.microsSinceEpoch.floorMod(step))
    }

    /// The first slot strictly after `now`.
    package static func next(after now: Instant, tickSeconds: Int64) -> Instant {
        slot(now, tickSeconds: tickSeconds).adding(seconds: tickSeconds)
    }
}
