package import AdPilotCore
package import AdPilotPlatforms

/// Completed hours already read, per campaign, so a tick asks the platform only for the
/// hours that may still change: those within `lateAttributionHours` of now (late
/// conversions, the hour in progress). Older completed hours are final and kept. The first
/// read of a campaign (and every read after a restart: the cache lives in memory) asks for
/// the whole window.
package struct HourCache {
    /// How far back reported hours may still change and are read again every tick.
    package static let lateAttributionHours: Int64 = 24
    static let hourMicros = Instant.secondsPerHour * Instant.microsPerSecond

    private var hours: [CampaignID: [HourlyMetrics]] = [:]

    package init() {}

    /// Where this tick's read of `id` starts: the whole window the first time, else the
    /// start of the hour `lateAttributionHours` ago (an hour boundary, so no hour is cut).
    package func fetchStart(_ id: CampaignID, windowStart: Instant, now: Instant) -> Instant {
        guard hours[id] != nil else { return windowStart }
        let late = now.microsSinceEpoch - Self.lateAttributionHours * Self.hourMicros
        return max(windowStart, Instant(microsSinceEpoch: late - late % Self.hourMicros))
    }

    /// The window's hours: the cached final ones before `fetchedFrom`, then what was just
    /// read. Keeps the completed ones for the next tick; drops what left the window.
    package mutating func merge(
        _ id: CampaignID, fresh: MetricsWindow, fetchedFrom: Instant, windowStart: Instant, now: Instant
    ) -> MetricsWindow {
        let firstFresh = fetchedFrom.microsSinceEpoch
        let kept = (hours[id] ?? []).filter {
            $0.hour * Self.hourMicros >= windowStart.microsSinceEpoch && $0.hour * Self.hourMicros < firstFresh
        }
        let merged = kept + fresh.hours.filter { $0.hour * Self.hourMicros >= firstFresh }
        hours[id] = Observing.completed(merged, at: now)
        return MetricsWindow(campaign: id, hours: merged, freshThrough: fresh.freshThrough)
    }

    /// Forgets campaigns the platform no longer lists.
    package mutating func keep(only ids: Set<CampaignID>) {
        hours = hours.filter { ids.contains($0.key) }
    }
}
