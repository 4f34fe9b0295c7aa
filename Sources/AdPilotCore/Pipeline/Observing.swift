/// Step 1 of the pipeline (docs/decision-pipeline.md) as pure functions: a campaign's
/// hourly rows become the values the core decides on. The daemon's observer only reads the
/// platform; everything it derives from what it read is here.
package enum Observing {
    /// Trailing window for efficiency (ROAS, CPA) and the no-conversion check.
    package static let trailingHours: Int64 = 72
    /// Hours after which a platform has reported an hour's conversions in full.
    package static let settleHours: Int64 = 2

    /// Spend today (in the account's time zone), the trailing window's totals, the hours
    /// with spend since the last conversion, and how old the data is. `hours` oldest first.
    package static func observation(
        campaign: CampaignID, currency: Currency, budgetMicros: Micros, hours: [HourlyMetrics],
        freshThrough: Instant, now: Instant, utcOffsetSeconds: Int64
    ) -> Observation {
        let dayStartHour = dayStartHour(now, utcOffsetSeconds: utcOffsetSeconds)
        var spendToday = Micros.zero, spend = Micros.zero, value = Micros.zero
        var conversions = 0.0
        var withoutConversion = 0
        var streakOpen = true
        for h in hours.reversed() {
            // The hour in progress counts toward spend today and nothing else: its
            // conversions are not in yet, so it would look like a collapse.
            guard isCompleted(h, at: now) else {
                if h.hour >= dayStartHour { spendToday = spendToday.saturatingAdding(h.spendMicros) }
                continue
            }
            spend = spend.saturatingAdding(h.spendMicros)
            value = value.saturatingAdding(h.conversionValueMicros)
            conversions += h.conversions
            if h.hour >= dayStartHour { spendToday = spendToday.saturatingAdding(h.spendMicros) }
            if streakOpen {
                if h.conversions > 0 { streakOpen = false } else if h.spendMicros > .zero { withoutConversion += 1 }
            }
        }
        let ageSeconds = max(0, (now.microsSinceEpoch - freshThrough.microsSinceEpoch) / Instant.microsPerSecond)
        return Observation(
            campaign: campaign, currency: currency, currentBudgetMicros: budgetMicros, spendTodayMicros: spendToday,
            trailing: TrailingStats(spendMicros: spend, conversions: conversions, conversionValueMicros: value),
            hoursWithoutConversion: withoutConversion, dataAgeSeconds: ageSeconds)
    }

    /// The first hour (since the Unix epoch) of the account's local day that contains `now`:
    /// the hours that count toward spend today.
    package static func dayStartHour(_ now: Instant, utcOffsetSeconds: Int64) -> Int64 {
        let local = LocalTime(now, utcOffsetSeconds: utcOffsetSeconds)
        return (now.microsSinceEpoch - local.secondOfDay * Instant.microsPerSecond)
            / (Instant.secondsPerHour * Instant.microsPerSecond)
    }

    /// Whether `h` has ended at `now` (the platforms report the hour in progress too).
    package static func isCompleted(_ h: HourlyMetrics, at now: Instant) -> Bool {
        (h.hour + 1) * Instant.secondsPerHour * Instant.microsPerSecond <= now.microsSinceEpoch
    }

    /// The completed hours of `hours` at `now`: what the anomaly detector, the hourly
    /// baselines and the cohort comparison see.
    package static func completed(_ hours: [HourlyMetrics], at now: Instant) -> [HourlyMetrics] {
        keeping(hours) { isCompleted($0, at: now) }
    }

    /// `hours.filter(keep)` in an array no larger than `hours`: `filter` grows by doubling,
    /// and the hour cache keeps these arrays, 100,000 of them at scale (a 73-hour window in
    /// room for 128).
    static func keeping(_ hours: [HourlyMetrics], _ keep: (HourlyMetrics) -> Bool) -> [HourlyMetrics] {
        var out: [HourlyMetrics] = []
        out.reserveCapacity(hours.count)
        for h in hours where keep(h) { out.append(h) }
        return out
    }

    /// The hours the canary's cohort comparison counts this tick: those whose conversions
    /// are all in (`settleHours` after the newest) and that were not counted before (after
    /// `lastIngested` less the settling delay), as (count, spend, conversion value). Both
    /// cohorts compare like with like. Nothing before the first ingested hour.
    package static func settled(_ hours: [HourlyMetrics], lastIngested: Int64?)
        -> (hours: Int, spendMicros: Int64, valueMicros: Int64)
    {
        guard let last = lastIngested, let newest = hours.last?.hour else { return (0, 0, 0) }
        let settled = hours.filter { $0.hour > last - settleHours && $0.hour <= newest - settleHours }
        return (
            settled.count, settled.reduce(Micros.zero) { $0.saturatingAdding($1.spendMicros) }.rawValue,
            settled.reduce(Micros.zero) { $0.saturatingAdding($1.conversionValueMicros) }.rawValue
        )
    }

    /// The hours the anomaly detector has not seen, as reported: the detector judges each
    /// against the budget in force itself (`AnomalyDetector`).
    package static func newHours(_ hours: [HourlyMetrics], lastIngested: Int64?) -> [HourlyMetrics] {
        keeping(hours) { lastIngested == nil || $0.hour > lastIngested! }
    }
}
