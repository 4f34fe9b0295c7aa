/// How a campaign's daily budget turns into spend over the local day: the expected spend in
/// each local hour per unit of daily budget (24 rates; on the simulator, as on a platform
/// that spreads a day's budget over its hours, they add up to about 1). The pacer's
/// setpoint follows its cumulative share, and its feed-forward asks what budget makes the
/// rest of the day deliver the rest of the target (docs/decision-pipeline.md, the pacer).
package struct DeliveryProfile: Hashable, Sendable, Codable {
    package let rates: [Double]

    /// Nil unless there are 24 finite, non-negative rates with a positive sum.
    package init?(rates: [Double]) {
        guard rates.count == 24, rates.allSatisfy({ $0.isFinite && $0 >= 0 }), rates.reduce(0, +) > 0 else {
            return nil
        }
        self.rates = rates
    }

    /// The configured profile's shape, spreading exactly one budget over the day.
    package init(_ profile: HourlyProfile) {
        let total = profile.weights.reduce(0, +)
        rates = profile.weights.map { $0 / total }
    }

    package init(from decoder: any Decoder) throws {
        let r = try decoder.singleValueContainer().decode([Double].self)
        guard let p = DeliveryProfile(rates: r) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a delivery profile needs 24 finite, non-negative rates with a positive sum"))
        }
        self = p
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rates)
    }

    /// Share of the day's expected delivery done by `secondOfDay` (0 ... 1).
    package func fractionElapsed(atSecondOfDay s: Int64) -> Double {
        let (hour, within) = DeliveryProfile.split(s)
        let total = rates.reduce(0, +)
        return min(1, (rates[..<hour].reduce(0, +) + rates[hour] * within) / total)
    }

    /// Expected spend from `secondOfDay` to midnight per unit of daily budget.
    package func remaining(fromSecondOfDay s: Int64) -> Double {
        let (hour, within) = DeliveryProfile.split(s)
        return rates[hour] * (1 - within) + rates[(hour + 1)...].reduce(0, +)
    }

    static func split(_ s: Int64) -> (hour: Int, within: Double) {
        let clamped = min(max(s, 0), Instant.secondsPerDay - 1)
        return (
            Int(clamped / Instant.secondsPerHour),
            Double(clamped % Instant.secondsPerHour) / Double(Instant.secondsPerHour)
        )
    }
}

/// What one campaign's own history says about its delivery by local hour: for each hour,
/// the median over up to seven previous days of spend / budget in force (hours after that
/// day's budget was spent left out), and how many days that median rests on.
package struct LearnedDelivery: Hashable, Sendable, Codable {
    package var rates: [Double] = Array(repeating: 0, count: 24)
    package var days: [Int] = Array(repeating: 0, count: 24)
    /// The detector's last hour and the UTC offset these rates were computed for, so that
    /// `refresh` can redo only the hours that changed. Not persisted, and not part of the
    /// value: restored rates are recomputed whole on their first refresh.
    private var computedFor: (lastHour: Int64, utcOffsetSeconds: Int64)? = nil

    enum CodingKeys: String, CodingKey { case rates, days }

    package init() {}

    package static func == (a: LearnedDelivery, b: LearnedDelivery) -> Bool { a.rates == b.rates && a.days == b.days }

    package func hash(into h: inout Hasher) {
        h.combine(rates)
        h.combine(days)
    }

    /// Restored state is checked: the wrong number of hours is an error, never an index trap.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rates = try c.decode([Double].self, forKey: .rates)
        days = try c.decode([Int].self, forKey: .days)
        guard rates.count == 24, days.count == 24, rates.allSatisfy({ $0.isFinite && $0 >= 0 }),
            days.allSatisfy({ $0 >= 0 })
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a learned delivery needs 24 hours"))
        }
    }

    /// From the anomaly detector's history (which keeps spend and budget per hour), in one
    /// pass over its last eight days, keeping each local day's running spend.
    package init(_ state: AnomalyState, utcOffsetSeconds: Int64) {
        var samples = [[Double]](repeating: [], count: 24)
        LearnedDelivery.scan(state, utcOffsetSeconds: utcOffsetSeconds) { hour, rate in samples[hour].append(rate) }
        for hour in 0..<24 where !samples[hour].isEmpty {
            rates[hour] = RobustStats.median(&samples[hour])
            days[hour] = samples[hour].count
        }
    }

    /// Brings the rates up to date with `state` after the detector was fed: equal to
    /// `init(state, utcOffsetSeconds:)`, in a fraction of its time. When the detector moved
    /// on by up to a day since the last refresh (with the same offset), only the local hours
    /// of the hours it moved through changed: the seven-day window gained those hours and
    /// lost the ones exactly a week before them, and an hour's sample depends only on its
    /// own day's earlier hours. Anything else (a restore, a longer gap, a new offset)
    /// recomputes every hour.
    package mutating func refresh(from state: AnomalyState, utcOffsetSeconds: Int64) {
        guard let last = state.lastHour else {
            self = LearnedDelivery()
            return
        }
        if let previous = computedFor, previous.utcOffsetSeconds == utcOffsetSeconds, previous.lastHour <= last,
            last - previous.lastHour <= 24
        {
            var h = previous.lastHour + 1
            while h <= last {
                let localHour = LearnedDelivery.localHour(h, utcOffsetSeconds: utcOffsetSeconds)
                (rates[localHour], days[localHour]) = LearnedDelivery.hour(
                    localHour, of: state, utcOffsetSeconds: utcOffsetSeconds)
                h += 1
            }
        } else {
            self = LearnedDelivery(state, utcOffsetSeconds: utcOffsetSeconds)
        }
        computedFor = (last, utcOffsetSeconds)
    }

    /// One local hour of `init(_:utcOffsetSeconds:)`, without the other 23: the anomaly
    /// detector asks for the hour it judges, once per campaign and completed hour, and
    /// `refresh` for the hours that changed. It reads only that hour of the last seven days
    /// and the hours before it on the same local day (what `scan` adds up, in its order).
    package static func hour(
        _ localHour: Int, of state: AnomalyState, utcOffsetSeconds: Int64
    ) -> (rate: Double, days: Int) {
        guard let last = state.lastHour else { return (0, 0) }
        var samples: [Double] = []
        samples.reserveCapacity(7)
        let back = (LearnedDelivery.localHour(last, utcOffsetSeconds: utcOffsetSeconds) - localHour + 24) % 24
        var h = last - Int64(back)
        while h > last - 24 * 7 {
            let s = state.slot(hour: h, metric: 0), b = state.slot(hour: h, metric: 4)
            if !s.isNaN && !b.isNaN && b > 0 {
                var spentToday = 0.0
                for earlier in (h - Int64(localHour))..<h {
                    let v = state.slot(hour: earlier, metric: 0)
                    if !v.isNaN { spentToday += Double(v) }
                }
                if spentToday < Double(b) { samples.append(Double(s) / Double(b)) }
            }
            h -= 24
        }
        return samples.isEmpty ? (0, 0) : (RobustStats.median(&samples), samples.count)
    }

    /// Each usable hour of the last seven days, oldest first: its local hour and spend over
    /// the budget in force. Hours after that day's budget was spent are left out.
    private static func scan(
        _ state: AnomalyState, utcOffsetSeconds: Int64, _ sample: (Int, Double) -> Void
    ) {
        guard let last = state.lastHour else { return }
        var spentToday = 0.0
        for h in (last - Int64(AnomalyState.historyHours) + 1)...last {
            let localHour = LearnedDelivery.localHour(h, utcOffsetSeconds: utcOffsetSeconds)
            if localHour == 0 { spentToday = 0 }
            let s = state.slot(hour: h, metric: 0), b = state.slot(hour: h, metric: 4)
            // An hour after that day's budget was spent says nothing about delivery.
            if !s.isNaN && !b.isNaN && b > 0 && spentToday < Double(b) && h > last - 24 * 7 {
                sample(localHour, Double(s) / Double(b))
            }
            if !s.isNaN { spentToday += Double(s) }
        }
    }

    /// The local hour of day (0-23) of UTC hour `h` (hours since the epoch).
    package static func localHour(_ h: Int64, utcOffsetSeconds: Int64) -> Int {
        Int(((h * 3_600 + utcOffsetSeconds).floorMod(86_400)) / 3_600)
    }

    /// The profile the pacer uses: each hour's own median shrunk toward `prior` as if the
    /// prior were `priorDays` days of evidence: `(n * own + k * prior) / (n + k)`.
    package func shrunk(toward prior: DeliveryProfile, priorDays k: Double) -> DeliveryProfile {
        let rates = (0..<24).map { h in
            (Double(days[h]) * self.rates[h] + k * prior.rates[h]) / (Double(days[h]) + k)
        }
        return DeliveryProfile(rates: rates) ?? prior
    }

    /// The account's profile: every campaign's evidence pooled per hour, shrunk toward the
    /// configured `prior` the same way.
    package static func pooled(_ campaigns: [LearnedDelivery], prior: DeliveryProfile, priorDays k: Double)
        -> DeliveryProfile
    {
        var sums = [Double](repeating: 0, count: 24), days = [Double](repeating: 0, count: 24)
        for c in campaigns {
            for h in 0..<24 where c.days[h] > 0 {
                sums[h] += Double(c.days[h]) * c.rates[h]
                days[h] += Double(c.days[h])
            }
        }
        let rates = (0..<24).map { h in (sums[h] + k * prior.rates[h]) / (days[h] + k) }
        return DeliveryProfile(rates: rates) ?? prior
    }
}
