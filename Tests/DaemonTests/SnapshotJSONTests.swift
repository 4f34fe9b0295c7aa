import AdPilotCore
import AdPilotJournal
import Foundation
import Testing

@testable import AdPilotService

/// The snapshots are written straight as JSON (`StateJSON.swift`, `SnapshotJob`), not through
/// the generic encoder; start-up reads them with `JSONDecoder` through the same `Codable`
/// conformances. These tests hold the direct writers to the bytes the generic snapshot
/// encoder writes for the same values, on states the real code produced from seeded
/// random inputs.
@Suite struct SnapshotJSONTests {
    static let seed: UInt64 = 0x5_A9_5_07

    static func generic<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try RecordEncoder(forRecords: false).encode(value), as: UTF8.self)
    }

    static func direct(_ write: (inout JSONOut) throws -> Void) rethrows -> String {
        var out = JSONOut(capacity: 16)
        try write(&out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// A pacer state as the pacer leaves it: either loop engaged or not, with or without a
    /// last measurement, day and step.
    static func pacer(_ rng: inout SplitMix64) -> PacerState {
        var p = PacerState()
        p.pace = PIDState(integral: (rng.unit() - 0.5) * 1e4, lastMeasurement: rng.next() % 3 == 0 ? nil : rng.unit())
        p.efficiency = PIDState(integral: rng.unit() * 1e-9, lastMeasurement: rng.next() % 2 == 0 ? nil : -rng.unit())
        p.engaged = rng.next() % 2 == 0
        p.day = rng.next() % 4 == 0 ? nil : Int64(rng.next() % 30_000)
        p.lastStepAt = rng.next() % 4 == 0 ? nil : Instant(secondsSinceEpoch: Int64(rng.next() % 2_000_000_000))
        return p
    }

    /// A breaker driven through calls that fail at random, over a count or a time window:
    /// closed, open and half-open states all occur.
    static func breaker(_ rng: inout SplitMix64) -> CircuitBreaker {
        let config = BreakerConfig(
            window: rng.next() % 2 == 0 ? .count(Int(1 + rng.next() % 30)) : .time(seconds: 600),
            minimumCalls: 1, failureRateThreshold: 0.5, waitInOpenSeconds: 60, permittedCallsInHalfOpen: 2)
        var b = CircuitBreaker()
        var now = Instant(secondsSinceEpoch: 1_780_000_000)
        let failing = rng.unit()
        for _ in 0..<Int(rng.next() % 60) {
            now = now.adding(seconds: Int64(rng.next() % 90))
            if b.acquire(config, at: now) { b.record(failure: rng.unit() < failing, config, at: now) }
        }
        return b
    }

    /// A detector fed up to ten days of noisy hours, some impossible and some spiking, so
    /// that findings with and without baselines and scores occur.
    static func anomaly(_ rng: inout SplitMix64) -> AnomalyState {
        var s = AnomalyState()
        var hour: Int64 = 494_000
        for _ in 0..<Int(rng.next() % 240) {
            hour += rng.next() % 10 == 0 ? Int64(2 + rng.next() % 5) : 1
            let spike = rng.next() % 15 == 0 ? 20.0 : 1.0
            let impressions = Int64(rng.next() % 5_000)
            let m = HourlyMetrics(
                hour: hour, spendMicros: Micros(Int64(rng.unit() * 5e6 * spike) - (rng.next() % 40 == 0 ? 9 : 0)),
                impressions: impressions, clicks: Int64(rng.next() % UInt64(max(impressions / 20, 1))),
                conversions: rng.next() % 3 == 0 ? 0 : rng.unit() * 3, conversionValueMicros: Micros(1_000_000))
            AnomalyDetector.ingest(m, budget: Micros(100_000_000), config: .standard, into: &s)
        }
        return s
    }

    @Test func stateWritersWriteWhatTheGenericEncoderWrites() throws {
        var rng = SplitMix64(seed: Self.seed)
        var (halfOpen, open, withFindings) = (0, 0, 0)
        for trial in 0..<300 {
            let p = Self.pacer(&rng), b = Self.breaker(&rng), a = Self.anomaly(&rng)
            let context = "seed \(Self.seed) trial \(trial)"
            #expect(try Self.direct { try p.writeStateJSON(&$0) } == Self.generic(p), "\(context)")
            #expect(Self.direct { b.writeStateJSON(&$0) } == (try Self.generic(b)), "\(context)")
            #expect(try Self.direct { try a.writeStateJSON(&$0) } == Self.generic(a), "\(context)")
            halfOpen += b.state == .halfOpen ? 1 : 0
            open += b.state == .open ? 1 : 0
            withFindings += a.assessment.findings.contains { $0.baseline != nil && $0.score != nil } ? 1 : 0
        }
        // The inputs reached the states worth checking.
        #expect(halfOpen > 5 && open > 5 && withFindings > 5, "seed \(Self.seed): \(halfOpen) \(open) \(withFindings)")
    }

    static func memory(_ rng: inout SplitMix64, count: Int) -> [(key: CampaignID, value: CampaignMemory)] {
        (0..<count).map { i in
            var m = CampaignMemory()
            m.control.pacer = Self.pacer(&rng)
            m.control.shadowPacer = Self.pacer(&rng)
            m.control.lastChangeAt = rng.next() % 2 == 0 ? nil : Instant(secondsSinceEpoch: 1_780_000_000 + Int64(i))
            m.control.breaker = Self.breaker(&rng)
            m.control.anomaly = Self.anomaly(&rng)
            m.lastIngestedHour = m.control.anomaly.lastHour
            return (CampaignID("c-\(i) \"q\""), m)
        }
    }

    static func snapshot(_ rng: inout SplitMix64, evidence: Bool) -> Controller.Snapshot {
        let t0 = Instant(secondsSinceEpoch: 1_780_000_000)
        let p = PolicyID("qlearn@1")!
        return Controller.Snapshot(
            format: Controller.Snapshot.format, journalSeq: rng.next() % 1_000_000, tickCount: rng.next() % 1_000,
            control: ControlState(mode: .canary, live: PolicyID("pace@1")!, candidate: p, modeSince: t0),
            platformBreaker: Self.breaker(&rng),
            evidence: evidence ? Evidence(mode: .canary, candidate: p, since: t0) : nil, campaigns: [:])
    }

    /// One campaign (so the generic encoder's dictionary order is not in question): both
    /// files are byte for byte what the generic encoder writes. Many campaigns: the files
    /// read back, through the decoder start-up uses, as the same states, in order of id.
    @Test func snapshotFilesReadBackAsTheStateTheyWrote() throws {
        var rng = SplitMix64(seed: Self.seed ^ 1)
        for evidence in [false, true] {
            let one = Self.memory(&rng, count: 1)
            var s = Self.snapshot(&rng, evidence: evidence)
            let core = String(decoding: try SnapshotJob.coreJSON(s, one).bytes, as: UTF8.self)
            let anomaly = String(decoding: try SnapshotJob.anomalyJSON(journalSeq: 7, one).bytes, as: UTF8.self)
            let c = one[0].value.control
            s.campaigns = [
                one[0].key.rawValue: Controller.CampaignCore(
                    pacer: c.pacer, shadowPacer: c.shadowPacer, lastChangeAt: c.lastChangeAt, breaker: c.breaker)
            ]
            #expect(core == (try Self.generic(s)), "seed \(Self.seed ^ 1)")
            let memory = Controller.AnomalySnapshot(
                journalSeq: 7,
                campaigns: [
                    one[0].key.rawValue: Controller.AnomalyMemory(
                        anomaly: c.anomaly, lastIngestedHour: one[0].value.lastIngestedHour)
                ])
            #expect(anomaly == (try Self.generic(memory)), "seed \(Self.seed ^ 1)")
        }
        let many = Self.memory(&rng, count: 40).shuffled(using: &rng)
        let s = Self.snapshot(&rng, evidence: true)
        let core = try SnapshotJob.coreJSON(s, many).bytes
        let read = try JSONDecoder().decode(Controller.Snapshot.self, from: Data(core))
        let anomaly = try JSONDecoder().decode(
            Controller.AnomalySnapshot.self, from: Data(try SnapshotJob.anomalyJSON(journalSeq: 9, many).bytes))
        #expect(read.journalSeq == s.journalSeq && read.control == s.control && read.evidence == s.evidence)
        #expect(read.campaigns.count == 40 && anomaly.campaigns.count == 40 && anomaly.journalSeq == 9)
        for (id, m) in many {
            let c = try #require(read.campaigns[id.rawValue]), a = try #require(anomaly.campaigns[id.rawValue])
            #expect(c.pacer == m.control.pacer && c.shadowPacer == m.control.shadowPacer, "\(id)")
            #expect(c.lastChangeAt == m.control.lastChangeAt && c.breaker == m.control.breaker, "\(id)")
            // (Missing hours are NaN, which no == holds equal: compared as written.)
            #expect(try Self.generic(a.anomaly) == Self.generic(m.control.anomaly), "\(id)")
            #expect(a.lastIngestedHour == m.lastIngestedHour, "\(id)")
        }
    }

    /// A state JSON cannot hold is refused with its campaign and key named, as the generic
    /// encoder refuses it.
    @Test func aNonFiniteNumberIsAnErrorNamingItsCampaignAndKey() throws {
        var rng = SplitMix64(seed: Self.seed ^ 2)
        var memory = Self.memory(&rng, count: 3)
        memory[1].value.control.shadowPacer.pace.integral = .infinity
        #expect(throws: (any Error).self) { try Self.generic(memory[1].value.control.shadowPacer) }
        do {
            _ = try SnapshotJob.coreJSON(Self.snapshot(&rng, evidence: false), memory)
            Issue.record("an infinite integral was written")
        } catch let e as CampaignStateError {
            #expect(e.campaign == memory[1].key && e.problem.key == "integral" && e.problem.value == .infinity)
            #expect("\(e)".contains(memory[1].key.rawValue) && "\(e)".contains("integral"), "\(e)")
        }
    }
}
