package import AdPilotCore
package import AdPilotPlatforms

/// Completed hours already read, per campaign, so the platform is asked for hours once an
/// hour, not once a tick (docs/platforms.md#reads-per-tick):
///
/// - the first tick that needs a campaign (and the first after a restart: the cache lives in
///   memory) reads its whole trailing window;
/// - the first tick of each hour reads the hours that may still change: those that ended
///   within `lateAttributionHours` before it, and the hour in progress (platforms that report a
///   local day at a time return that whole day, and each of its hours is taken again);
/// - every other tick reads only today's totals, one row per campaign, where the platform
///   offers them: the hour in progress is what today's total holds beyond the cached hours.
package struct HourCache {
    /// How long after it ends a completed hour is still read again: late conversions and
    /// reporting delay. The same settling time the canary's cohort comparison waits.
    package static let lateAttributionHours: Int64 = Observing.settleHours
    static let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond

    private struct Entry {
        /// Completed hours, oldest first.
        var hours: [HourlyMetrics]
        /// The hour (since the Unix epoch) in which they were last read.
        var readHour: Int64
        var freshThrough: Instant
    }

    private var entries: [CampaignID: Entry] = [:]

    package init() {}

    /// Whether this tick must read `id`'s hours: never read, or an hour has ended since.
    package func needsHours(_ id: CampaignID, now: Instant) -> Bool {
        guard let e = entries[id] else { return true }
        return e.readHour < now.microsSinceEpoch / Self.hourMicros
    }

    /// Where a read of `id`'s hours starts: the whole window the first time, else the first
    /// hour that ended within `lateAttributionHours` before the current hour began, so each
    /// hour is read a last time once it has settled.
    package func fetchStart(_ id: CampaignID, windowStart: Instant, now: Instant) -> Instant {
        guard entries[id] != nil else { return windowStart }
        let current = now.microsSinceEpoch.floorDiv(Self.hourMicros)
        return max(windowStart, Instant(microsSinceEpoch: (current - Self.lateAttributionHours - 1) * Self.hourMicros))
    }

    /// The window's hours: the cached final ones before `fetchedFrom`, then what was just
    /// read. Keeps the completed ones for the next tick; drops what left the window.
    package mutating func merge(
        _ id: CampaignID, fresh: MetricsWindow, fetchedFrom: Instant, windowStart: Instant, now: Instant
    ) -> MetricsWindow {
        let firstFresh = fetchedFrom.microsSinceEpoch
        let kept = (entries[id]?.hours ?? []).filter {
            $0.hour * Self.hourMicros >= windowStart.microsSinceEpoch && $0.hour * Self.hourMicros < firstFresh
        }
        let merged = kept + fresh.hours.filter { $0.hour * Self.hourMicros >= firstFresh }
        entries[id] = Entry(
            hours: Observing.completed(merged, at: now), readHour: now.microsSinceEpoch / Self.hourMicros,
            freshThrough: fresh.freshThrough)
        return MetricsWindow(campaign: id, hours: merged, freshThrough: fresh.freshThrough)
    }

    /// The window from the cached hours (read earlier this hour) and today's totals so far:
    /// the hour in progress is what `today` holds beyond the cached hours of today, each
    /// metric at least zero (a revision that lowered a cached hour cannot make it negative;
    /// spend today is then the cached hours' sum, the larger). Nil if `id` is not cached.
    package func window(
        _ id: CampaignID, today: HourlyMetrics, windowStart: Instant, now: Instant, utcOffsetSeconds: Int64
    ) -> MetricsWindow? {
        guard let e = entries[id] else { return nil }
        let hours = e.hours.filter { $0.hour * Self.hourMicros >= windowStart.microsSinceEpoch }
        let dayStart = Observing.dayStartHour(now, utcOffsetSeconds: utcOffsetSeconds)
        var rest = today
        for h in hours where h.hour >= dayStart {
            rest.spendMicros = max(.zero, rest.spendMicros.saturatingSubtracting(h.spendMicros))
            rest.impressions = max(0, rest.impressions - h.impressions)
            rest.clicks = max(0, rest.clicks - h.clicks)
            rest.conversions = max(0, rest.conversions - h.conversions)
            rest.conversionValueMicros = max(
                .zero, rest.conversionValueMicros.saturatingSubtracting(h.conversionValueMicros))
        }
        rest.hour = now.microsSinceEpoch / Self.hourMicros
        let spending = rest.spendMicros > .zero
        return MetricsWindow(
            campaign: id, hours: spending ? hours + [rest] : hours, freshThrough: spending ? now : e.freshThrough)
    }

    /// `id`'s completed hour starting at `hour` (hours since the epoch), as last read.
    /// Every completed hour held for `id`, oldest first.
    package func completedHours(_ id: CampaignID) -> [HourlyMetrics] { entries[id]?.hours ?? [] }

    package func completedHour(_ id: CampaignID, hour: Int64) -> HourlyMetrics? {
        entries[id]?.hours.last { $0.hour == hour }
    }

    /// Forgets campaigns the platform no longer lists.
    package mutating func keep(only ids: Set<CampaignID>) {
        entries = entries.filter { ids.contains($0.key) }
    }
}
