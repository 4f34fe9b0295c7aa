/// When the next tick runs. Ticks keep to a fixed grid: a tick that ran late (a stall, a
/// slow platform) is followed by the next slot on the grid still ahead, never by an
/// immediate catch-up tick, and missed slots are skipped, not made up.
package enum TickSchedule {
    /// The first slot `scheduled + k * interval` (k >= 1) strictly after `now`; all in micros.
    package static func next(after scheduled: Int64, interval: Int64, now: Int64) -> Int64 {
        precondition(interval > 0)
        let first = scheduled + interval
        guard first <= now else { return first }
        return first + ((now - first) / interval + 1) * interval
    }
}
