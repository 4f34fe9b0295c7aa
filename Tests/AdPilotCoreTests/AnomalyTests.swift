import Foundation
import Testing
@testable import AdPilotCore

@Suite struct AnomalyTests {
    let config = AnomalyConfig.standard
    let baseHour: Int64 = 500_000  // a multiple of 24: midnight UTC
    let budget = usd("240")

    /// A plausible hour at `budget`: delivery follows a daily rhythm, impressions grow with
    /// spend on a concave curve (so cutting a budget raises clicks per unit of it), and CTR
    /// and conversion rate carry seeded noise.
    func normal(_ hour: Int64, _ rng: inout SplitMix64, budget: Micros? = nil) -> HourlyMetrics {
        let b = (budget ?? self.budget).statistic
        let shape = 1 + 0.5 * sin(Double(hour % 24) / 24 * 2 * .pi)
        let spend = b / 24 * shape * (0.9 + 0.2 * rng.unit())
        let impressions = Int64(2_000 * (1 - exp(-spend / 20_000_000)) / (1 - exp(-1.0)))
        let clicks = Int64((Double(impressions) * 0.02 * (0.85 + 0.3 * rng.unit())).rounded(.down))
        return HourlyMetrics(
            hour: hour, spendMicros: Micros(Int64(spend) / 10_000 * 10_000), impressions: impressions,
            clicks: clicks, conversions: Double(clicks) * 0.05 * (0.6 + 0.8 * rng.unit()),
            conversionValueMicros: usd("40"))
    }

    func ingest(_ m: HourlyMetrics, _ s: AnomalyState, budget: Micros? = nil) -> AnomalyState {
        AnomalyDetector.ingest(m, budget: budget ?? self.budget, config: config, state: s)
    }

    func warmedUp(days: Int = 7) -> (AnomalyState, Int64, SplitMix64) {
        var rng = SplitMix64(seed: 7)
        var s = AnomalyState()
        var h = baseHour
        for _ in 0..<(days * 24) {
            s = ingest(normal(h, &rng), s)
            h += 1
        }
        return (s, h, rng)
    }

    @Test func normalTrafficStaysQuiet() {
        let (s, _, _) = warmedUp()
        #expect(s.assessment.level == .info && s.assessment.findings.isEmpty, "\(s.assessment)")
    }

    /// The controller's own moves are not anomalies: a budget cut to a third (clicks per
    /// unit of budget double on the concave curve) and raised again, for two days.
    @Test func budgetMovesAreNotAnomalies() {
        var (s, h, rng) = warmedUp()
        var worst = Severity.info
        for i in 0..<48 {
            let b = i < 24 ? budget.scaled(by: 1.0 / 3) : budget.scaled(by: 1.5)
            s = ingest(normal(h, &rng, budget: b), s, budget: b)
            worst = max(worst, s.assessment.latest)
            h += 1
        }
        #expect(worst == .info, "\(s.assessment)")
    }

    @Test(arguments: [
        "clicks_exceed_impressions", "conversions_exceed_clicks", "negative_spend",
        "non_finite_conversions", "spend_without_impressions",
    ])
    func consistencyChecksAreCritical(check: String) {
        var (s, h, rng) = warmedUp(days: 1)
        var m = normal(h, &rng)
        switch check {
        case "clicks_exceed_impressions": m.clicks = m.impressions + 1
        case "conversions_exceed_clicks": m.conversions = Double(m.clicks + 1)
        case "negative_spend": m.spendMicros = Micros(-1)
        case "non_finite_conversions": m.conversions = .nan
        default: m.impressions = 0; m.clicks = 0; m.conversions = 0
        }
        s = ingest(m, s)
        #expect(s.assessment.latest == .critical)
        #expect(s.assessment.findings.contains { $0.check == "consistency.\(check)" }, "\(s.assessment.findings)")
    }

    @Test func spendSpikeAtTheBudgetInForceIsCritical() {
        var (s, h, rng) = warmedUp()
        var m = normal(h, &rng)
        m.spendMicros = m.spendMicros.scaled(by: 5)
        s = ingest(m, s)
        let f = s.assessment.findings.first { $0.check == "delivery.spend" }
        #expect(f?.severity == .critical, "\(s.assessment.findings)")
        #expect(s.assessment.level == .info, "one hour does not raise the level (hysteresis)")
    }

    @Test func clickSpikeIsCritical() {
        var (s, h, rng) = warmedUp()
        var m = normal(h, &rng)
        m.clicks *= 8
        s = ingest(m, s)
        #expect(s.assessment.findings.contains { $0.check == "rate.ctr" && $0.severity == .critical },
                "\(s.assessment.findings)")
    }

    /// Conversions stop while clicks go on: critical once the conversions that should have
    /// come add up to `outage_expected_conversions`, not before; one conversion resets it.
    @Test func trackingOutageIsCriticalOnceTheEvidenceIsIn() {
        var (s, h, rng) = warmedUp()
        var hours = 0
        var expectedSum = 0.0
        while s.assessment.latest < .critical && hours < 72 {
            var m = normal(h, &rng)
            expectedSum += Double(m.clicks) * 0.05
            m.conversions = 0
            s = ingest(m, s)
            hours += 1
            h += 1
        }
        #expect(s.assessment.findings.contains { $0.check == "rate.conversion_outage" }, "\(s.assessment)")
        #expect(hours > 1 && expectedSum >= config.outageExpectedConversions * 0.8, "\(hours) h, \(expectedSum)")
        s = ingest(normal(h, &rng), s)
        #expect(s.outageExpected == 0)
    }

    /// Delivery stopping spends less, never more: it warns at most. After the day's budget
    /// is spent, an hour without delivery is not even that.
    @Test func dropsInDeliveryWarnAtMostAndNotAtAllOnceTheBudgetIsSpent() {
        let (s, h, _) = warmedUp()
        let stopped = ingest(
            HourlyMetrics(
                hour: h + 12, spendMicros: .zero, impressions: 0, clicks: 0, conversions: 0,
                conversionValueMicros: .zero), s)
        #expect(stopped.assessment.latest <= .warn, "\(stopped.assessment.findings)")
        // The same day with the whole budget spent by noon: the afternoon delivers nothing.
        var spent = s
        var rng = SplitMix64(seed: 3)
        for i in 0..<12 {
            var m = normal(h + Int64(i), &rng)
            m.spendMicros = budget.scaled(by: 0.1)
            spent = ingest(m, spent)
        }
        let capped = ingest(
            HourlyMetrics(
                hour: h + 12, spendMicros: .zero, impressions: 0, clicks: 0, conversions: 0,
                conversionValueMicros: .zero), spent)
        #expect(!capped.assessment.findings.contains { $0.check == "delivery.spend" }, "\(capped.assessment)")
    }

    /// A baseline with no delivery at an hour (every day capped before it) gives no z at
    /// all, never an infinite one.
    @Test func anHourWithoutUsualDeliveryIsNotJudged() {
        var rng = SplitMix64(seed: 9)
        var s = AnomalyState()
        var h = baseHour
        for _ in 0..<(5 * 24) {
            var m = normal(h, &rng)
            if h % 24 == 22 { m.spendMicros = .zero; m.impressions = 0; m.clicks = 0; m.conversions = 0 }
            s = ingest(m, s)
            h += 1
        }
        while h % 24 != 22 { s = ingest(normal(h, &rng), s); h += 1 }
        s = ingest(normal(h, &rng), s)
        #expect(!s.assessment.findings.contains { $0.check == "delivery.spend" }, "\(s.assessment.findings)")
    }

    @Test func hysteresisRaisesAfterForHoursAndClearsAfterQuietHours() {
        var (s, h, rng) = warmedUp()
        func feed(spike: Bool) {
            var m = normal(h, &rng)
            if spike { m.spendMicros = m.spendMicros.scaled(by: 20) }
            s = ingest(m, s)
            h += 1
        }
        feed(spike: true)
        #expect(s.assessment.level == .info)
        feed(spike: true)
        #expect(s.assessment.level == .critical)
        feed(spike: false)
        feed(spike: false)
        #expect(s.assessment.level == .critical, "two quiet hours are not enough to clear")
        feed(spike: false)
        #expect(s.assessment.level == .info)
    }

    @Test func alternatingNoiseDoesNotFlap() {
        var (s, h, rng) = warmedUp()
        var levels: Set<Severity> = []
        for i in 0..<48 {
            var m = normal(h, &rng)
            if i % 2 == 0 { m.spendMicros = m.spendMicros.scaled(by: 20) }
            s = ingest(m, s)
            levels.insert(s.assessment.level)
            h += 1
        }
        #expect(levels == [.info], "isolated spikes never reach the for: window")
    }

    @Test func anOperatorReleaseClearsTheLevel() {
        var (s, h, rng) = warmedUp()
        for _ in 0..<2 {
            var m = normal(h, &rng)
            m.spendMicros = m.spendMicros.scaled(by: 20)
            s = ingest(m, s)
            h += 1
        }
        #expect(s.assessment.level == .critical)
        s.release()
        #expect(s.assessment.level == .info && s.outageExpected == 0)
        s = ingest(normal(h, &rng), s)
        #expect(s.assessment.level == .info)
    }

    @Test func lateAndRepeatedHoursAreIgnored() {
        var (s, h, rng) = warmedUp(days: 1)
        let before = s
        var m = normal(h - 3, &rng)
        m.clicks = m.impressions * 2
        s = ingest(m, s)
        #expect(s == before)
    }

    @Test func impossibleDataStaysOutOfTheBaseline() {
        var (s, h, rng) = warmedUp(days: 1)
        var m = normal(h, &rng)
        m.clicks = m.impressions + 5
        s = ingest(m, s)
        #expect(s.slot(hour: h, metric: 2).isNaN)
    }

    @Test func gapsBlankSkippedHours() {
        var (s, h, rng) = warmedUp(days: 2)
        s = ingest(normal(h + 30, &rng), s)
        #expect(s.slot(hour: h + 5, metric: 0).isNaN)
        #expect(!s.slot(hour: h + 30, metric: 0).isNaN)
        #expect(!s.slot(hour: h - 1, metric: 0).isNaN)
    }

    @Test func accountHaltsOnlyOnAShareOfCampaigns() {
        #expect(!config.haltsAccount(quarantined: 1, of: 50))
        #expect(!config.haltsAccount(quarantined: 2, of: 2), "fewer than account_halt_campaigns_min")
        #expect(!config.haltsAccount(quarantined: 9, of: 50), "9 of 50 is under 20%")
        #expect(config.haltsAccount(quarantined: 10, of: 50))
        #expect(config.haltsAccount(quarantined: 3, of: 10))
    }
}

@Suite struct BreakerTests {
    let config = BreakerConfig(
        window: .count(10), minimumCalls: 4, failureRateThreshold: 0.5,
        waitInOpenSeconds: 60, permittedCallsInHalfOpen: 2)

    @Test func opensAtTheThresholdOnlyAfterMinimumCalls() {
        var b = CircuitBreaker()
        b.record(failure: true, config, at: t0)
        b.record(failure: true, config, at: t0)
        b.record(failure: true, config, at: t0)
        #expect(b.state == .closed, "3 calls < minimum 4")
        b.record(failure: false, config, at: t0)
        #expect(b.state == .open)
        let early = b.permission(config, at: t0.adding(seconds: 59))
        #expect(early == .rejected(.breakerOpen))
    }

    @Test func halfOpenTrialsDecide() {
        var b = CircuitBreaker()
        for _ in 0..<4 { b.record(failure: true, config, at: t0) }
        let later = t0.adding(seconds: 60)
        let permission = b.permission(config, at: later)
        #expect(permission == .permitted && b.state == .halfOpen)
        let first = b.acquire(config, at: later), second = b.acquire(config, at: later),
            third = b.acquire(config, at: later)
        #expect(first && second && !third, "only 2 trial calls")
        b.record(failure: false, config, at: later)
        b.record(failure: false, config, at: later)
        #expect(b.state == .closed)

        for _ in 0..<4 { b.record(failure: true, config, at: later) }
        let again = later.adding(seconds: 60)
        let a1 = b.acquire(config, at: again), a2 = b.acquire(config, at: again)
        #expect(a1 && a2)
        b.record(failure: true, config, at: again)
        b.record(failure: false, config, at: again)
        #expect(b.state == .open && b.openedAt == again)
    }

    @Test func countWindowSlides() {
        var b = CircuitBreaker()
        for _ in 0..<10 { b.record(failure: false, config, at: t0) }
        for _ in 0..<4 { b.record(failure: true, config, at: t0) }
        #expect(b.state == .closed && b.windowCounts(config, at: t0) == (10, 4))
        b.record(failure: true, config, at: t0)
        #expect(b.state == .open, "5 of the last 10")
    }

    @Test func timeWindowForgetsOldCalls() {
        let cfg = BreakerConfig(
            window: .time(seconds: 100), minimumCalls: 4, failureRateThreshold: 0.5,
            waitInOpenSeconds: 60, permittedCallsInHalfOpen: 1)
        var b = CircuitBreaker()
        for _ in 0..<3 { b.record(failure: true, cfg, at: t0) }
        #expect(b.windowCounts(cfg, at: t0.adding(seconds: 50)) == (3, 3))
        #expect(b.windowCounts(cfg, at: t0.adding(seconds: 120)) == (0, 0))
        b.record(failure: true, cfg, at: t0.adding(seconds: 120))
        #expect(b.state == .closed, "the old failures left the window")
    }

    @Test func survivesSerialization() throws {
        var b = CircuitBreaker()
        for _ in 0..<4 { b.record(failure: true, config, at: t0) }
        let data = try JSONEncoder().encode(b)
        var restored = try JSONDecoder().decode(CircuitBreaker.self, from: data)
        #expect(restored == b && restored.state == .open)
        let permission = restored.permission(config, at: t0.adding(seconds: 10))
        #expect(permission == .rejected(.breakerOpen))
    }

    @Test func configValidation() {
        #expect(config.isValid && BreakerConfig.standard.isValid)
        var bad = config
        bad.minimumCalls = 11
        #expect(!bad.isValid)
        bad = config
        bad.window = .count(BreakerConfig.countWindowMax + 1)
        #expect(!bad.isValid)
    }
}

import Foundation

/// Persisted state read back from disk: corrupt files are decoding errors, never traps.
@Suite struct RestoredStateTests {
    @Test func corruptBreakerStateIsRefused() throws {
        var b = CircuitBreaker()
        for _ in 0..<3 { b.record(failure: false, .standard, at: t0) }
        let good = try JSONEncoder().encode(b)
        #expect(try JSONDecoder().decode(CircuitBreaker.self, from: good) == b)
        var object = try JSONSerialization.jsonObject(with: good) as! [String: Any]
        object["ringNext"] = 99
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CircuitBreaker.self, from: JSONSerialization.data(withJSONObject: object))
        }
        object["ringNext"] = 1
        object["state"] = "open"  // open without openedAt
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CircuitBreaker.self, from: JSONSerialization.data(withJSONObject: object))
        }
    }

    @Test func aShrunkenWindowAfterRestartDoesNotTrap() {
        var b = CircuitBreaker()
        let wide = BreakerConfig(
            window: .count(20), minimumCalls: 5, failureRateThreshold: 0.5, waitInOpenSeconds: 60,
            permittedCallsInHalfOpen: 1)
        for _ in 0..<20 { b.record(failure: false, wide, at: t0) }
        let narrow = BreakerConfig(
            window: .count(4), minimumCalls: 2, failureRateThreshold: 0.5, waitInOpenSeconds: 60,
            permittedCallsInHalfOpen: 1)
        for _ in 0..<3 { b.record(failure: true, narrow, at: t0) }
        #expect(b.state == .open && b.windowCounts(narrow, at: t0).calls <= 4)
    }

    /// A snapshot from before quarantine and learned delivery loads; a learned delivery of
    /// the wrong size is an error, not an index trap later.
    @Test func olderCampaignStateLoadsAndCorruptLearnedDeliveryIsRefused() throws {
        var control = CampaignControl()
        control.quarantinedSince = t0
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(control)) as! [String: Any]
        #expect(object["learned"] != nil && object["quarantined_since"] == nil && object["quarantinedSince"] != nil)
        object["learned"] = nil
        object["quarantinedSince"] = nil
        let old = try JSONDecoder().decode(CampaignControl.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.quarantinedSince == nil && old.learned == LearnedDelivery())
        object["learned"] = ["rates": [0.1, 0.2, 0.3], "days": [1, 1, 1]]
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CampaignControl.self, from: JSONSerialization.data(withJSONObject: object))
        }
    }

    @Test func corruptAnomalyAndControlStateAreRefused() throws {
        // A warmed-up detector round-trips exactly (missing hours included).
        var warmed = AnomalyState()
        for h in Int64(0)..<60 {
            warmed = AnomalyDetector.ingest(
                HourlyMetrics(
                    hour: 500_000 + h * (h % 7 == 3 ? 2 : 1), spendMicros: Micros(20_000_000), impressions: 1_000,
                    clicks: 20, conversions: 1, conversionValueMicros: Micros(50_000_000)), budget: Micros(480_000_000),
                config: .standard, state: warmed)
        }
        let decoded = try JSONDecoder().decode(AnomalyState.self, from: JSONEncoder().encode(warmed))
        #expect(decoded.history.elementsEqual(warmed.history) { $0 == $1 || ($0.isNaN && $1.isNaN) })
        #expect(decoded.lastHour == warmed.lastHour && decoded.assessment == warmed.assessment)
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(AnomalyState())) as! [String: Any]
        object["history"] = [1.0, 2.0]
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AnomalyState.self, from: JSONSerialization.data(withJSONObject: object))
        }
        // A last hour past any real clock would overflow the hour arithmetic of the next tick.
        var far = try JSONSerialization.jsonObject(with: JSONEncoder().encode(warmed)) as! [String: Any]
        far["lastHour"] = Int64.max / 2
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AnomalyState.self, from: JSONSerialization.data(withJSONObject: far))
        }
        let live = #"{"mode":"live","modeSince":0,"overrides":[]}"#  // live with an empty live slot
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ControlState.self, from: Data(live.utf8)) }
        let ok = ControlState(mode: .canary, live: pA, candidate: pB, modeSince: t0)
        #expect(try JSONDecoder().decode(ControlState.self, from: JSONEncoder().encode(ok)) == ok)
    }
}
