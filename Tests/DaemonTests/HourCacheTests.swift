import AdPilotCore
import AdPilotPlatforms
import AdPilotService
import Testing

/// Issue 15, item 11: completed hours are read once and re-read only within the
/// late-attribution window.
@Suite struct HourCacheTests {
    static let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond

    func hours(_ range: Range<Int64>, conversions: Double) -> [HourlyMetrics] {
        range.map {
            HourlyMetrics(hour: $0, spendMicros: Micros(1_000_000), impressions: 10, clicks: 1,
                          conversions: conversions, conversionValueMicros: Micros(3_000_000))
        }
    }

    @Test func finalHoursAreKeptAndOnlyTheLateWindowIsReadAgain() {
        let id = CampaignID("c1")
        var cache = HourCache()
        let h0: Int64 = 500_000  // an hour index
        let now = Instant(microsSinceEpoch: (h0 + 72) * Self.hourMicros + 600 * Instant.microsPerSecond)  // :10
        let windowStart = now.adding(seconds: -72 * 3_600)
        #expect(cache.fetchStart(id, windowStart: windowStart, now: now) == windowStart, "first read: all 72 h")
        // The first read: hours h0+1 ... h0+72 (the last in progress).
        let first = cache.merge(
            id, fresh: MetricsWindow(campaign: id, hours: hours(h0 + 1..<h0 + 73, conversions: 1), freshThrough: now),
            fetchedFrom: windowStart, windowStart: windowStart, now: now)
        #expect(first.hours.count == 72)

        // An hour later: only the last 24 hours are asked for, from an hour boundary.
        let later = now.adding(seconds: 3_600)
        let laterStart = later.adding(seconds: -72 * 3_600)
        let from = cache.fetchStart(id, windowStart: laterStart, now: later)
        #expect(from == Instant(microsSinceEpoch: (h0 + 73 - 24) * Self.hourMicros), "\(from)")
        // The platform revises conversions inside the late window; the final hours stay as read.
        let fresh = hours(h0 + 49..<h0 + 74, conversions: 2)
        let merged = cache.merge(
            id, fresh: MetricsWindow(campaign: id, hours: fresh, freshThrough: later), fetchedFrom: from,
            windowStart: laterStart, now: later)
        #expect(merged.hours.map(\.hour) == Array(h0 + 2..<h0 + 74), "h0+1 left the window; nothing doubled")
        #expect(merged.hours.first { $0.hour == h0 + 48 }?.conversions == 1, "a final hour is not read again")
        #expect(merged.hours.first { $0.hour == h0 + 49 }?.conversions == 2, "a late-window hour takes the revision")
        cache.keep(only: [])
        #expect(cache.fetchStart(id, windowStart: laterStart, now: later) == laterStart, "a forgotten campaign")
    }
}
