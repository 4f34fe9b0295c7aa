import Testing
@testable import AdPilotCore

/// Observation building, per-unit scaling and the canary scope: the pure half of step 1.
@Suite struct ObservingTests {
    /// Fixture.noon (12:00 UTC), as an hour index.
    let noonHour = Fixture.noon.microsSinceEpoch / (3_600 * Instant.microsPerSecond)

    func hour(_ offset: Int64, spend: String, conversions: Double = 0, value: String = "0") -> HourlyMetrics {
        HourlyMetrics(hour: noonHour + offset, spendMicros: usd(spend), impressions: 1_000, clicks: 50,
                      conversions: conversions, conversionValueMicros: usd(value))
    }

    @Test func spendTodayStartsAtLocalMidnightAndTheStreakCountsHoursWithSpend() {
        // Hours -14 (yesterday 22:00 UTC) to -1 (11:00); at UTC+3 local midnight is 21:00 UTC yesterday.
        let hours = [
            hour(-14, spend: "5", conversions: 1, value: "20"), hour(-3, spend: "10", conversions: 2, value: "40"),
            hour(-2, spend: "0"), hour(-1, spend: "7"),
        ]
        let now = Fixture.noon
        let utc = Observing.observation(campaign: CampaignID("c1"), currency: .usd, budgetMicros: usd("100"),
                                        hours: hours, freshThrough: now.adding(seconds: -600), now: now,
                                        utcOffsetSeconds: 0)
        #expect(utc.spendTodayMicros == usd("17"))
        #expect(utc.trailing == TrailingStats(spendMicros: usd("22"), conversions: 3, conversionValueMicros: usd("60")))
        #expect(utc.hoursWithoutConversion == 1, "the hour without spend does not count")
        #expect(utc.dataAgeSeconds == 600)
        let east = Observing.observation(campaign: CampaignID("c1"), currency: .usd, budgetMicros: usd("100"),
                                         hours: hours, freshThrough: now, now: now, utcOffsetSeconds: 3 * 3_600)
        #expect(east.spendTodayMicros == usd("22"), "22:00 UTC yesterday is 01:00 today at UTC+3")
    }

    /// Issue 15, item 2: the platforms report the hour in progress. Early in the hour it has
    /// spend and no conversions yet; read as a completed hour it looks like a collapse. It
    /// counts toward spend today and nothing else.
    @Test func theHourInProgressCountsOnlyTowardSpendToday() {
        let now = Fixture.noon.adding(seconds: 600)  // 12:10: hour 0 (12:00) is in progress
        let hours = [hour(-2, spend: "10", conversions: 2, value: "40"), hour(-1, spend: "8", conversions: 1),
                     hour(0, spend: "3")]
        let o = Observing.observation(campaign: CampaignID("c1"), currency: .usd, budgetMicros: usd("100"),
                                      hours: hours, freshThrough: now, now: now, utcOffsetSeconds: 0)
        #expect(o.spendTodayMicros == usd("21"))
        #expect(o.trailing == TrailingStats(spendMicros: usd("18"), conversions: 3, conversionValueMicros: usd("40")))
        #expect(o.hoursWithoutConversion == 0, "the partial hour without a conversion yet does not start a streak")
        #expect(Observing.completed(hours, at: now).map(\.hour) == [noonHour - 2, noonHour - 1])
        #expect(Observing.completed(hours, at: Fixture.noon.adding(seconds: 3_600)).count == 3, "at 13:00 it is done")
    }

    @Test func dataFromTheFutureIsNotNegativeAge() {
        let o = Observing.observation(campaign: CampaignID("c1"), currency: .usd, budgetMicros: usd("1"), hours: [],
                                      freshThrough: Fixture.noon.adding(seconds: 60), now: Fixture.noon,
                                      utcOffsetSeconds: 0)
        #expect(o.dataAgeSeconds == 0 && o.spendTodayMicros == .zero)
    }

    @Test func cohortHoursCountOnceTheyHaveSettled() {
        let hours = (-6 ... -1).map { hour(Int64($0), spend: "1", value: "3") }
        #expect(Observing.settled(hours, lastIngested: nil) == (0, 0, 0))
        // Last ingested -4: hours -5 ... -3 (newest -1 less 2) are settled and not yet counted.
        let s = Observing.settled(hours, lastIngested: noonHour - 4)
        #expect(s.hours == 3 && s.spendMicros == usd("3").rawValue && s.valueMicros == usd("9").rawValue)
    }

    /// Raw hours, never scaled: the detector judges each against the budget in force.
    @Test func newHoursAreTheUnseenHoursAsReported() {
        let hours = [hour(-2, spend: "10", conversions: 1, value: "30"), hour(-1, spend: "20")]
        let fresh = Observing.newHours(hours, lastIngested: noonHour - 2)
        #expect(fresh == [hours[1]])
        #expect(Observing.newHours(hours, lastIngested: nil) == hours)
    }

    func candidates() -> [CanaryScope.Candidate] {
        [("a", "100", "3"), ("b", "200", "1"), ("c", "300", "2"), ("d", "400", "0")].map {
            CanaryScope.Candidate(id: CampaignID($0.0), dailyTargetMicros: usd($0.1), orderKey: $0.2)
        }
    }

    @Test func aBudgetFractionTakesCampaignsInKeyOrderUntilTheFraction() {
        // 30% of 1,000 = 300: d (400) does not fit, and the walk stops there.
        #expect(CanaryScope.select(candidates(), setting: .budgetFraction(0.3), maxSpendAtRiskMicros: usd("10000"))
            == [])
        // 70% = 700: d (400), then b (200); c (300) would pass 700.
        #expect(CanaryScope.select(candidates(), setting: .budgetFraction(0.7), maxSpendAtRiskMicros: usd("10000"))
            == [CampaignID("d"), CampaignID("b")])
        #expect(CanaryScope.select(candidates(), setting: .budgetFraction(0.7), maxSpendAtRiskMicros: usd("500"))
            == [CampaignID("d")], "capped by the spend at risk")
    }

    @Test func listedCampaignsAreCappedBySpendAtRisk() {
        let setting = CanaryScopeSetting.campaigns([CampaignID("a"), CampaignID("c"), CampaignID("zz")])
        #expect(CanaryScope.select(candidates(), setting: setting, maxSpendAtRiskMicros: usd("1000"))
            == [CampaignID("a"), CampaignID("c")])
        #expect(CanaryScope.select(candidates(), setting: setting, maxSpendAtRiskMicros: usd("350"))
            == [CampaignID("a")])
    }
}
