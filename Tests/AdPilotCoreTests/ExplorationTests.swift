import Foundation
import Testing
@testable import AdPilotCore

/// Exploration (docs/evaluation.md): once an hour, replayable, normal in the log of the
/// proposal, with the density it records.
@Suite struct ExplorationTests {
    static let config = ExplorationConfig(scale: 0.05, seed: 7)
    static let hourStart = Instant(rfc3339: "2026-06-01T10:00:00Z")!

    @Test func exploresOnceAnHourAndRecordsHow() throws {
        let id = CampaignID("c1")
        let (taken, e) = Exploration.explore(
            .micros(200_000_000), Self.config, campaign: id, slot: Self.hourStart, tickSeconds: 300)
        let how = try #require(e)
        guard case .budget(let v) = taken else { Issue.record("\(taken)"); return }
        #expect(abs(v.value - 200_000_000 * exp(how.shift)) < 1e-6)
        #expect(how.unexploredMicros == 200_000_000 && how.scale == 0.05)
        let z = how.shift / 0.05
        #expect(abs(how.density - exp(-0.5 * z * z) / (sqrt(2 * Double.pi) * 0.05)) < 1e-12)
        // The same decision draws the same; the next tick of the hour does not explore.
        #expect(Exploration.explore(.micros(200_000_000), Self.config, campaign: id, slot: Self.hourStart,
                                    tickSeconds: 300).1 == how)
        let later = Self.hourStart.adding(seconds: 300)
        #expect(Exploration.explore(.micros(200_000_000), Self.config, campaign: id, slot: later,
                                    tickSeconds: 300).1 == nil)
        // Off, or nothing usable to explore: the proposal is untouched.
        #expect(Exploration.explore(.micros(200_000_000), .off, campaign: id, slot: Self.hourStart,
                                    tickSeconds: 300).1 == nil)
        #expect(Exploration.explore(.failed("no"), Self.config, campaign: id, slot: Self.hourStart,
                                    tickSeconds: 300).1 == nil)
        #expect(Exploration.explore(.micros(.nan), Self.config, campaign: id, slot: Self.hourStart,
                                    tickSeconds: 300).1 == nil)
    }

    /// Over many campaigns and hours the shifts have the configured spread under either law:
    /// the normal's tails, the uniform's bounds and flat density.
    @Test(arguments: ExplorationConfig.Distribution.allCases)
    func shiftsHaveTheConfiguredLaw(_ law: ExplorationConfig.Distribution) throws {
        let config = ExplorationConfig(scale: 0.1, seed: 7, distribution: law)
        var shifts: [Double] = []
        for c in 0..<200 {
            for h in 0..<50 {
                let (_, e) = Exploration.explore(
                    .micros(1_000_000), config, campaign: CampaignID("c\(c)"),
                    slot: Self.hourStart.adding(seconds: Int64(h) * 3_600), tickSeconds: 300)
                let how = try #require(e)
                shifts.append(how.shift)
                if law == .loguniform { #expect(abs(how.density - 1 / (2 * 3.0.squareRoot() * 0.1)) < 1e-12) }
            }
        }
        let n = Double(shifts.count)
        let mean = shifts.reduce(0, +) / n
        let sd = (shifts.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n).squareRoot()
        let beyond2 = Double(shifts.filter { abs($0) > 0.2 }.count) / n
        let widest = shifts.map(abs).max()!
        #expect(abs(mean) < 0.003 && abs(sd - 0.1) < 0.003, "\(law): mean \(mean), sd \(sd)")
        switch law {
        case .lognormal:
            #expect(abs(beyond2 - 0.0455) < 0.008, "share beyond 2 sd: \(beyond2)")
        case .loguniform:
            // Uniform on [-sqrt(3) s, sqrt(3) s]: reaching the bound, never past it, so never past 2 s.
            #expect(widest <= 3.0.squareRoot() * 0.1 && widest > 0.99 * 3.0.squareRoot() * 0.1, "\(widest)")
            #expect(beyond2 == 0)
        }
    }
}
