import AdPilotCore
import AdPilotPlatforms
import AdPilotService
import Testing

/// Issue 15, item 11: completed hours are read once, read again only while they may still
/// settle, and only on the first tick of an hour; other ticks read today's totals.
@Suite struct HourCacheTests {
    static let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond

    func hours(_ range: Range<Int64>, conversions: Double) -> [HourlyMetrics] {
        range.map {
            HourlyMetrics(hour: $0, spendMicros: Micros(1_000_000), impressions: 10, clicks: 1,
                          conversions: conversions, conversionValueMicros: Micros(3_000_000))
        }
    }

    func at(_ hour: Int64, minute: Int64) -> Instant {
        Instant(microsSinceEpoch: hour * Self.hourMicros + minute * 60 * Instant.microsPerSecond)
    }

    @Test func finalHoursAreKeptAndOnlyTheSettlingHoursAreReadAgain() {
        let id = CampaignID("c1")
        var cache = HourCache()
        let h0: Int64 = 500_000  // an hour index
        let now = at(h0 + 72, minute: 10)
        let windowStart = now.adding(seconds: -72 * 3_600)
        #expect(cache.needsHours(id, now: now))
        #expect(cache.fetchStart(id, windowStart: windowStart, now: now) == windowStart, "first read: all 72 h")
        // The first read: hours h0+1 ... h0+72 (the last in progress).
        let first = cache.merge(
            id, fresh: MetricsWindow(campaign: id, hours: hours(h0 + 1..<h0 + 73, conversions: 1), freshThrough: now),
            fetchedFrom: windowStart, windowStart: windowStart, now: now)
        #expect(first.hours.count == 72)
        #expect(!cache.needsHours(id, now: at(h0 + 72, minute: 59)), "read this hour already")

        // The next hour: the hours that ended within 2 h before it began, and the one in progress.
        let later = at(h0 + 73, minute: 5)
        #expect(cache.needsHours(id, now: later))
        let laterStart = later.adding(seconds: -72 * 3_600)
        let from = cache.fetchStart(id, windowStart: laterStart, now: later)
        #expect(from == Instant(microsSinceEpoch: (h0 + 70) * Self.hourMicros), "\(from)")
        // The platform revises conversions of settling hours; the final hours stay as read.
        let fresh = hours(h0 + 70..<h0 + 74, conversions: 2)
        let merged = cache.merge(
            id, fresh: MetricsWindow(campaign: id, hours: fresh, freshThrough: later), fetchedFrom: from,
            windowStart: laterStart, now: later)
        #expect(merged.hours.map(\.hour) == Array(h0 + 2..<h0 + 74), "h0+1 left the window; nothing doubled")
        #expect(merged.hours.first { $0.hour == h0 + 69 }?.conversions == 1, "a final hour is not read again")
        #expect(merged.hours.first { $0.hour == h0 + 70 }?.conversions == 2, "a settling hour takes the revision")
        cache.keep(only: [])
        #expect(cache.fetchStart(id, windowStart: laterStart, now: later) == laterStart, "a forgotten campaign")
        #expect(cache.needsHours(id, now: later))
    }

    /// Between an hour's first tick and the next hour, today's total (one row) gives the hour
    /// in progress: what it holds beyond the cached hours of today, never below zero.
    @Test func todaysTotalGivesTheHourInProgress() {
        let id = CampaignID("c1")
        var cache = HourCache()
        let day: Int64 = 500_016  // an hour index at 00:00 UTC (500,016 = 24 x 20,834)
        let now = at(day + 5, minute: 20)  // 05:20 UTC
        let windowStart = now.adding(seconds: -72 * 3_600)
        #expect(cache.window(id, today: hours(day..<day + 1, conversions: 0)[0], windowStart: windowStart, now: now,
                             utcOffsetSeconds: 0) == nil, "nothing cached: the hours must be read")
        _ = cache.merge(
            id, fresh: MetricsWindow(campaign: id, hours: hours(day - 10..<day + 5, conversions: 1), freshThrough: now),
            fetchedFrom: windowStart, windowStart: windowStart, now: now)
        let later = at(day + 5, minute: 45)
        // Five completed hours today at 1.00 each; today's total so far 5.75.
        var today = HourlyMetrics(hour: day, spendMicros: Micros(5_750_000), impressions: 58, clicks: 6,
                                  conversions: 5.5, conversionValueMicros: Micros(16_000_000))
        let w = cache.window(id, today: today, windowStart: windowStart, now: later, utcOffsetSeconds: 0)!
        #expect(w.hours.count == 16 && w.hours.last!.hour == day + 5)
        #expect(w.hours.last!.spendMicros == Micros(750_000) && w.hours.last!.impressions == 8)
        #expect(w.hours.last!.conversionValueMicros == Micros(1_000_000) && w.hours.last!.conversions == 0.5)
        #expect(w.freshThrough == later)
        let observed = Observing.observation(
            campaign: id, currency: .usd, budgetMicros: Micros(24_000_000), hours: w.hours,
            freshThrough: w.freshThrough, now: later, utcOffsetSeconds: 0)
        #expect(observed.spendTodayMicros == Micros(5_750_000), "spend today is today's total")
        // A revision that lowered the cached hours cannot make the hour in progress negative.
        today.spendMicros = Micros(4_000_000)
        let low = cache.window(id, today: today, windowStart: windowStart, now: later, utcOffsetSeconds: 0)!
        #expect(low.hours.count == 15, "no hour in progress without spend")
        #expect(low.freshThrough == now, "fresh as of the hours read")
        // Another time zone: the local day (UTC-3) began at 03:00 UTC, so two cached hours count.
        today.spendMicros = Micros(2_250_000)
        let west = cache.window(id, today: today, windowStart: windowStart, now: later, utcOffsetSeconds: -3 * 3_600)!
        #expect(west.hours.last!.spendMicros == Micros(250_000))
    }
}
