import AdPilotCore
import AdPilotJournal
import AdPilotService
import AdPilotControl
import AdPilotPlatforms
import AdPilotTestSupport
import Foundation
import Testing

/// One campaign's anomaly holds that campaign alone (docs/state-machine.md, quarantine of
/// one campaign), end to end: a real daemon on the simulator with a fault injected on one
/// campaign, `status`, the journal and `adpilotctl release`.
@Suite(.serialized) struct QuarantineTests {
    @Test func aFaultyCampaignIsQuarantinedAloneAndReleasedThroughTheCLI() throws {
        let faulty = "sim-00003"
        // Ten simulated hours a real second; delivery judged after one day of baseline.
        let d = try DaemonUnderTest("quarantine", speed: 36_000) { c in
            var anomaly = c["anomaly"] as! [String: Any]
            anomaly["baseline_days_min"] = 1
            c["anomaly"] = anomaly
        }
        try d.start(env: ["ADPILOT_TEST_FAULTS": "spend_spike=\(faulty),faults_after_hours=30"])
        try #require(d.waitUntilServing() != nil, "\(d.stderr.suffix(1_000))")

        var quarantined: StatusReport? = nil
        #expect(
            WorkflowTests.wait(60) {
                quarantined = d.status()
                return quarantined?.quarantined.isEmpty == false
            }, "never quarantined: \(d.stderr.suffix(1_000))")
        let s = try #require(quarantined)
        #expect(s.quarantined.map(\.campaign.rawValue) == [faulty], "\(s.quarantined)")
        #expect(s.mode != .halted && !s.haltInForce, "one campaign must not halt the account")
        #expect(s.quarantined[0].checks.contains("delivery.spend"), "\(s.quarantined)")
        let row = try #require(s.campaigns.first { $0.id.rawValue == faulty })
        #expect(row.control.hasPrefix("quarantined: "), "\(row.control)")
        let human = try d.ctl(["status"])
        #expect(human.out.contains("quarantined  \(faulty) since"), "\(human.out)")

        // The others go on writing; the quarantined one writes nothing while held.
        let since = s.quarantined[0].since
        #expect(
            WorkflowTests.wait(30) {
                let w = (try? d.platformWrites()) ?? []
                return w.contains { $0.at > since && $0.campaign.rawValue != faulty }
            }, "the rest of the account stopped")

        // Refusals first: no reason, a campaign that is not quarantined.
        let noReason = try d.ctl(["release", faulty])
        #expect(noReason.status == 2 && noReason.err.contains("--reason"), "\(noReason)")
        let healthy = try d.ctl(["release", "sim-00001", "--reason", "typo"])
        #expect(healthy.status == 3 && healthy.err.contains("not quarantined"), "\(healthy)")

        let beforeRelease = try #require(d.status()).now
        let released = try d.ctl(["release", faulty, "--reason", "checked the platform's invoice"])
        #expect(released.status == 0 && released.out.contains("released \(faulty)"), "\(released)")
        #expect(d.status()?.quarantined.contains { $0.campaign.rawValue == faulty } == false)
        let heldWrites = try d.platformWrites().filter {
            $0.campaign.rawValue == faulty && $0.at > since && $0.at < beforeRelease
        }
        #expect(heldWrites.isEmpty, "a quarantined campaign was written: \(heldWrites.map(\.at))")

        // The fault persists: the detector quarantines it again.
        #expect(
            WorkflowTests.wait(60) { d.status()?.quarantined.contains { $0.campaign.rawValue == faulty } == true },
            "a persisting fault was not quarantined again")
        let records = try d.records(kinds: [RecordKind.quarantine]).map { d.data($0) }
        let actions = records.map { r in
            "\(r["action"] ?? "")/\((r["actor_name"] as? String)?.contains("(uid ") == true ? "operator" : "system")"
        }
        #expect(Array(actions.prefix(3)) == ["enter/system", "release/operator", "enter/system"], "\(actions)")
        #expect(records.allSatisfy { ($0["campaign"] as? String) == faulty }, "\(records)")
        #expect(
            (records.first?["findings"] as? [[String: Any]])?.contains { $0["check"] as? String == "delivery.spend" }
                == true, "\(records.first ?? [:])")
        #expect(try d.records(kinds: [RecordKind.halt]).isEmpty, "the account halted")
        #expect(d.stop() == 0)
    }
}
